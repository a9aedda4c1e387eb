"""Decode genomes into torch models and encode (trained, pruned) models back into genomes.

This is the one module of :mod:`deepstruct.genomes` that imports torch.

- :func:`decode`: genome -> :class:`~deepstruct.sparse.MaskedDeepDAN` (``kind="dan"``),
  :class:`~deepstruct.sparse.MaskedDeepFFN` (``kind="ffn"``, layered genomes) or
  :class:`~deepstruct.sparse.DeepCellDAN` (``kind="cell"``, genomes whose vertices carry an ``op``);
  ``kind="auto"`` picks cell, then ffn, then dan. Inherited edge weights and vertex biases are loaded.
- :func:`encode`: model -> genome with the same vertex ids. A vertex is kept only if it lies on a path from the
  input to the output *in the model's masks*: a source whose input connections are all pruned, a sink whose
  output connections are all pruned, and every vertex reachable only through them, are removed.

``encode(decode(g), include_weights=g.has_weights) == g`` for every valid genome whose weights are either on
every edge and vertex or on none, and are float32 numbers (torch stores weights as float32).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import networkx as nx
import numpy as np
import torch
from torch import nn

from deepstruct.genomes.genome import Genome, GenomeError
from deepstruct.graph import CachedLayeredGraph, compute_layers
from deepstruct.sparse import ConvCell, DeepCellDAN, MaskedDeepDAN, MaskedDeepFFN, MaskedLinearLayer, ReductionCell

__all__ = ["decode", "encode", "GenomeInfo", "ACTIVATIONS", "OPERATIONS", "VertexActivationDAN", "is_layered",
           "phenotype_weights"]

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "elu": nn.ELU, "gelu": nn.GELU, "selu": nn.SELU,
    "silu": nn.SiLU, "leaky_relu": nn.LeakyReLU, "identity": nn.Identity,
}
"""Activation names a genome's ``activation`` attribute may take."""

OPERATIONS: dict[str, Any] = {
    "conv3x3": lambda cin: ConvCell(cin, 1, 3), "conv5x5": lambda cin: ConvCell(cin, 1, 5),
    "conv1x1": lambda cin: ConvCell(cin, 1, 1), "reduce": lambda cin: ReductionCell(cin, 1),
}
"""Operation names a genome's ``op`` attribute may take (each builds a one-channel cell from its input channels)."""

Kind = Literal["auto", "dan", "ffn", "cell"]


@dataclass
class GenomeInfo:
    """What a decoded model remembers of its genome (stored as ``model.genome_info``) so that encoding keeps
    the ids, ``next_id`` and the vertex attributes that the model itself does not hold."""

    num_inputs: int
    num_outputs: int
    next_id: int
    vertex_attributes: dict[int, dict[str, Any]] = field(default_factory=dict)
    layer_vertices: list[list[int]] | None = None  # for FFN phenotypes: the vertex of every row


class VertexActivationDAN(MaskedDeepDAN):
    """A :class:`MaskedDeepDAN` with one activation per vertex (for genomes that mix activations)."""

    def __init__(self, size_input: int, size_output: int, structure: nx.DiGraph,
                 activations: dict[int, str], default: str, *, use_layer_norm: bool = False,
                 generator: torch.Generator | None = None) -> None:
        super().__init__(size_input, size_output, structure, use_layer_norm, ACTIVATIONS[default],
                         generator=generator)
        self._groups: list[list[tuple[str, str]]] = []
        names = sorted({activations.get(v, default) for vs in self.layer_vertices for v in vs})
        self.activation_modules = nn.ModuleDict({n: ACTIVATIONS[n]() for n in names})
        for t, vs in enumerate(self.layer_vertices):
            rows: dict[str, list[int]] = {}
            for i, v in enumerate(vs):
                rows.setdefault(activations.get(v, default), []).append(i)
            groups = []
            for name, idx in sorted(rows.items()):
                buffer = f"_act_rows_{t}_{name}"
                self.register_buffer(buffer, torch.tensor(idx, dtype=torch.long), persistent=False)
                groups.append((name, buffer))
            self._groups.append(groups)

    def _activate(self, t: int, z: torch.Tensor) -> torch.Tensor:
        groups = self._groups[t]
        if len(groups) == 1:
            return self.activation_modules[groups[0][0]](z)
        out = torch.empty_like(z)
        for name, buffer in groups:
            idx = getattr(self, buffer)
            out[:, idx] = self.activation_modules[name](z.index_select(1, idx))
        return out

    def activation_groups(self, t: int) -> list[tuple[nn.Module, list[int]]]:
        return [(self.activation_modules[name], getattr(self, buffer).tolist()) for name, buffer in self._groups[t]]


