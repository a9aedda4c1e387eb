"""Decode genomes into torch models (:func:`decode`); :func:`encode` (in :mod:`deepstruct.genomes.encoding`,
re-exported here) reads (trained, pruned) models back into genomes.

These are the modules of :mod:`deepstruct.genomes` that import torch.

- :func:`decode`: genome -> :class:`~deepstruct.sparse.MaskedDeepDAN` (``kind="dan"``),
  :class:`~deepstruct.sparse.MaskedDeepFFN` (``kind="ffn"``, layered genomes) or
  :class:`~deepstruct.sparse.DeepCellDAN` (``kind="cell"``, genomes whose vertices carry an ``op``);
  ``kind="auto"`` picks cell, then ffn, then dan. The phenotype is exactly the genome's network: its input
  edges are the first layer's (and, in a DAN, any layer's) input connections, its output edges and
  input-to-output edges the output layer's connections. Inherited weights and biases (hidden, input, output
  and input-to-output edges; vertex and output biases) are loaded.
- :func:`member_shape` (from :mod:`deepstruct.genomes.shape`, which does not import torch): the exact
  :class:`~deepstruct.batch_plan.MemberShape` of ``decode(g)``'s DAN phenotype, from the genome alone.
- ``encode(decode(g), include_weights=g.has_weights) == g`` for every valid genome whose weights are either
  on every edge, vertex and output or on none, and are float32 numbers (torch stores weights as float32).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import networkx as nx
import torch
from torch import nn

from deepstruct.genomes.encoding import GenomeInfo, encode
from deepstruct.genomes.genome import Genome, GenomeError
from deepstruct.genomes.interface import dense_interface
from deepstruct.genomes.shape import check_weights, member_shape
from deepstruct.genomes.vocabulary import PHENOTYPE_KINDS, TORCH_ACTIVATIONS
from deepstruct.graph import CachedLayeredGraph, adjacency_dicts, compute_layers
from deepstruct.sparse import ConvCell, DeepCellDAN, MaskedDeepDAN, MaskedDeepFFN, MaskedLinearLayer, ReductionCell

__all__ = ["decode", "encode",
           "GenomeInfo", "ACTIVATIONS", "OPERATIONS", "VertexActivationDAN", "is_layered", "phenotype_weights",
           "member_shape"]

ACTIVATIONS: dict[str, type[nn.Module]] = {name: getattr(nn, module) for name, module in TORCH_ACTIVATIONS.items()}
"""Activation names a genome's ``activation`` attribute may take, with their modules (from
:data:`deepstruct.genomes.vocabulary.TORCH_ACTIVATIONS`)."""

OPERATIONS: dict[str, Any] = {
    "conv3x3": lambda cin: ConvCell(cin, 1, 3), "conv5x5": lambda cin: ConvCell(cin, 1, 5),
    "conv1x1": lambda cin: ConvCell(cin, 1, 1), "reduce": lambda cin: ReductionCell(cin, 1),
}
"""Operation names a genome's ``op`` attribute may take (each builds a one-channel cell from its input channels)."""

Kind = Literal["auto", "dan", "ffn", "cell"]


class VertexActivationDAN(MaskedDeepDAN):
    """A :class:`MaskedDeepDAN` with one activation per vertex (for genomes that mix activations)."""

    def __init__(self, size_input: int, size_output: int, structure: nx.DiGraph,
                 activations: dict[int, str], default: str, *, use_layer_norm: bool = False,
                 generator: torch.Generator | None = None, **interface: Any) -> None:
        super().__init__(size_input, size_output, structure, use_layer_norm, ACTIVATIONS[default],
                         generator=generator, **interface)
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
    """Whether the genome decodes to an FFN: every hidden edge joins consecutive layers, only first-layer
    vertices read inputs, only last-layer vertices feed outputs (so every sink is in the last layer), and no
    input feeds an output directly."""
    g = genome.graph
    layer = compute_layers(g)
    last = max(layer.values())
    return (not genome.direct_edges and all(layer[v] == layer[u] + 1 for u, v in g.edges)
            and all(layer[v] == 0 for v in genome.input_edges) and all(layer[v] == last for v in genome.output_edges))


