"""Repair helpers: turn any graph-with-interface into a valid genome within its limits, in place.

Each helper returns the genome it was given. :func:`repair` applies all of them in order; the crossovers
call it on their children, and user-written operators can too. A hidden vertex with no way in (no predecessor,
no input edge) or no way out (no successor, no output edge) is connected to every input or output
(:func:`connect_dangling`, the meaning schema version 1 gave to every source and sink); a vertex that is still
off every input-to-output path after the limits are enforced is removed (:func:`remove_dangling`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

import networkx as nx
import numpy as np

from deepstruct._validation import is_index, is_int
from deepstruct.genomes import Genome
from deepstruct.genomes.genome import attribute_problem
from deepstruct.genomes.interface import dangling
from deepstruct.operators._sampling import total_edges

T = TypeVar("T")

__all__ = ["repair", "drop_invalid_ids", "drop_invalid_attributes", "drop_invalid_interface", "break_cycles",
           "enforce_limits", "ensure_nonempty", "fix_next_id", "connect_dangling", "remove_dangling"]


def drop_invalid_ids(genome: Genome) -> Genome:
    """Remove vertices whose id is not a non-negative int."""
    bad = [v for v in genome.graph.nodes if not is_int(v) or v < 0]
    genome.graph.remove_nodes_from(bad)
    return genome


def fix_next_id(genome: Genome) -> Genome:
    """Raise ``next_id`` above every vertex id (ids are never reused)."""
    genome.next_id = max(genome.next_id, max(genome.graph.nodes, default=-1) + 1)
    return genome


def drop_invalid_attributes(genome: Genome) -> Genome:
    """Remove unknown or malformed vertex and edge attributes (interface edges and output biases included)."""
    for _, d in genome.graph.nodes(data=True):
        for key in [k for k, x in d.items() if attribute_problem("vertex", k, x)]:
            del d[key]
    edges = [d for _, _, d in genome.graph.edges(data=True)]
    for table in (genome.input_edges, genome.output_edges, genome.direct_edges):
        edges.extend(d for inner in table.values() for d in inner.values() if isinstance(d, dict))
    for d in edges:
        for key in [k for k, x in d.items() if attribute_problem("edge", k, x)]:
            del d[key]
    for j in [j for j, b in genome.output_biases.items() if attribute_problem("vertex", "bias", b)]:
        del genome.output_biases[j]
    return genome


def drop_invalid_interface(genome: Genome) -> Genome:
    """Remove interface edges to missing vertices or with out-of-range input/output indices, attribute
    entries that are not dicts, and output biases of missing outputs."""
    g, n_in, n_out = genome.graph, genome.num_inputs, genome.num_outputs
    for table, size, hidden in ((genome.input_edges, n_in, True), (genome.output_edges, n_out, True),
                                (genome.direct_edges, n_out, False)):
        for a in list(table):
            if (a not in g) if hidden else not is_index(a, n_in):
                del table[a]
                continue
            inner = table[a]
            if not isinstance(inner, dict):
                del table[a]
                continue
            for b in [b for b, d in inner.items() if not is_index(b, size) or not isinstance(d, dict)]:
                del inner[b]
            if not inner:
                del table[a]
    for j in [j for j in genome.output_biases if not is_index(j, n_out)]:
        del genome.output_biases[j]
    return genome


def connect_dangling(genome: Genome, vertices: list[int] | None = None) -> Genome:
    """Connect every vertex (of ``vertices``, default all) without a way in to every input and every vertex
    without a way out to every output: the meaning schema version 1 gave to sources and sinks."""
    g = genome.graph
    for v in dangling(genome, vertices):
        if not g.pred[v] and not genome.input_edges.get(v):
            genome.connect_inputs(v)
        if not g.succ[v] and not genome.output_edges.get(v):
            genome.connect_outputs(v)
    return genome


def remove_dangling(genome: Genome) -> Genome:
    """Remove every vertex that lies on no input-to-output path (through hidden and interface edges), with its
    edges: the vertices that encoding a pruned phenotype drops."""
    g = genome.graph
    forward = _reach(g.successors, [v for v, inner in genome.input_edges.items() if inner])
    backward = _reach(g.predecessors, [v for v, inner in genome.output_edges.items() if inner])
    for v in [v for v in g if v not in forward or v not in backward]:
        genome.remove_vertex(v)
    return genome


def _reach(neighbours: Callable[[int], Iterator[int]], start: list[int]) -> set[int]:
    """The vertices reachable from ``start`` through ``neighbours`` (``graph.successors`` or ``predecessors``)."""
    seen, stack = set(start), list(start)
    while stack:
        for w in neighbours(stack.pop()):
            if w not in seen:
                seen.add(w)
                stack.append(w)
    return seen


def break_cycles(genome: Genome, *, rng: np.random.Generator | None = None) -> Genome:
    """Make the graph acyclic by removing as few edges as a vertex order allows.

    Self-loops go; inside every strongly connected component the vertices are ordered (by id, or at random
    with ``rng``) and the edges pointing backwards in that order are removed. Edges between components are
    kept (the condensation is acyclic), so the result is a DAG.
    """
    g = genome.graph
    g.remove_edges_from(list(nx.selfloop_edges(g)))
    if nx.is_directed_acyclic_graph(g):
        return genome
    for component in nx.strongly_connected_components(g):
        if len(component) < 2:
            continue
        members = sorted(component)
        if rng is not None:
            members = [members[i] for i in rng.permutation(len(members))]
        rank = {v: i for i, v in enumerate(members)}
        g.remove_edges_from([(u, v) for u in members for v in g.successors(u) if v in rank and rank[v] < rank[u]])
    return genome


def enforce_limits(genome: Genome, *, rng: np.random.Generator | None = None) -> Genome:
    """Remove vertices, then edges (hidden and interface edges alike), until the genome is within its limits
    (random ones with ``rng``, else the newest ids / last edges), then the vertices left on no
    input-to-output path (:func:`remove_dangling`)."""
    g, limits = genome.graph, genome.limits
    changed = False
    if len(g) > limits.max_vertices:
        for v in _pick(sorted(g.nodes), len(g) - limits.max_vertices, rng):
            genome.remove_vertex(v)
        changed = True
    excess = total_edges(genome) - limits.max_edges
    if excess > 0:
        edges = ([("h", u, v) for u, v in sorted(g.edges)]
                 + [("i", i, v) for v in sorted(genome.input_edges) for i in sorted(genome.input_edges[v])]
                 + [("o", v, j) for v in sorted(genome.output_edges) for j in sorted(genome.output_edges[v])]
                 + [("d", i, j) for i in sorted(genome.direct_edges) for j in sorted(genome.direct_edges[i])])
        for kind, a, b in _pick(edges, excess, rng):
            remove_edge_of_kind(genome, kind, a, b)
        changed = True
    if changed:
        remove_dangling(genome)
    return genome


def _pick(items: list[T], count: int, rng: np.random.Generator | None) -> list[T]:
    """``count`` of ``items``: at random with ``rng``, else the last ones."""
    return [items[i] for i in rng.choice(len(items), count, replace=False)] if rng is not None else items[-count:]


def ensure_nonempty(genome: Genome) -> Genome:
    """Give an empty genome one vertex that reads every input and feeds every output."""
    if len(genome.graph) == 0:
        v = genome.add_vertex()
        genome.connect_inputs(v)
        genome.connect_outputs(v)
    return genome


def repair(genome: Genome, *, rng: np.random.Generator | None = None) -> Genome:
    """Make ``genome`` valid in place and return it: invalid ids, interface entries and attributes dropped,
    cycles broken, vertices without a way in or out connected to the interface, limits enforced (and what
    they cut off removed), never empty, ``next_id`` above every id. A valid genome is left unchanged.

    Examples
    --------
    >>> g = Genome(2, 1, edges=[(0, 1), (1, 2), (2, 0)])
    >>> repair(g).validate().num_edges
    2
    """
    steps: tuple[Callable[[Genome], Genome], ...] = (drop_invalid_ids, drop_invalid_interface,
                                                     drop_invalid_attributes)
    for step in steps:
        step(genome)
    break_cycles(genome, rng=rng)
    connect_dangling(genome)
    enforce_limits(genome, rng=rng)
    ensure_nonempty(genome)
    fix_next_id(genome)
    return genome


def remove_edge_of_kind(genome: Genome, kind: str, source: int, target: int) -> None:
    """Remove one edge of ``genome``: ``kind`` ``"h"`` (hidden ``source -> target``), ``"i"`` (input ``source``
    -> vertex ``target``), ``"o"`` (vertex ``source`` -> output ``target``) or ``"d"`` (input -> output)."""
    if kind == "h":
        genome.graph.remove_edge(source, target)
    elif kind == "i":
        genome.remove_input_edge(source, target)
    elif kind == "o":
        genome.remove_output_edge(source, target)
    else:
        genome.remove_direct_edge(source, target)
