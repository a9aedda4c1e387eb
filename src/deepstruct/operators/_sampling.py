"""Fast random choices and reachability on a genome's graph (shared by the operator modules).

Everything reads the graph through networkx's public API and avoids whole-graph rebuilds: picking a vertex is
O(V) at C speed (``list`` of the graph), picking an edge O(V) at C speed (cumulative out-degrees over
``graph.adjacency()`` and a bisection), and the cycle check of an added edge is a bidirectional search that
stops as soon as either side is exhausted.
"""

from __future__ import annotations

from bisect import bisect_right
from itertools import accumulate, islice
from operator import itemgetter

import networkx as nx
import numpy as np

from deepstruct.genomes import Genome

__all__ = ["check_rng", "edge_count", "cumulative_out_degrees", "interface_edges", "total_edges", "edges_fit",
           "randbelow", "random_vertex", "random_edge", "random_pair", "reaches"]


def check_rng(rng: np.random.Generator) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator (numpy.random.default_rng(seed)), "
                         f"got {type(rng).__name__}")
    return rng


_NEIGHBOURS = itemgetter(1)


def edge_count(graph: nx.DiGraph) -> int:
    """The number of edges, at C speed (``nx.DiGraph.number_of_edges`` sums degrees in Python)."""
    return sum(map(len, map(_NEIGHBOURS, graph.adjacency())))


def cumulative_out_degrees(graph: nx.DiGraph) -> list[int]:
    """Running sums of the out-degrees in the graph's vertex order, at C speed: the last one (if any) is the
    number of edges, and :func:`random_edge` bisects them."""
    return list(accumulate(map(len, map(_NEIGHBOURS, graph.adjacency()))))


def interface_edges(genome: Genome) -> int:
    """Input, output and direct edges."""
    return (sum(map(len, genome.input_edges.values())) + sum(map(len, genome.output_edges.values()))
            + sum(map(len, genome.direct_edges.values())))


def total_edges(genome: Genome) -> int:
    """Hidden, input, output and direct edges: what :class:`~deepstruct.genomes.GenomeLimits` ``max_edges`` counts."""
    return edge_count(genome.graph) + interface_edges(genome)


def edges_fit(genome: Genome, extra: int, hidden: int | None = None) -> bool:
    """Whether ``total_edges(genome) + extra`` is within ``max_edges``.

    ``hidden``, when the caller has it, is the number of hidden edges; else they are counted only when their
    bound ``V * V`` leaves the answer open (so on genomes far below the limit the check is O(1) plus the
    interface).
    """
    room = genome.limits.max_edges - extra - interface_edges(genome)
    if hidden is None:
        vertices = len(genome.graph)
        if vertices * vertices <= room:
            return True
        hidden = edge_count(genome.graph)
    return hidden <= room


def randbelow(rng: np.random.Generator, n: int) -> int:
    """A uniform int in ``[0, n)`` (faster than ``rng.integers`` for one scalar)."""
    return min(int(rng.random() * n), n - 1)


def random_vertex(genome: Genome, rng: np.random.Generator) -> int | None:
    nodes = list(genome.graph)
    return nodes[randbelow(rng, len(nodes))] if nodes else None


def random_edge(genome: Genome, rng: np.random.Generator,
                cumulative: list[int] | None = None) -> tuple[int, int] | None:
    """A uniformly random edge, or None when there is none (the pair :func:`random_pair` picks in the graph's
    successor adjacency for the same ``rng`` state). ``cumulative``: the graph's
    :func:`cumulative_out_degrees`, when the caller has them."""
    g = genome.graph
    if cumulative is None:
        cumulative = cumulative_out_degrees(g)
    total = cumulative[-1] if cumulative else 0
    if total == 0:
        return None
    k = randbelow(rng, total)
    i = bisect_right(cumulative, k)
    u = next(islice(g, i, None))  # the i-th vertex, in the order of g.adjacency()
    return u, next(islice(g.successors(u), k - (cumulative[i - 1] if i else 0), None))


def random_pair(succ: dict[int, dict[int, dict]], rng: np.random.Generator) -> tuple[int, int] | None:
    """A uniformly random ``(a, b)`` of a nested dict ``{a: {b: ...}}`` (an adjacency or an interface)."""
    nodes = list(succ)
    cumulative = list(accumulate(map(len, succ.values())))
    total = cumulative[-1] if cumulative else 0
    if total == 0:
        return None
    k = randbelow(rng, total)
    i = bisect_right(cumulative, k)
    u = nodes[i]
    offset = k - (cumulative[i - 1] if i else 0)
    for j, v in enumerate(succ[u]):
        if j == offset:
            return u, v
    raise AssertionError("unreachable")


def reaches(genome: Genome, a: int, b: int) -> bool:
    """Whether there is a directed path from ``a`` to ``b`` (True when ``a == b``).

    A bidirectional search: forward from ``a`` and backward from ``b``, always expanding the smaller frontier;
    it answers "no" as soon as either side has nothing left to explore.
    """
    if a == b:
        return True
    g = genome.graph
    if not g.succ[a] or not g.pred[b]:
        return False
    succ, pred = g.successors, g.predecessors  # iterators over the adjacency dicts: no view built per vertex
    fwd_seen, bwd_seen = {a}, {b}
    fwd, bwd = [a], [b]
    while fwd and bwd:
        if len(fwd) <= len(bwd):
            x = fwd.pop()
            for y in succ(x):
                if y in bwd_seen:
                    return True
                if y not in fwd_seen:
                    fwd_seen.add(y)
                    fwd.append(y)
        else:
            x = bwd.pop()
            for y in pred(x):
                if y in fwd_seen:
                    return True
                if y not in bwd_seen:
                    bwd_seen.add(y)
                    bwd.append(y)
    return False