def phenotype_weights(genome: Genome) -> int:
    """The entries of the masked matrices that decoding ``genome`` allocates (``kind`` ``"dan"`` or ``"ffn"``):
    inputs x sources; each later layer's vertices x (the vertices of the layers that feed it, plus the inputs
    when one of its vertices reads one); outputs x (the vertices with output edges, plus the inputs when an
    input feeds an output directly).

    Examples
    --------
    >>> phenotype_weights(Genome(10, 2, edges=[(0, 1), (0, 2), (1, 2)]))
    15
    """
    return member_shape(genome, validate=False).weights


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


def _set(layer: MaskedLinearLayer, entries: list[tuple[int, int, float]]) -> None:
    if entries:
        rows, cols, values = zip(*entries, strict=True)
        layer.weight[list(rows), list(cols)] = torch.tensor(values, dtype=layer.weight.dtype)


def _load_weights(genome: Genome, matrices: Sequence[MaskedLinearLayer], rows: list[list[int]],
                  columns: list[dict[Any, int]]) -> None:
    """Copy the genome's inherited weights and biases into the phenotype's matrices: row ``r`` of hidden
    matrix ``t`` is vertex ``rows[t][r]``; ``columns[t]`` maps what a column reads (a hidden vertex, or
    ``("input", i)``) to its index, for every matrix including the output one (the last)."""
    nodes, (_, pred) = genome.graph.nodes, adjacency_dicts(genome.graph)  # plain dicts: items() at C speed
    with torch.no_grad():
        for t, vertices in enumerate(rows):
            layer, column, entries = matrices[t], columns[t], []
            for r, v in enumerate(vertices):
                bias = nodes[v].get("bias")
                if bias is not None and layer.bias is not None:
                    layer.bias[r] = float(bias)
                entries.extend((r, column[u], float(d["weight"])) for u, d in pred[v].items() if "weight" in d)
                entries.extend((r, column["input", i], float(d["weight"]))
                               for i, d in genome.input_edges.get(v, {}).items() if "weight" in d)
            _set(layer, entries)
        output, column = matrices[-1], columns[-1]
        entries = [(j, column[v], float(d["weight"])) for v, inner in genome.output_edges.items()
                   for j, d in inner.items() if "weight" in d]
        entries.extend((j, column["input", i], float(d["weight"])) for i, inner in genome.direct_edges.items()
                       for j, d in inner.items() if "weight" in d)
        _set(output, entries)
        if output.bias is not None:
            for j, bias in genome.output_biases.items():
                output.bias[j] = float(bias)


def _dan_columns(model: MaskedDeepDAN) -> list[dict[Any, int]]:
    units = [("input", i) for i in range(model.size_input)] + [v for vs in model.layer_vertices for v in vs]
    return [{units[u]: c for c, u in enumerate(model.matrix_inputs(t).tolist())} for t in range(model.num_layers + 1)]


def _decode_ffn(genome: Genome, activation: str, use_layer_norm: bool, generator: torch.Generator | None,
                load_weights: bool) -> MaskedDeepFFN:
    if not is_layered(genome):
        raise GenomeError("the genome is not layered (an edge skips a layer, a vertex past the first layer reads "
                          "an input, one before the last feeds an output, or an input feeds an output): decode it "
                          "with kind='dan'")
    g = genome.graph
    layer = compute_layers(g)
    vertices: list[list[int]] = [[] for _ in range(max(layer.values()) + 1)]
    for v in sorted(g.nodes):
        vertices[layer[v]].append(v)
    model = MaskedDeepFFN(genome.num_inputs, genome.num_outputs, [len(vs) for vs in vertices],
                          use_layer_norm=use_layer_norm, activation=ACTIVATIONS[activation], generator=generator)
    columns: list[dict[Any, int]] = [{("input", i): i for i in range(genome.num_inputs)}]
    columns += [{u: c for c, u in enumerate(vs)} for vs in vertices]
    with torch.no_grad():
        for t, layer_module in enumerate([*model.layers, model.output]):
            mask = torch.zeros_like(layer_module.mask)
            if t == len(vertices):
                for v, inner in genome.output_edges.items():
                    mask[list(inner), columns[t][v]] = True
            else:
                for r, v in enumerate(vertices[t]):
                    mask[r, [columns[t][u] for u in g.pred[v]]] = True
                    mask[r, [columns[t]["input", i] for i in genome.input_edges.get(v, {})]] = True
            layer_module.set_mask(mask)
            layer_module.reset_parameters(generator=generator)
    if load_weights:
        _load_weights(genome, [*model.layers, model.output], vertices, columns)
    model.genome_info = GenomeInfo(genome.num_inputs, genome.num_outputs, genome.next_id,  # type: ignore
                                   _attributes(genome, activation), vertices)
    return model


