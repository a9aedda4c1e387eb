"""``Genome``: a DAG with persistent integer vertex ids and an explicit input/output interface."""

from __future__ import annotations

import copy
import math
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import networkx as nx

from deepstruct.genomes.interface import (
    Interface,
    InterfaceMixin,
    build_interface,
    copy_interface,
    count_interface_edges,
    dense_interface,
    interface_from_dict,
    interface_problem,
    interface_to_dict,
    normalised,
)
from deepstruct.graph.layering import compute_layers, find_cycle_message

__all__ = ["Genome", "GenomeLimits", "GenomeError", "SCHEMA_VERSION", "ACTIVATION_NAMES", "OPERATION_NAMES",
           "copy_graph", "attribute_problem"]

SCHEMA_VERSION = 2
#: The largest ``next_id`` of a genome file: every id is below it and fits GraphML's 18-digit integers.
MAX_NEXT_ID = 10**18 - 1
"""The version of genome files this deepstruct writes; it reads versions 1 and 2 (version 1, without an
explicit interface, is migrated on read to the dense interface: every source reads every input, every sink
feeds every output)."""
VERTEX_ATTRIBUTES = ("activation", "op", "bias")
EDGE_ATTRIBUTES = ("weight",)
ACTIVATION_NAMES = ("relu", "tanh", "sigmoid", "elu", "gelu", "selu", "silu", "leaky_relu", "identity")
"""Values of the ``activation`` vertex attribute that the phenotype decoder knows."""
OPERATION_NAMES = ("conv3x3", "conv5x5", "conv1x1", "reduce")
"""Values of the ``op`` vertex attribute that the phenotype decoder knows (cell phenotypes)."""
_FLOAT_MAX = int(sys.float_info.max)


def copy_graph(graph: nx.DiGraph) -> nx.DiGraph:
    """A plain ``nx.DiGraph`` copy of ``graph`` with copied vertex and edge attribute dicts (the values are
    shared, as in ``graph.copy()``); predecessors are listed in successor order.

    Built through networkx's public API only. Bulk-writing the adjacency dicts would be about 3x faster on a
    1,000-vertex genome (1.4 ms instead of 4.1 ms) but depends on networkx's internals; a copy costs
    microseconds at the sizes evolution uses, against seconds of training.
    """
    out = nx.DiGraph()
    out.graph.update(graph.graph)
    out.add_nodes_from((v, dict(d)) for v, d in graph.nodes(data=True))
    out.add_edges_from((u, v, dict(d)) for u, v, d in graph.edges(data=True))
    return out


class GenomeError(ValueError):
    """A genome (or a genome file) is invalid; the message says what is wrong."""