def is_layered(genome: Genome) -> bool:
    """Whether the genome decodes to an FFN: every edge joins consecutive layers and every sink is in the last."""
    g = genome.graph
    layer = compute_layers(g._succ, g._pred, graph=g)
    last = max(layer.values())
    return all(layer[v] == layer[u] + 1 for u, v in g.edges) and all(
        layer[v] == last for v, d in g.out_degree() if d == 0)


def phenotype_weights(genome: Genome) -> int:
    """The entries of the masked matrices that decoding ``genome`` allocates (``kind`` ``"dan"`` or ``"ffn"``):
    inputs x sources, each layer's vertices x the vertices of the layers that feed it, sinks x outputs.

    Examples
    --------
    >>> phenotype_weights(Genome(10, 2, edges=[(0, 1), (0, 2), (1, 2)]))
    15
    """
    g = genome.graph
    layer = compute_layers(g._succ, g._pred, graph=g)
    sizes = Counter(layer.values())
    feeding: dict[int, set[int]] = {}
    for u, v in g.edges:
        feeding.setdefault(layer[v], set()).add(layer[u])
    sinks = sum(1 for v in g if not g._succ[v])
    hidden = sum(sizes[t] * sum(sizes[j] for j in js) for t, js in feeding.items())
    return genome.num_inputs * sizes[0] + hidden + sinks * genome.num_outputs


def _attributes(genome: Genome, default_activation: str) -> dict[int, dict[str, Any]]:
    out = {}
    for v, d in genome.graph.nodes(data=True):
        kept = {k: x for k, x in d.items() if k in ("activation", "op")}
        if "activation" in kept and kept["activation"] not in ACTIVATIONS:
            raise GenomeError(f"vertex {v} has an unknown activation {kept['activation']!r}; "
                              f"known: {', '.join(ACTIVATIONS)}")
        if "op" in kept and kept["op"] not in OPERATIONS:
            raise GenomeError(f"vertex {v} has an unknown op {kept['op']!r}; known: {', '.join(OPERATIONS)}")
        if kept:
            out[v] = kept
    return out


def _load_weights(layers: Sequence[MaskedLinearLayer], rows: list[list[int]], columns: list[list[int]],
                  genome: Genome) -> None:
    """Copy the genome's inherited biases and hidden edge weights into ``layers`` (row ``i`` of layer ``t`` is
    vertex ``rows[t][i]``, column ``j`` of layer ``t >= 1`` reads vertex ``columns[t][j]``)."""
    g = genome.graph
    with torch.no_grad():
        for t, layer in enumerate(layers):
            for i, v in enumerate(rows[t]):
                bias = g.nodes[v].get("bias")
                if bias is not None and layer.bias is not None:
                    layer.bias[i] = float(bias)
            if t == 0:
                continue
            column = {u: j for j, u in enumerate(columns[t])}
            r, c, values = [], [], []
            for i, v in enumerate(rows[t]):
                for u, d in g._pred[v].items():
                    if "weight" in d:
                        r.append(i)
                        c.append(column[u])
                        values.append(float(d["weight"]))
            if r:
                layer.weight[r, c] = torch.tensor(values, dtype=layer.weight.dtype)


