"""Structures read back from the masks of ``MaskedDeepFFN`` and ``MaskedDeepDAN`` (``generate_structure``).

Vertex ids follow :class:`~deepstruct.transform.GraphTransform`: the model inputs are ``("input", i)`` and the
outputs ``("output", j)`` (vertex attribute ``kind`` ``"input"``/``"output"``, which ``MaskedDeepDAN`` leaves
out when it is built from such a structure); a ``MaskedDeepDAN``'s neurons keep its structure's ids and a
``MaskedDeepFFN``'s hidden neuron ``j`` of layer ``l`` is ``("layers.l", j)``.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from deepstruct.graph import CachedLayeredGraph

# The models are read through their attributes only: importing their classes here would make dan and ffn,
# which call these functions, import each other through this module.
MaskedDeepDAN = MaskedDeepFFN = MaskedLinearLayer = Any

__all__ = ["ffn_structure", "dan_structure"]


def _add_edges(graph: CachedLayeredGraph, sources: Sequence[Hashable], targets: Sequence[Hashable],
               weights: np.ndarray | None) -> None:
    if weights is None:
        graph.add_edges_from(zip(sources, targets, strict=True))
    else:
        graph.add_weighted_edges_from(zip(sources, targets, weights.tolist(), strict=True))


def _layer_edges(graph: CachedLayeredGraph, layer: MaskedLinearLayer, inputs: list[Hashable],
                 outputs: list[Hashable], include_weights: bool) -> None:
    rows, cols = np.nonzero(layer.mask.detach().cpu().numpy())
    weights = layer.weight.detach().cpu().numpy()[rows, cols] if include_weights else None
    _add_edges(graph, [inputs[c] for c in cols.tolist()], [outputs[r] for r in rows.tolist()], weights)


def ffn_structure(model: MaskedDeepFFN, *, include_input: bool = False, include_output: bool = False,
                  include_weights: bool = False) -> CachedLayeredGraph:
    """The neuron graph of a ``MaskedDeepFFN``'s hidden layers (and its inputs and outputs if asked).

    Examples
    --------
    >>> from deepstruct.sparse import MaskedDeepFFN
    >>> graph = ffn_structure(MaskedDeepFFN(4, 2, [3, 5]))
    >>> graph.num_layers, graph.get_layer_size(1), graph.number_of_edges()
    (2, 5, 15)
    """
    graph = CachedLayeredGraph()
    names = [[("layers." + str(t), j) for j in range(layer.out_features)] for t, layer in enumerate(model.layers)]
    for vertices in names:
        graph.add_nodes_from(vertices)
    if include_input:
        inputs = [("input", i) for i in range(model.size_input)]
        graph.add_nodes_from(inputs, kind="input")
        _layer_edges(graph, model.layers[0], inputs, names[0], include_weights)
    for t in range(1, len(names)):
        _layer_edges(graph, model.layers[t], names[t - 1], names[t], include_weights)
    if include_output:
        outputs = [("output", j) for j in range(model.size_output)]
        graph.add_nodes_from(outputs, kind="output")
        _layer_edges(graph, model.output, names[-1], outputs, include_weights)
    return graph


def dan_structure(model: MaskedDeepDAN, *, include_input: bool = False, include_output: bool = False,
                  include_weights: bool = False) -> CachedLayeredGraph:
    """A ``MaskedDeepDAN``'s structure from its masks, with the structure's vertex ids (and the model inputs
    and outputs, with their set connections, if asked)."""
    graph = CachedLayeredGraph()
    graph.add_nodes_from(v for vs in model.layer_vertices for v in vs)
    sources, targets, weights = model.edge_arrays()
    _add_edges(graph, sources.tolist(), targets.tolist(), weights if include_weights else None)
    if not (include_input or include_output):
        return graph
    interface = model.interface_arrays()
    if include_input:
        graph.add_nodes_from((("input", i) for i in range(model.size_input)), kind="input")
        inputs, vertices, w = interface["input"]
        _add_edges(graph, [("input", i) for i in inputs.tolist()], vertices.tolist(), w if include_weights else None)
    if include_output:
        graph.add_nodes_from((("output", j) for j in range(model.size_output)), kind="output")
        vertices, outputs, w = interface["output"]
        _add_edges(graph, vertices.tolist(), [("output", j) for j in outputs.tolist()], w if include_weights else None)
    if include_input and include_output:
        inputs, outputs, w = interface["direct"]
        _add_edges(graph, [("input", i) for i in inputs.tolist()], [("output", j) for j in outputs.tolist()],
                   w if include_weights else None)
    return graph
