"""The explicit interface of a genome: input units, output units and the edges that join them to hidden vertices.

Input units are the indices ``0 .. num_inputs - 1`` of the task's input features and output units the
indices ``0 .. num_outputs - 1`` of its outputs; they are a namespace of their own (never hidden vertex ids,
never permuted: input ``i`` is input ``i``). A :class:`~deepstruct.genomes.Genome` holds

- ``input_edges[v][i]``: the attribute dict of the edge input ``i`` -> hidden vertex ``v``,
- ``output_edges[v][j]``: the attribute dict of the edge hidden vertex ``v`` -> output ``j``,
- ``direct_edges[i][j]``: the attribute dict of the edge input ``i`` -> output ``j``,
- ``output_biases[j]``: the inherited bias of output ``j``,

as nested dicts (keys only where there is at least one edge), so that a vertex's interface is found in O(1).
Interface edges carry the same attributes as hidden edges (``weight``). An input without any edge is a pruned
input feature. Every hidden vertex lies on an input-to-output path: in a DAG that is the case exactly when
every vertex has a predecessor or an input edge, and a successor or an output edge (:func:`path_problem`).

The *dense* interface is the one of schema version 1 and of the paper's ``MaskedDeepDAN``: every source reads
every input and every sink feeds every output (:func:`dense_interface`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import networkx as nx

from deepstruct._validation import is_index, is_int
from deepstruct.genomes.limits import GenomeError

__all__ = ["Interface", "dense_interface", "build_interface", "path_problem", "dangling", "interface_problem",
           "copy_interface", "normalised", "count_interface_edges", "interface_to_dict", "interface_from_dict"]

Interface = dict[int, dict[int, dict[str, Any]]]
"""A nested dict ``{a: {b: attributes}}`` of interface edges."""


def dense_interface(graph: nx.DiGraph, num_inputs: int, num_outputs: int) -> tuple[Interface, Interface]:
    """``(input_edges, output_edges)`` in which every source reads every input and every sink every output."""
    inputs = {v: {i: {} for i in range(num_inputs)} for v, d in graph.in_degree if not d}
    outputs = {v: {j: {} for j in range(num_outputs)} for v, d in graph.out_degree if not d}
    return inputs, outputs


def build_interface(edges: Iterable[tuple[Any, ...]] | Mapping[Any, Any], what: str,
                    swap: bool = False) -> Interface:
    """A nested interface dict from ``(a, b)`` or ``(a, b, attributes)`` tuples (or a nested mapping);
    ``swap`` stores ``(i, v)`` pairs under ``v`` (input edges are written ``(input, vertex)``)."""
    out: Interface = {}
    if isinstance(edges, Mapping):
        for a, inner in edges.items():
            if not isinstance(inner, Mapping):
                raise ValueError(f"{what}: {a!r} maps to {type(inner).__name__}, not a mapping")
            for b, data in inner.items():
                out.setdefault(a, {})[b] = dict(data)
        return out
    for edge in edges:
        if not isinstance(edge, tuple) or len(edge) not in (2, 3):
            raise ValueError(f"{what}: {edge!r} is not an (a, b) or (a, b, attributes) tuple")
        a, b = edge[0], edge[1]
        data = dict(edge[2]) if len(edge) == 3 else {}
        if swap:
            a, b = b, a
        out.setdefault(a, {})[b] = data
    return out


def copy_interface(interface: Interface) -> Interface:
    return {a: {b: dict(d) for b, d in inner.items()} for a, inner in interface.items() if inner}


def normalised(interface: Interface) -> dict[int, dict[int, dict[str, Any]]]:
    """The interface without empty entries (for comparison)."""
    return {a: inner for a, inner in interface.items() if inner}


def count_interface_edges(genome: Any) -> int:
    """Input, output and direct edges of ``genome``."""
    return (sum(map(len, genome.input_edges.values())) + sum(map(len, genome.output_edges.values()))
            + sum(map(len, genome.direct_edges.values())))


def path_problem(genome: Any, v: int) -> str | None:
    """Why hidden vertex ``v`` is on no input-to-output path (locally: no way in or no way out), or None."""
    g = genome.graph
    if not g.pred[v] and not genome.input_edges.get(v):
        return f"vertex {v} lies on no input-to-output path: it has no predecessor and reads no input"
    if not g.succ[v] and not genome.output_edges.get(v):
        return f"vertex {v} lies on no input-to-output path: it has no successor and feeds no output"
    return None


def dangling(genome: Any, vertices: Iterable[int] | None = None) -> list[int]:
    """The vertices (of ``vertices``, default all) with no way in or no way out (see :func:`path_problem`)."""
    return [v for v in (genome.graph if vertices is None else vertices) if path_problem(genome, v) is not None]


def interface_problem(genome: Any, check: Any) -> str | None:
    """The first problem of ``genome``'s interface (indices, vertices, attributes via ``check(kind, where, key,
    value)`` returning a message or None, paths), or None when it is valid."""
    g, n_in, n_out = genome.graph, genome.num_inputs, genome.num_outputs
    for name, table, size_a, size_b, a_hidden in (
            ("input edge", genome.input_edges, None, n_in, True),
            ("output edge", genome.output_edges, None, n_out, True),
            ("direct edge", genome.direct_edges, n_in, n_out, False)):
        for a, inner in table.items():
            if a_hidden and (not is_int(a) or a not in g):
                return f"an {name} refers to a missing hidden vertex {a!r}"
            if size_a is not None and not is_index(a, size_a):
                return f"a {name} starts at input {a!r}, not an index in [0, {size_a})"
            for b, data in inner.items():
                if not is_index(b, size_b):
                    end = "output" if name != "input edge" else "input"
                    return f"the {name} of {a!r} names {end} {b!r}, not an index in [0, {size_b})"
                if not isinstance(data, dict):
                    return f"the {name} ({a!r}, {b!r}) has attributes {data!r}, not a dict"
                for key, value in data.items():
                    problem = check("edge", key, value)
                    if problem is not None:
                        pair = (b, a) if name == "input edge" else (a, b)
                        return f"{name} {pair!r} has {problem}"
    for j, bias in genome.output_biases.items():
        if not is_index(j, n_out):
            return f"an output bias belongs to output {j!r}, not an index in [0, {n_out})"
        problem = check("vertex", "bias", bias)
        if problem is not None:
            return f"output {j} has {problem}"
    for v in g:
        problem = path_problem(genome, v)
        if problem is not None:
            return problem
    return None


def interface_to_dict(genome: Any) -> dict[str, list[dict[str, Any]]]:
    """The interface as the lists of schema version 2: ``input_edges`` (``input``, ``target``),
    ``output_edges`` (``source``, ``output``), ``direct_edges`` (``input``, ``output``), ``output_biases``
    (``output``, ``bias``); edge entries carry their attributes."""
    return {
        "input_edges": [{"input": i, "target": v, **d} for v, inner in genome.input_edges.items()
                        for i, d in inner.items()],
        "output_edges": [{"source": v, "output": j, **d} for v, inner in genome.output_edges.items()
                         for j, d in inner.items()],
        "direct_edges": [{"input": i, "output": j, **d} for i, inner in genome.direct_edges.items()
                         for j, d in inner.items()],
        "output_biases": [{"output": j, "bias": b} for j, b in genome.output_biases.items()],
    }


def interface_from_dict(data: dict[str, Any], budget: int) -> tuple[Interface, Interface, Interface, dict[int, Any]]:
    """Parse the interface lists of a schema-2 genome dict (see :func:`interface_to_dict`); at most ``budget``
    edges in all. Shapes, ints and duplicates are checked here, ranges and attributes by validation."""
    def entries(name: str) -> list[Any]:
        value = data.get(name, [])
        if not isinstance(value, list):
            raise GenomeError(f"a genome's {name!r} must be a list, got {type(value).__name__}")
        return value

    def integer(entry: dict[str, Any], key: str, where: str) -> int:
        value = entry.get(key)
        if not is_int(value):
            raise GenomeError(f"{where} needs an integer {key!r}, got {value!r}")
        return value

    tables: list[Interface] = []
    count = 0
    for name, (ka, kb), store_by in (("input_edges", ("input", "target"), "b"),
                                     ("output_edges", ("source", "output"), "a"),
                                     ("direct_edges", ("input", "output"), "a")):
        table: Interface = {}
        items = entries(name)
        count += len(items)
        if count > budget:
            raise GenomeError(f"the genome has more than {budget} edges (hidden and interface), over the limit")
        for n, entry in enumerate(items):
            where = f"{name}[{n}]"
            if not isinstance(entry, dict):
                raise GenomeError(f"{where} must be an object")
            a, b = integer(entry, ka, where), integer(entry, kb, where)
            outer, inner = (b, a) if store_by == "b" else (a, b)
            if inner in table.get(outer, {}):
                raise GenomeError(f"{where}: the edge {ka} {a} -> {kb} {b} appears twice")
            table.setdefault(outer, {})[inner] = {k: x for k, x in entry.items() if k not in (ka, kb)}
        tables.append(table)
    biases: dict[int, Any] = {}
    for n, entry in enumerate(entries("output_biases")):
        if not isinstance(entry, dict) or set(entry) != {"output", "bias"}:
            raise GenomeError(f"output_biases[{n}] must be an object with exactly 'output' and 'bias'")
        j = integer(entry, "output", f"output_biases[{n}]")
        if j in biases:
            raise GenomeError(f"output_biases[{n}]: output {j} has two biases")
        biases[j] = entry["bias"]
    return tables[0], tables[1], tables[2], biases


class InterfaceMixin:
    """The interface methods of :class:`~deepstruct.genomes.Genome` (edits keep the nested dicts free of empty
    entries)."""

    __slots__ = ()
    graph: nx.DiGraph
    num_inputs: int
    num_outputs: int
    input_edges: Interface
    output_edges: Interface
    direct_edges: Interface
    output_biases: dict[int, float]

    @property
    def num_interface_edges(self) -> int:
        """Input, output and input-to-output edges (``GenomeLimits.max_edges`` counts them with the hidden ones)."""
        return count_interface_edges(self)

    def interface_edges(self, kind: str) -> list[tuple[int, int]]:
        """The ``"input"`` edges as ``(i, v)``, the ``"output"`` edges as ``(v, j)`` or the ``"direct"`` edges as
        ``(i, j)`` pairs."""
        if kind == "input":
            return [(i, v) for v, inner in self.input_edges.items() for i in inner]
        if kind == "output":
            return [(v, j) for v, inner in self.output_edges.items() for j in inner]
        if kind == "direct":
            return [(i, j) for i, inner in self.direct_edges.items() for j in inner]
        raise ValueError(f"unknown interface edge kind {kind!r}: use 'input', 'output' or 'direct'")

    def add_input_edge(self, i: int, v: int, **attributes: Any) -> None:
        """Let hidden vertex ``v`` read input ``i`` (attributes replace those of an existing edge)."""
        self.input_edges.setdefault(v, {})[i] = attributes

    def add_output_edge(self, v: int, j: int, **attributes: Any) -> None:
        """Let hidden vertex ``v`` feed output ``j``."""
        self.output_edges.setdefault(v, {})[j] = attributes

    def add_direct_edge(self, i: int, j: int, **attributes: Any) -> None:
        """Let input ``i`` feed output ``j`` directly."""
        self.direct_edges.setdefault(i, {})[j] = attributes

    @staticmethod
    def _drop(table: Interface, a: int, b: int) -> None:
        inner = table[a]
        del inner[b]
        if not inner:
            del table[a]

    def remove_input_edge(self, i: int, v: int) -> None:
        self._drop(self.input_edges, v, i)

    def remove_output_edge(self, v: int, j: int) -> None:
        self._drop(self.output_edges, v, j)

    def remove_direct_edge(self, i: int, j: int) -> None:
        self._drop(self.direct_edges, i, j)

    def connect_inputs(self, v: int) -> None:
        """Let ``v`` read every input (without attributes where it did not read it yet)."""
        inner = self.input_edges.setdefault(v, {})
        for i in range(self.num_inputs):
            inner.setdefault(i, {})

    def connect_outputs(self, v: int) -> None:
        """Let ``v`` feed every output."""
        inner = self.output_edges.setdefault(v, {})
        for j in range(self.num_outputs):
            inner.setdefault(j, {})

    def remove_vertex(self, v: int) -> None:
        """Remove hidden vertex ``v`` with its hidden and interface edges."""
        self.graph.remove_node(v)
        self.input_edges.pop(v, None)
        self.output_edges.pop(v, None)