def _decode_cell(genome: Genome, cell_channels: int, generator: torch.Generator | None) -> DeepCellDAN:
    inputs, outputs = dense_interface(genome.graph, genome.num_inputs, genome.num_outputs)
    pairs = (lambda table: {(a, b) for a, inner in table.items() for b in inner})  # noqa: E731
    if (pairs(inputs) != pairs(genome.input_edges) or pairs(outputs) != pairs(genome.output_edges)
            or any(genome.direct_edges.values())):
        raise GenomeError("a cell phenotype reads the whole input in every source and feeds its head from every "
                          "sink: the genome's interface must be the dense one (decode it with kind='dan')")
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
           load_weights: bool = True, activation: str = "relu", use_layer_norm: bool = False,
           validate: bool = True) -> nn.Module:
    """Build the phenotype of a genome: exactly its network (hidden, input, output and input-to-output edges).

    Parameters
    ----------
    genome : Genome
        A valid genome (validated here).
    kind : {"dan", "ffn", "cell", "auto"}
        The model family; ``"auto"`` takes ``"cell"`` if any vertex has an ``op``, else ``"ffn"`` if the genome
        is layered (:func:`is_layered`), else ``"dan"``. A cell phenotype needs the dense interface.
    generator : torch.Generator, optional
        The only randomness of the initial weights; without it they come from torch's global generator, as
        for any torch module.
    load_weights : bool
        Load the genome's inherited weights and biases (where present; the others are initialised by fan-in).
    activation : str
        The activation of vertices without an ``activation`` attribute.
    use_layer_norm : bool
        Layer normalisation in DAN and FFN phenotypes.
    validate : bool
        Validate the genome first; ``False`` for one validated already (loaded from a file or a request).

    Returns
    -------
    nn.Module
        The model, with ``model.genome_info`` (:class:`GenomeInfo`) for :func:`encode`.

    Examples
    --------
    >>> g = Genome(4, 2, edges=[(0, 1)], input_edges=[(0, 0), (3, 0)], output_edges=[(1, 1)])
    >>> model = decode(g, generator=torch.Generator().manual_seed(0))
    >>> [int(layer.mask.sum()) for layer in model.matrices()]
    [2, 1, 1]
    >>> from deepstruct.genomes import encode
    >>> encode(model) == g
    True
    """
    if validate:
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
    check_weights(genome, phenotype_weights(genome))  # before anything is allocated
    uniform = _uniform_activation(genome, activation)
    if kind == "ffn":
        if not uniform:
            raise GenomeError("the genome mixes activations, which an FFN cannot: decode it with kind='dan'")
        return _decode_ffn(genome, uniform, use_layer_norm, generator, load_weights)
    if kind != "dan":
        raise GenomeError(f"unknown phenotype kind {kind!r}; choose {', '.join(PHENOTYPE_KINDS[:-1])} or "
                          f"{PHENOTYPE_KINDS[-1]}")
    attributes = _attributes(genome, activation)
    interface = {
        "input_edges": [(i, v) for v, inner in genome.input_edges.items() for i in inner],
        "output_edges": [(v, j) for v, inner in genome.output_edges.items() for j in inner],
        "direct_edges": [(i, j) for i, inner in genome.direct_edges.items() for j in inner],
    }
    if uniform:
        model: MaskedDeepDAN = MaskedDeepDAN(genome.num_inputs, genome.num_outputs, genome.graph, use_layer_norm,
                                             ACTIVATIONS[uniform], generator=generator, **interface)
    else:
        model = VertexActivationDAN(genome.num_inputs, genome.num_outputs, genome.graph,
                                    {v: a["activation"] for v, a in attributes.items() if "activation" in a},
                                    activation, use_layer_norm=use_layer_norm, generator=generator, **interface)
    if load_weights:
        _load_weights(genome, model.matrices(), model.layer_vertices, _dan_columns(model))
    model.genome_info = GenomeInfo(genome.num_inputs, genome.num_outputs, genome.next_id,  # type: ignore
                                   attributes)
    return model


def _uniform_activation(genome: Genome, default: str) -> str | None:
    names = {d.get("activation", default) for _, d in genome.graph.nodes(data=True)}
    return names.pop() if len(names) == 1 else None