@dataclass(frozen=True)
class GenomeLimits:
    """Size limits that every operator and loader respects (``max_weights``: decoding, see
    :func:`deepstruct.genomes.phenotype.phenotype_weights`).

    ``max_depth`` bounds the vertices on the longest path, that is the hidden layers of the phenotype, which
    run one after another in a forward pass (a 10,000-vertex chain within every other limit took seconds to
    decode and run once). The default 256 equals the run's default ``genome.max_vertices``, so no genome that a
    default run can hold is refused for its depth; decode plus one forward pass of a 256-deep chain takes about
    0.1 s.
    """

    max_vertices: int = 10_000
    max_edges: int = 200_000  # hidden, input, output and input-to-output edges together
    max_interface: int = 1_000_000  # inputs or outputs of the phenotype
    max_weights: int = 50_000_000  # entries of the phenotype's masked matrices
    max_depth: int = 256  # vertices on the longest path: hidden layers of the phenotype

    def __post_init__(self) -> None:
        for name in ("max_vertices", "max_edges", "max_interface", "max_weights", "max_depth"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise GenomeError(f"GenomeLimits.{name} must be a positive int, got {value!r}")


class Genome(InterfaceMixin):
    """The genotype: the whole network, a DAG over hidden units with persistent integer ids plus its interface.

    The interface is explicit (see :mod:`deepstruct.genomes.interface`): input units ``0 .. num_inputs - 1``
    and output units ``0 .. num_outputs - 1`` are a namespace of their own, fixed by the task; the edges
    input ``i`` -> vertex ``v`` are ``input_edges[v][i]``, vertex ``v`` -> output ``j`` are
    ``output_edges[v][j]`` and input ``i`` -> output ``j`` are ``direct_edges[i][j]`` (each value the edge's
    attribute dict), and ``output_biases[j]`` is output ``j``'s inherited bias. An input without an edge is a
    pruned input feature. Every hidden vertex lies on an input-to-output path. Vertex ids are never reused:
    ``next_id`` is larger than every id ever given out.

    Vertex attributes (optional): ``activation`` (str), ``op`` (str, for cell phenotypes), ``bias`` (float,
    inherited). Edge attributes, hidden and interface edges alike (optional): ``weight`` (float, inherited,
    for Lamarckian runs).

    Parameters
    ----------
    num_inputs, num_outputs : int
        The task's interface.
    edges, vertices, graph
        The hidden DAG (``graph`` is copied).
    next_id : int, optional
        Above every id ever given out (default: one more than the largest id).
    limits : GenomeLimits, optional
    input_edges : iterable of (i, v) or (i, v, attributes), optional
        The input edges; by default (``None``) every source reads every input (the dense interface).
    output_edges : iterable of (v, j) or (v, j, attributes), optional
        The output edges; by default every sink feeds every output.
    direct_edges : iterable of (i, j) or (i, j, attributes)
        Input-to-output edges (none by default).
    output_biases : mapping of int to float, optional
        Inherited output biases.

    Genomes carry no fitness; wrap them in DEAP ``creator`` classes in user code.

    Examples
    --------
    >>> g = Genome(4, 2, edges=[(0, 1), (1, 2), (0, 2)])
    >>> g.num_vertices, g.num_edges, g.next_id, g.num_interface_edges
    (3, 3, 3, 6)
    >>> sorted(g.input_edges[0]), sorted(g.output_edges[2])
    ([0, 1, 2, 3], [0, 1])
    >>> g.add_vertex()
    3
    >>> sparse = Genome(4, 2, edges=[(0, 1)], input_edges=[(2, 0)], output_edges=[(1, 0), (0, 1)])
    >>> sparse.interface_edges("input"), sparse.interface_edges("output")
    ([(2, 0)], [(1, 0), (0, 1)])
    """

    __slots__ = ("num_inputs", "num_outputs", "graph", "next_id", "limits", "input_edges", "output_edges",
                 "direct_edges", "output_biases")

    def __init__(
        self,
        num_inputs: int,
        num_outputs: int,
        *,
        edges: Iterable[tuple[int, int]] = (),
        vertices: Iterable[int] = (),
        graph: nx.DiGraph | None = None,
        next_id: int | None = None,
        limits: GenomeLimits | None = None,
        input_edges: Iterable[tuple[Any, ...]] | None = None,
        output_edges: Iterable[tuple[Any, ...]] | None = None,
        direct_edges: Iterable[tuple[Any, ...]] = (),
        output_biases: dict[int, float] | None = None,
    ) -> None:
        self.limits = limits if limits is not None else GenomeLimits()
        for name, value in (("num_inputs", num_inputs), ("num_outputs", num_outputs)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise GenomeError(f"{name} must be a positive int, got {value!r}")
            if value > self.limits.max_interface:
                raise GenomeError(f"{name}={value} exceeds the limit {self.limits.max_interface}")
        self.num_inputs = num_inputs
        self.num_outputs = num_outputs
        self.graph = nx.DiGraph(graph) if graph is not None else nx.DiGraph()
        self.graph.add_nodes_from(vertices)
        self.graph.add_edges_from(edges)
        largest = max(self.graph.nodes, default=-1) if all(
            isinstance(v, int) and not isinstance(v, bool) for v in self.graph.nodes) else None
        if largest is None:
            raise GenomeError("genome vertex ids must be ints; got "
                              f"{next(v for v in self.graph.nodes if not isinstance(v, int) or isinstance(v, bool))!r}")
        self.next_id = largest + 1 if next_id is None else next_id
        dense_in: Interface = {}
        dense_out: Interface = {}
        if input_edges is None or output_edges is None:
            g = self.graph
            count = (num_inputs * sum(1 for _, d in g.in_degree if not d) if input_edges is None else 0) + (
                num_outputs * sum(1 for _, d in g.out_degree if not d) if output_edges is None else 0)
            if count > self.limits.max_edges:  # checked before anything is built (a v1 file of a few bytes)
                raise GenomeError(f"the dense interface would have {count} edges, over the limit "
                                  f"{self.limits.max_edges} (GenomeLimits.max_edges)")
            dense_in, dense_out = dense_interface(g, num_inputs, num_outputs)
        try:
            self.input_edges = dense_in if input_edges is None else build_interface(input_edges, "input_edges",
                                                                                    swap=True)
            self.output_edges = dense_out if output_edges is None else build_interface(output_edges,
                                                                                       "output_edges")
            self.direct_edges = build_interface(direct_edges, "direct_edges")
        except ValueError as err:
            raise GenomeError(str(err)) from None
        self.output_biases = dict(output_biases or {})

    # -- structure -----------------------------------------------------------------------------------
    @property
    def num_vertices(self) -> int:
        return self.graph.number_of_nodes()

    @property
    def num_edges(self) -> int:
        return self.graph.number_of_edges()

    @property
    def vertices(self) -> list[int]:
        return list(self.graph.nodes)

    @property
    def edges(self) -> list[tuple[int, int]]:
        return list(self.graph.edges)

    def sources(self) -> list[int]:
        return [v for v, d in self.graph.in_degree() if d == 0]

    def sinks(self) -> list[int]:
        return [v for v, d in self.graph.out_degree() if d == 0]

    @property
    def has_weights(self) -> bool:
        """Whether the genome carries inherited weights (on at least one edge, interface edges included, vertex
        or output)."""
        return bool(self.output_biases) or any("weight" in d for _, _, d in self.graph.edges(data=True)) or any(
            "bias" in d for _, d in self.graph.nodes(data=True)) or any(
            "weight" in d for table in (self.input_edges, self.output_edges, self.direct_edges)
            for inner in table.values() for d in inner.values())

    def add_vertex(self, **attributes: Any) -> int:
        """Add a vertex with a fresh persistent id and return the id."""
        vid = self.next_id
        self.graph.add_node(vid, **attributes)
        self.next_id += 1
        return vid

    def strip_weights(self) -> Genome:
        """Remove inherited weights and biases in place; returns the genome."""
        for _, _, d in self.graph.edges(data=True):
            d.pop("weight", None)
        for _, d in self.graph.nodes(data=True):
            d.pop("bias", None)
        for table in (self.input_edges, self.output_edges, self.direct_edges):
            for inner in table.values():
                for d in inner.values():
                    d.pop("weight", None)
        self.output_biases.clear()
        return self

    def copy(self) -> Genome:
        """An independent copy (a plain :class:`Genome`, attribute dicts copied)."""
        out = Genome.__new__(Genome)
        out.num_inputs, out.num_outputs, out.next_id, out.limits = (
            self.num_inputs, self.num_outputs, self.next_id, self.limits)
        out.graph = copy_graph(self.graph)
        self._copy_interface_to(out)
        return out

    def _copy_interface_to(self, out: Genome) -> None:
        out.input_edges, out.output_edges = copy_interface(self.input_edges), copy_interface(self.output_edges)
        out.direct_edges, out.output_biases = copy_interface(self.direct_edges), dict(self.output_biases)

    def adopt(self, other: Genome) -> Genome:
        """Take over ``other``'s network in place (graph, interface, ``next_id``; shared, not copied) and return
        this genome, keeping its class (operators replace a DEAP individual's genome this way)."""
        self.num_inputs, self.num_outputs, self.next_id = other.num_inputs, other.num_outputs, other.next_id
        self.graph, self.input_edges, self.output_edges = other.graph, other.input_edges, other.output_edges
        self.direct_edges, self.output_biases = other.direct_edges, other.output_biases
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Genome:
        """Fast deep copy that keeps the class and any instance ``__dict__`` (DEAP's ``toolbox.clone``)."""
        cls = type(self)
        out = cls.__new__(cls)
        memo[id(self)] = out
        out.num_inputs, out.num_outputs, out.next_id, out.limits = (
            self.num_inputs, self.num_outputs, self.next_id, self.limits)
        out.graph = copy_graph(self.graph)
        self._copy_interface_to(out)
        if hasattr(self, "__dict__"):
            out.__dict__.update(copy.deepcopy(self.__dict__, memo))
        return out

    # -- validation ----------------------------------------------------------------------------------
    def validate(self) -> Genome:
        """Raise :class:`GenomeError` naming the problem when the genome is invalid; return it otherwise."""
        g = self.graph
        if g.number_of_nodes() == 0:
            raise GenomeError("the genome has no vertices")
        if g.number_of_nodes() > self.limits.max_vertices:
            raise GenomeError(f"the genome has {g.number_of_nodes()} vertices, over the limit "
                              f"{self.limits.max_vertices}")
        edges = g.number_of_edges() + count_interface_edges(self)
        if edges > self.limits.max_edges:
            raise GenomeError(f"the genome has {edges} edges (hidden and interface), over the limit "
                              f"{self.limits.max_edges}")
        for v in g.nodes:
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < self.next_id:
                raise GenomeError(f"vertex id {v!r} is out of range: ids are ints in [0, next_id={self.next_id})")
        loops = list(nx.selfloop_edges(g))
        if loops:
            raise GenomeError(f"the genome has a self-loop at vertex {loops[0][0]}")
        try:
            layer = compute_layers(g)
        except ValueError:
            raise GenomeError(f"the genome has a cycle: {find_cycle_message(g)}") from None
        depth = max(layer.values()) + 1
        if depth > self.limits.max_depth:
            raise GenomeError(f"the genome is {depth} layers deep (vertices on its longest path), over the limit "
                              f"{self.limits.max_depth} (GenomeLimits.max_depth)")
        for v, d in g.nodes(data=True):
            for key, value in d.items():
                _check_attribute("vertex", v, key, value)
        for u, v, d in g.edges(data=True):
            for key, value in d.items():
                _check_attribute("edge", (u, v), key, value)
        problem = interface_problem(self, lambda kind, key, value: attribute_problem(kind, key, value))
        if problem is not None:
            raise GenomeError(f"the genome's interface is invalid: {problem}")
        return self

    # -- comparison and plain data -----------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Genome):
            return NotImplemented
        return (
            self.num_inputs == other.num_inputs
            and self.num_outputs == other.num_outputs
            and dict(self.graph.nodes(data=True)) == dict(other.graph.nodes(data=True))
            and {(u, v): d for u, v, d in self.graph.edges(data=True)}
            == {(u, v): d for u, v, d in other.graph.edges(data=True)}
            and normalised(self.input_edges) == normalised(other.input_edges)
            and normalised(self.output_edges) == normalised(other.output_edges)
            and normalised(self.direct_edges) == normalised(other.direct_edges)
            and self.output_biases == other.output_biases
        )

    __hash__ = None  # mutable; use deepstruct.genomes.canonical_hash for caching

    def __repr__(self) -> str:
        return (f"Genome(inputs={self.num_inputs}, outputs={self.num_outputs}, vertices={self.num_vertices}, "
                f"edges={self.num_edges}, interface_edges={self.num_interface_edges}, next_id={self.next_id})")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (the versioned schema of genome files)."""
        return {
            "schema": "deepstruct.genome",
            "version": SCHEMA_VERSION,
            "num_inputs": self.num_inputs,
            "num_outputs": self.num_outputs,
            "next_id": self.next_id,
            "vertices": [{"id": v, **d} for v, d in self.graph.nodes(data=True)],
            "edges": [{"source": u, "target": v, **d} for u, v, d in self.graph.edges(data=True)],
            **interface_to_dict(self),
        }

    @classmethod
    def from_dict(cls, data: Any, *, limits: GenomeLimits | None = None) -> Genome:
        """Build and validate a genome from :meth:`to_dict` output; malformed data raises :class:`GenomeError`.

        Version 2 holds the interface (``input_edges``, ``output_edges``, ``direct_edges``, ``output_biases``);
        version 1 (no interface) is migrated to the dense interface: every source reads every input and every
        sink feeds every output, without weights."""
        limits = limits if limits is not None else GenomeLimits()
        if not isinstance(data, dict):
            raise GenomeError(f"a genome must be a JSON object, got {type(data).__name__}")
        if data.get("schema") != "deepstruct.genome":
            raise GenomeError(f"not a deepstruct genome: schema is {data.get('schema')!r}")
        version = data.get("version")
        if isinstance(version, bool) or version not in (1, SCHEMA_VERSION):
            raise GenomeError(f"unsupported genome schema version {version!r} "
                              f"(this deepstruct reads versions 1 and {SCHEMA_VERSION})")
        interface_keys = {"input_edges", "output_edges", "direct_edges", "output_biases"}
        if version == 1 and interface_keys & set(data):
            raise GenomeError(f"a version-1 genome has no interface lists, got {sorted(interface_keys & set(data))}")
        vertices, edges = data.get("vertices"), data.get("edges")
        if not isinstance(vertices, list) or not isinstance(edges, list):
            raise GenomeError("a genome needs the lists 'vertices' and 'edges'")
        if len(vertices) > limits.max_vertices:
            raise GenomeError(f"the genome has {len(vertices)} vertices, over the limit {limits.max_vertices}")
        if len(edges) > limits.max_edges:
            raise GenomeError(f"the genome has {len(edges)} edges, over the limit {limits.max_edges}")
        next_id = data.get("next_id")
        if isinstance(next_id, bool) or not isinstance(next_id, int) or not 0 <= next_id <= MAX_NEXT_ID:
            raise GenomeError(f"next_id must be an int in [0, 10**18 - 1] (as GraphML), got {str(next_id)[:40]}")
        graph = nx.DiGraph()
        for i, entry in enumerate(vertices):
            if not isinstance(entry, dict) or "id" not in entry:
                raise GenomeError(f"vertices[{i}] must be an object with an 'id'")
            attrs = {k: val for k, val in entry.items() if k != "id"}
            vid = entry["id"]
            if isinstance(vid, bool) or not isinstance(vid, int):
                raise GenomeError(f"vertices[{i}] has a non-integer id {vid!r}")
            if vid in graph:
                raise GenomeError(f"vertex id {vid} appears twice")
            graph.add_node(vid, **attrs)
        for i, entry in enumerate(edges):
            if not isinstance(entry, dict) or "source" not in entry or "target" not in entry:
                raise GenomeError(f"edges[{i}] must be an object with 'source' and 'target'")
            u, v = entry["source"], entry["target"]
            for end in (u, v):
                if isinstance(end, bool) or not isinstance(end, int) or end not in graph:
                    raise GenomeError(f"edges[{i}] refers to a missing vertex {end!r}")
            if graph.has_edge(u, v):
                raise GenomeError(f"edge {u} -> {v} appears twice")
            graph.add_edge(u, v, **{k: val for k, val in entry.items() if k not in ("source", "target")})
        explicit = {"input_edges": (), "output_edges": ()} if version == SCHEMA_VERSION else {}
        genome = cls(data.get("num_inputs"), data.get("num_outputs"), graph=graph, next_id=next_id, limits=limits,
                     **explicit)
        if version == SCHEMA_VERSION:
            (genome.input_edges, genome.output_edges, genome.direct_edges,
             genome.output_biases) = interface_from_dict(data, limits.max_edges - len(edges))
        return genome.validate()


def attribute_problem(kind: str, key: str, value: Any) -> str | None:
    """Why ``key=value`` is not a valid ``kind`` (``"vertex"`` or ``"edge"``) attribute, or None when it is."""
    allowed = VERTEX_ATTRIBUTES if kind == "vertex" else EDGE_ATTRIBUTES
    if key not in allowed:
        return f"an unknown attribute {key!r} (allowed: {', '.join(allowed)})"
    if key in ("bias", "weight"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"a non-numeric {key} {value!r}"
        if isinstance(value, int) and not -_FLOAT_MAX <= value <= _FLOAT_MAX:
            return f"a {key} too large for a float (an int of {value.bit_length()} bits)"
        if not math.isfinite(value):
            return f"a non-finite {key} {value!r}"
    elif not isinstance(value, str) or len(value) > 64:
        return f"a malformed {key} {value!r} (a string of at most 64 chars)"
    return None


def _check_attribute(kind: str, where: Any, key: str, value: Any) -> None:
    problem = attribute_problem(kind, key, value)
    if problem is not None:
        raise GenomeError(f"{kind} {where!r} has {problem}")