def _decode_ffn(genome: Genome, activation: str, use_layer_norm: bool, generator: torch.Generator | None,
                load_weights: bool) -> MaskedDeepFFN:
    if not is_layered(genome):
        raise GenomeError("the genome is not layered (an edge skips a layer or a sink is not in the last layer): "
                          "decode it with kind='dan'")
    g = genome.graph
    layer = compute_layers(g._succ, g._pred, graph=g)
    vertices: list[list[int]] = [[] for _ in range(max(layer.values()) + 1)]
    for v in sorted(g.nodes):
        vertices[layer[v]].append(v)
    model = MaskedDeepFFN(genome.num_inputs, genome.num_outputs, [len(vs) for vs in vertices],
                          use_layer_norm=use_layer_norm, activation=ACTIVATIONS[activation], generator=generator)
    with torch.no_grad():
        for t in range(1, len(vertices)):
            row = {v: i for i, v in enumerate(vertices[t])}
            col = {u: j for j, u in enumerate(vertices[t - 1])}
            mask = torch.zeros(len(vertices[t]), len(vertices[t - 1]), dtype=torch.bool)
            for v in vertices[t]:
                for u in g._pred[v]:
                    mask[row[v], col[u]] = True
            model.layers[t].set_mask(mask)
            model.layers[t].reset_parameters(generator=generator)
    if load_weights:
        _load_weights(model.layers, vertices, [[], *vertices[:-1]], genome)
    model.genome_info = GenomeInfo(genome.num_inputs, genome.num_outputs, genome.next_id,  # type: ignore
                                   _attributes(genome, activation), vertices)
    return model


def _decode_cell(genome: Genome, cell_channels: int, generator: torch.Generator | None) -> DeepCellDAN:
    attributes = _attributes(genome, "relu")
    structure = CachedLayeredGraph.from_graph(genome.graph)
    expected = [v for t in structure.layers for v in structure.get_vertices(t)]
    order = iter(expected)

    def construct(is_input: bool, is_output: bool, in_degree: int, out_degree: int, layer: int,
                  input_channel_size: int) -> nn.Module:
        v = next(order)
        op = attributes.get(v, {}).get("op", "conv3x3")
        return OPERATIONS[op](input_channel_size if is_input else in_degree * cell_channels)

    if generator is None:
        model = DeepCellDAN(genome.num_outputs, genome.num_inputs, construct, structure, cell_channels=cell_channels)
    else:  # torch's modules draw from the global generator: seed a forked copy of it from ``generator``
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = DeepCellDAN(genome.num_outputs, genome.num_inputs, construct, structure,
                                cell_channels=cell_channels)
    if list(model.order) != expected:  # the cells were built in another order than assumed
        raise GenomeError("internal error: DeepCellDAN built its cells in an unexpected vertex order")
    model.genome_info = GenomeInfo(genome.num_inputs, genome.num_outputs, genome.next_id,  # type: ignore
                                   attributes)
    return model


