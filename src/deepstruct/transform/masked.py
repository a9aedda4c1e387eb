"""Exact extraction from our own masked models, read from the masks through the phenotypes' mask readers
(:mod:`deepstruct.sparse.connections`; vectorised; no forward pass).

Nothing of the model is changed: masks and weights are only read (``.detach().cpu().numpy()`` views).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from deepstruct.sparse import MaskedDeepDAN, MaskedDeepFFN, MaskedLinearLayer
from deepstruct.sparse.connections import MatrixConnections, weight_pattern
from deepstruct.transform.compact import CompactGraph, VertexBlock

__all__ = ["extract_masked_dan", "extract_masked_ffn", "connection_pattern", "weight_pattern"]


def connection_pattern(layer: MaskedLinearLayer | torch.nn.Linear, threshold: float | None = None) -> np.ndarray:
    """Boolean ``(out, in)`` array of a layer's connections (:func:`weight_pattern` of its weight and mask)."""
    return weight_pattern(layer.weight, getattr(layer, "mask", None), threshold)


def _fill(connections: Sequence[MatrixConnections], num_vertices: int, with_weights: bool) -> tuple[
        np.ndarray, np.ndarray, np.ndarray | None]:
    """The edge arrays of a phenotype's connections, filled matrix by matrix into preallocated arrays (peak
    memory: the result plus one matrix's temporaries)."""
    total = sum(c.count for c in connections)
    dtype = np.int32 if num_vertices < np.iinfo(np.int32).max else np.int64
    sources, targets = np.empty(total, dtype=dtype), np.empty(total, dtype=dtype)
    weights = np.empty(total, dtype=np.float32) if with_weights else None
    k = 0
    for c in connections:
        rows, cols = c.entries()
        part = slice(k, k + rows.shape[0])
        c.sources(cols, out=sources[part])
        c.targets(rows, out=targets[part])
        if weights is not None:
            weights[part] = c.weights(rows, cols)
        k += rows.shape[0]
    return sources, targets, weights


def extract_masked_ffn(model: MaskedDeepFFN, *, include_weights: bool = False,
                       threshold: float | None = None) -> CompactGraph:
    """The neuron graph of a :class:`~deepstruct.sparse.MaskedDeepFFN`.

    Vertices: ``("input", i)``, ``("layers.l", j)`` for hidden layer ``l`` and ``("output", j)``; ``layer``
    attributes ``0``, ``l + 1`` and ``len(hidden) + 1``.
    """
    layers = [*model.layers, model.output]
    blocks = [VertexBlock("input", "input", 0, 0, model.size_input, (model.size_input,))]
    for t, layer in enumerate(layers):
        name = "output" if layer is model.output else f"layers.{t}"
        kind = "output" if layer is model.output else "neuron"
        blocks.append(VertexBlock(name, kind, t + 1, blocks[-1].start + blocks[-1].count, layer.out_features,
                                  (layer.out_features,)))
    edges = _fill(model.connections(threshold), blocks[-1].start + blocks[-1].count, include_weights)
    return CompactGraph(edges[0], edges[1], blocks, edges[2])


def extract_masked_dan(model: MaskedDeepDAN, *, include_weights: bool = False,
                       threshold: float | None = None) -> CompactGraph:
    """The neuron graph of a :class:`~deepstruct.sparse.MaskedDeepDAN`: the structure's own vertex ids, plus
    ``("input", i)`` for the model inputs and ``("output", j)`` for the output neurons.

    Edges: input -> layer-0 vertices (the first layer's mask), the structure's edges that are still set,
    and sink -> output (the output layer's mask). ``layer`` attributes: inputs 0, a vertex of the model's
    layer ``t`` gets ``t + 1``, outputs ``num_layers + 1``.
    """
    blocks = [VertexBlock("input", "input", 0, 0, model.size_input, (model.size_input,),
                          [("input", i) for i in range(model.size_input)])]
    for t, vertices in enumerate(model.layer_vertices):
        blocks.append(VertexBlock(f"layers.{t}", "neuron", t + 1, blocks[-1].start + blocks[-1].count,
                                  len(vertices), (len(vertices),), list(vertices)))
    out_labels = [("output", j) for j in range(model.size_output)]
    clash = [v for v in [*blocks[0].labels, *out_labels] if model.structure.has_node(v)]  # type: ignore[misc]
    if clash:
        raise ValueError(f"structure vertex ids {clash[:3]} clash with the input/output vertex ids "
                         "('input', i) and ('output', j); rename those vertices")
    blocks.append(VertexBlock("output", "output", model.num_layers + 1, blocks[-1].start + blocks[-1].count,
                              model.size_output, (model.size_output,), out_labels))

    # the model's connections number units as the blocks do (matrix_inputs)
    edges = _fill(model.connections(threshold), blocks[-1].start + blocks[-1].count, include_weights)
    return CompactGraph(edges[0], edges[1], blocks, edges[2])
