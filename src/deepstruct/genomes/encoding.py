"""Encode (trained, pruned) phenotypes back into genomes: every masked matrix, interface included.

:func:`encode` reads the model's masks: the hidden edges, the input edges (the first layer's and any later
layer's input columns), the output edges and the input-to-output edges (the output matrix), and with
``include_weights`` every weight and bias. A vertex is kept only if it lies on a path from an input to an
output *in the masks*; the others are removed. A removed vertex that no input reaches computes a constant
(``σ`` of its bias and of its constant predecessors); with ``include_weights`` its contribution is folded
into the biases of the vertices and outputs it feeds, so the encoded genome decodes to a network with the
same outputs as the model (up to float32 rounding; not with layer normalisation, which mixes a layer's
vertices).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from deepstruct.genomes.genome import Genome, GenomeError
from deepstruct.sparse import DeepCellDAN, MaskedDeepDAN, MaskedDeepFFN
from deepstruct.sparse.connections import edges_by_kind

__all__ = ["encode", "GenomeInfo"]

Pairs = dict[tuple[Any, Any], float]


@dataclass
class GenomeInfo:
    """What a decoded model remembers of its genome (stored as ``model.genome_info``) so that encoding keeps
    the ids, ``next_id`` and the vertex attributes that the model itself does not hold."""

    num_inputs: int
    num_outputs: int
    next_id: int
    vertex_attributes: dict[int, dict[str, Any]] = field(default_factory=dict)
    layer_vertices: list[list[int]] | None = None  # for FFN phenotypes: the vertex of every row


class _Network:
    """A phenotype's network as plain data: vertices in layer order, edges with weights, biases, and every
    vertex's activation on a zero input (its value when no input reaches it)."""

    def __init__(self) -> None:
        self.vertices: list[int] = []
        self.hidden: Pairs = {}
        self.inputs: Pairs = {}  # (i, v)
        self.outputs: Pairs = {}  # (v, j)
        self.direct: Pairs = {}  # (i, j)
        self.biases: dict[int, float] = {}
        self.output_biases: dict[int, float] = {}
        self.at_zero: dict[int, float] = {}