def decode(genome: Genome, *, kind: Kind = "dan", generator: torch.Generator | None = None,
           load_weights: bool = True, activation: str = "relu", use_layer_norm: bool = False) -> nn.Module:
    """Build the phenotype of a genome.

    Parameters
    ----------
    genome : Genome
        A valid genome (validated here).
    kind : {"dan", "ffn", "cell", "auto"}
        The model family; ``"auto"`` takes ``"cell"`` if any vertex has an ``op``, else ``"ffn"`` if the genome
        is layered, else ``"dan"``.
    generator : torch.Generator, optional
        The only randomness of the initial weights; without it they come from torch's global generator, as
        for any torch module.
    load_weights : bool
        Load the genome's inherited edge weights and vertex biases (where present).
    activation : str
        The activation of vertices without an ``activation`` attribute.
    use_layer_norm : bool
        Layer normalisation in DAN and FFN phenotypes.

    Returns
    -------
    nn.Module
        The model, with ``model.genome_info`` (:class:`GenomeInfo`) for :func:`encode`.
    """
    genome.validate()
    if activation not in ACTIVATIONS:
        raise GenomeError(f"unknown activation {activation!r}; known: {', '.join(ACTIVATIONS)}")
    if kind == "auto":
        if any("op" in d for _, d in genome.graph.nodes(data=True)):
            kind = "cell"
        else:
            kind = "ffn" if is_layered(genome) and _uniform_activation(genome, activation) else "dan"
    if kind == "cell":
        return _decode_cell(genome, 1, generator)
    weights = phenotype_weights(genome)  # checked before anything is allocated
    if weights > genome.limits.max_weights:
        raise GenomeError(f"the phenotype would have {weights} weights, over the limit {genome.limits.max_weights} "
                          "(GenomeLimits.max_weights)")
    uniform = _uniform_activation(genome, activation)
    if kind == "ffn":
        if not uniform:
            raise GenomeError("the genome mixes activations, which an FFN cannot: decode it with kind='dan'")
        return _decode_ffn(genome, uniform, use_layer_norm, generator, load_weights)
    if kind != "dan":
        raise GenomeError(f"unknown phenotype kind {kind!r}; choose dan, ffn, cell or auto")
    attributes = _attributes(genome, activation)
    if uniform:
        model: MaskedDeepDAN = MaskedDeepDAN(genome.num_inputs, genome.num_outputs, genome.graph, use_layer_norm,
                                             ACTIVATIONS[uniform], generator=generator)
    else:
        model = VertexActivationDAN(genome.num_inputs, genome.num_outputs, genome.graph,
                                    {v: a["activation"] for v, a in attributes.items() if "activation" in a},
                                    activation, use_layer_norm=use_layer_norm, generator=generator)
    if load_weights:
        _load_weights(model.layers, model.layer_vertices, [[], *map(model.column_vertices, range(1, model.num_layers))],
                      genome)
    model.genome_info = GenomeInfo(genome.num_inputs, genome.num_outputs, genome.next_id,  # type: ignore
                                   attributes)
    return model


def _uniform_activation(genome: Genome, default: str) -> str | None:
    names = {d.get("activation", default) for _, d in genome.graph.nodes(data=True)}
    return names.pop() if len(names) == 1 else None


def _reachable(adjacency: Mapping[int, Mapping[int, Any]], start: list[int]) -> set[int]:
    seen: set[int] = set(start)
    stack = list(start)
    while stack:
        for w in adjacency[stack.pop()]:
            if w not in seen:
                seen.add(w)
                stack.append(w)
    return seen


def _alive(vertices: list[int], edges: list[tuple[int, int]], live_sources: list[int],
           live_sinks: list[int]) -> set[int]:
    graph = nx.DiGraph()
    graph.add_nodes_from(vertices)
    graph.add_edges_from(edges)
    return _reachable(graph._succ, live_sources) & _reachable(graph._pred, live_sinks)


def _interface(model: MaskedDeepDAN | MaskedDeepFFN, layer_vertices: list[list[int]],
               sinks: list[int]) -> tuple[list[int], list[int], dict[int, float]]:
    """The sources that still read an input, the sinks that still feed an output, and every vertex's bias."""
    live_sources = [v for v, on in zip(layer_vertices[0], model.layers[0].mask.any(dim=1).tolist(), strict=True)
                    if on]
    live_sinks = [v for v, on in zip(sinks, model.output.mask.any(dim=0).tolist(), strict=True) if on]
    biases: dict[int, float] = {}
    for layer, vs in zip(model.layers, layer_vertices, strict=True):
        if layer.bias is not None:
            biases.update(zip(vs, layer.bias.detach().cpu().tolist(), strict=True))
    return live_sources, live_sinks, biases


def encode(model: nn.Module, *, num_inputs: int | None = None, include_weights: bool = False,
           template: Genome | None = None) -> Genome:
    """The genome of a (trained, pruned) phenotype, with the model's vertex ids.

    Parameters
    ----------
    model : MaskedDeepDAN, MaskedDeepFFN or DeepCellDAN
        The phenotype; its masks are the structure.
    num_inputs : int, optional
        Inputs of the genome, checked against the model's input features (the default).
    include_weights : bool
        Carry the trained hidden weights (``weight`` on edges) and biases (``bias`` on vertices).
    template : Genome, optional
        Where to take ``next_id`` and vertex attributes (``activation``, ``op``) from; by default the
        ``genome_info`` that :func:`decode` left on the model.

    Raises
    ------
    GenomeError
        When no vertex is left on an input-to-output path.
    """
    info: GenomeInfo | None = getattr(model, "genome_info", None)
    biases: dict[int, float] = {}
    weights: dict[tuple[int, int], float] = {}
    if isinstance(model, MaskedDeepDAN):
        vertices = [v for vs in model.layer_vertices for v in vs]
        src, tgt, w = model.edge_arrays()
        edges = list(zip(src.tolist(), tgt.tolist(), strict=True))
        weights = dict(zip(edges, w.tolist(), strict=True))
        live_sources, live_sinks, biases = _interface(model, model.layer_vertices, model.sinks)
        size_output, size_input = model.size_output, model.size_input
    elif isinstance(model, MaskedDeepFFN):
        layer_vertices = info.layer_vertices if info is not None and info.layer_vertices is not None else None
        if layer_vertices is None:
            ids = iter(range(sum(layer.out_features for layer in model.layers)))
            layer_vertices = [[next(ids) for _ in range(layer.out_features)] for layer in model.layers]
        vertices = [v for vs in layer_vertices for v in vs]
        edges = []
        for t in range(1, len(model.layers)):
            rows, cols = np.nonzero(model.layers[t].mask.detach().cpu().numpy())
            values = model.layers[t].weight.detach().cpu().numpy()[rows, cols].tolist()
            for i, j, x in zip(rows.tolist(), cols.tolist(), values, strict=True):
                edge = (layer_vertices[t - 1][j], layer_vertices[t][i])
                edges.append(edge)
                weights[edge] = x
        live_sources, live_sinks, biases = _interface(model, layer_vertices, layer_vertices[-1])
        size_output, size_input = model.size_output, model.size_input
    elif isinstance(model, DeepCellDAN):
        vertices, edges = list(model.structure.nodes), list(model.structure.edges)
        live_sources, live_sinks = vertices, vertices
        include_weights = False
        size_output, size_input = model.num_classes, model.input_channel_size
    else:
        raise GenomeError(f"cannot encode a {type(model).__name__}: expected MaskedDeepDAN, MaskedDeepFFN or "
                          "DeepCellDAN (use deepstruct.transform for other models)")
    if num_inputs is not None and num_inputs != size_input:
        raise GenomeError(f"num_inputs={num_inputs!r} but the {type(model).__name__} reads {size_input} inputs")
    alive = _alive(vertices, edges, live_sources, live_sinks)
    if not alive:
        raise GenomeError("no vertex of the model lies on an input-to-output path: nothing to encode")
    attributes = ({v: {k: x for k, x in d.items() if k in ("activation", "op")}
                   for v, d in template.graph.nodes(data=True)} if template is not None
                  else info.vertex_attributes if info is not None else {})
    graph = nx.DiGraph()
    for v in vertices:
        if v in alive:
            data = dict(attributes.get(v, {}))
            if include_weights and v in biases:
                data["bias"] = biases[v]
            graph.add_node(v, **data)
    for edge in edges:
        if edge[0] in alive and edge[1] in alive:
            graph.add_edge(*edge, **({"weight": weights[edge]} if include_weights else {}))
    next_id = template.next_id if template is not None else info.next_id if info is not None else 0
    next_id = max(next_id, max(alive) + 1)
    genome = Genome(size_input, size_output, graph=graph, next_id=next_id,
                    limits=template.limits if template is not None else None)
    return genome.validate()