def _pairs(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> Pairs:
    return dict(zip(zip(a.tolist(), b.tolist(), strict=True), w.tolist(), strict=True))


def _read_masks(model: MaskedDeepDAN | MaskedDeepFFN, layer_vertices: list[list[Any]]) -> _Network:
    """The network of a DAN or FFN phenotype (``layer_vertices``: the vertex of every row of every hidden
    matrix), read through the phenotype's mask reader, with its biases and its values on a zero input."""
    net = _Network()
    net.vertices = [v for vs in layer_vertices for v in vs]
    vertices = np.empty(len(net.vertices), dtype=object)
    for k, v in enumerate(net.vertices):  # element-wise: a tuple id stays whole
        vertices[k] = v
    arrays = edges_by_kind(model.connections(), model.size_input, vertices)
    net.hidden, net.inputs, net.outputs, net.direct = (_pairs(*arrays[k]) for k in ("hidden", "input", "output",
                                                                                       "direct"))
    for layer, vs in zip(model.layers, layer_vertices, strict=True):
        if layer.bias is not None:
            net.biases.update(zip(vs, layer.bias.detach().cpu().tolist(), strict=True))
    if model.output.bias is not None:
        net.output_biases = dict(enumerate(model.output.bias.detach().cpu().tolist()))
    for vs, y in zip(layer_vertices, _values_at_zero(model), strict=True):
        net.at_zero.update(zip(vs, y[0].cpu().tolist(), strict=True))
    return net


def _values_at_zero(model: MaskedDeepDAN | MaskedDeepFFN) -> list[torch.Tensor]:
    """Every hidden layer's activations for a zero input (one sample)."""
    weight = model.output.weight
    with torch.no_grad():
        h = torch.zeros(1, model.size_input, dtype=weight.dtype, device=weight.device)
        if isinstance(model, MaskedDeepDAN):
            return model.layer_outputs(h)
        ys = []
        for i, layer in enumerate(model.layers):
            h = layer(h)
            if model.norms is not None:
                h = model.norms[i](h)
            h = model.activation(h)
            ys.append(h)
        return ys


def _read_cells(model: DeepCellDAN) -> _Network:
    """The network of a cell phenotype: its structure with the dense interface (no weights)."""
    net = _Network()
    net.vertices = list(model.structure.nodes)
    net.hidden = dict.fromkeys(model.structure.edges, 0.0)
    net.inputs = {(i, v): 0.0 for v in net.vertices if model.structure.in_degree(v) == 0
                  for i in range(model.input_channel_size)}
    net.outputs = {(v, j): 0.0 for v in net.vertices if model.structure.out_degree(v) == 0
                   for j in range(model.num_classes)}
    return net


def _read(model: nn.Module, info: GenomeInfo | None) -> tuple[_Network, int, int]:
    """``(network, inputs, outputs)`` of a phenotype of any kind."""
    if isinstance(model, MaskedDeepDAN):
        return _read_masks(model, model.layer_vertices), model.size_input, model.size_output
    if isinstance(model, MaskedDeepFFN):
        layer_vertices = info.layer_vertices if info is not None and info.layer_vertices is not None else None
        if layer_vertices is None:
            ids = iter(range(sum(layer.out_features for layer in model.layers)))
            layer_vertices = [[next(ids) for _ in range(layer.out_features)] for layer in model.layers]
        return _read_masks(model, layer_vertices), model.size_input, model.size_output
    if isinstance(model, DeepCellDAN):
        return _read_cells(model), model.input_channel_size, model.num_classes
    raise GenomeError(f"cannot encode a {type(model).__name__}: expected MaskedDeepDAN, MaskedDeepFFN or "
                      "DeepCellDAN (use deepstruct.transform for other models)")


def _reach(adjacency: dict[Hashable, list[Hashable]], start: set[Hashable]) -> set[Hashable]:
    seen, stack = set(start), list(start)
    while stack:
        for w in adjacency.get(stack.pop(), ()):
            if w not in seen:
                seen.add(w)
                stack.append(w)
    return seen


def encode(model: nn.Module, *, num_inputs: int | None = None, include_weights: bool = False,
           template: Genome | None = None) -> Genome:
    """The genome of a (trained, pruned) phenotype, with the model's vertex ids and its whole interface.

    Parameters
    ----------
    model : MaskedDeepDAN, MaskedDeepFFN or DeepCellDAN
        The phenotype; its masks are the structure (every masked matrix: input, hidden and output layers).
    num_inputs : int, optional
        Inputs of the genome, checked against the model's input features (the default).
    include_weights : bool
        Carry the trained weights (``weight`` on hidden and interface edges) and biases (``bias`` on
        vertices, ``output_biases``); the constants of removed vertices are folded into biases.
    template : Genome, optional
        Where to take ``next_id``, the limits and vertex attributes (``activation``, ``op``) from; by default
        the ``genome_info`` that :func:`~deepstruct.genomes.phenotype.decode` left on the model.

    Raises
    ------
    GenomeError
        When no vertex is left on an input-to-output path, or the model is of another kind.

    Examples
    --------
    >>> from deepstruct.genomes import decode
    >>> model = decode(Genome(3, 2, edges=[(0, 1)]), generator=torch.Generator().manual_seed(0))
    >>> with torch.no_grad():
    ...     model.layers[0].mask[0, 2] = False  # prune the connection input 2 -> vertex 0
    >>> sorted(encode(model).input_edges[0])
    [0, 1]
    """
    info: GenomeInfo | None = getattr(model, "genome_info", None)
    net, size_input, size_output = _read(model, info)
    if isinstance(model, DeepCellDAN):
        include_weights = False
    if num_inputs is not None and num_inputs != size_input:
        raise GenomeError(f"num_inputs={num_inputs!r} but the {type(model).__name__} reads {size_input} inputs")
    reached, alive = _on_paths(net)
    biases, output_biases = _folded_biases(net, reached, alive) if include_weights else ({}, {})
    attributes = ({v: {k: x for k, x in d.items() if k in ("activation", "op")}
                   for v, d in template.graph.nodes(data=True)} if template is not None
                  else info.vertex_attributes if info is not None else {})
    genome = _build(net, alive, size_input, size_output, attributes, biases if include_weights else None,
                    template.limits if template is not None else None)
    if include_weights:
        genome.output_biases.update(output_biases)
    next_id = template.next_id if template is not None else info.next_id if info is not None else 0
    genome.next_id = max(next_id, max(alive) + 1)
    return genome.validate()


def _on_paths(net: _Network) -> tuple[set[Hashable], set[Hashable]]:
    """``(reached, alive)``: the vertices an input reaches, and those of them that reach an output."""
    succ: dict[Hashable, list[Hashable]] = {}
    pred: dict[Hashable, list[Hashable]] = {}
    for u, v in net.hidden:
        succ.setdefault(u, []).append(v)
        pred.setdefault(v, []).append(u)
    reached = _reach(succ, {v for _, v in net.inputs})
    alive = reached & _reach(pred, {v for v, _ in net.outputs})
    if not alive:
        raise GenomeError("no vertex of the model lies on an input-to-output path: nothing to encode")
    return reached, alive


def _folded_biases(net: _Network, reached: set[Hashable],
                   alive: set[Hashable]) -> tuple[dict[Any, float], dict[int, float]]:
    """The biases with the constants of the vertices that no input reaches folded into what they feed."""
    biases, output_biases = dict(net.biases), dict(net.output_biases)
    folded: set[Any] = set()
    for (u, v), w in net.hidden.items():
        if u not in reached and v in alive:
            biases[v] += w * net.at_zero[u]
            folded.add(v)
    for (u, j), w in net.outputs.items():
        if u not in reached:
            output_biases[j] += w * net.at_zero[u]
            folded.add(("output", j))
    for key in folded:  # float32, as the phenotype stores them: the encoded genome is a fixed point
        if isinstance(key, tuple):
            output_biases[key[1]] = float(np.float32(output_biases[key[1]]))
        else:
            biases[key] = float(np.float32(biases[key]))
    return biases, output_biases


def _build(net: _Network, alive: set[Hashable], size_input: int, size_output: int,
           attributes: dict[Any, dict[str, Any]], biases: dict[Any, float] | None, limits: Any) -> Genome:
    """The genome of the vertices in ``alive`` and the edges between them (with weights and vertex biases when
    ``biases`` is given)."""

    def data(w: float) -> dict[str, float]:
        return {"weight": w} if biases is not None else {}

    genome = Genome(size_input, size_output, limits=limits, input_edges=(), output_edges=())
    for v in net.vertices:
        if v in alive:
            genome.graph.add_node(v, **attributes.get(v, {}), **({"bias": biases[v]} if biases is not None else {}))
    for (u, v), w in net.hidden.items():
        if u in alive and v in alive:
            genome.graph.add_edge(u, v, **data(w))
    for (i, v), w in net.inputs.items():
        if v in alive:
            genome.add_input_edge(i, v, **data(w))
    for (v, j), w in net.outputs.items():
        if v in alive:
            genome.add_output_edge(v, j, **data(w))
    for (i, j), w in net.direct.items():
        genome.add_direct_edge(i, j, **data(w))
    return genome
