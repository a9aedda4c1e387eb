"""Fast random choices and reachability on a genome's graph (shared by the operator modules).

Everything works on networkx's adjacency dicts directly and avoids whole-graph rebuilds: picking a vertex is
O(V) at C speed (``list`` of a dict), picking an edge O(V) at C speed (cumulative out-degrees and a bisection),
and the cycle check of an added edge is a bidirectional search that stops as soon as either side is exhausted.
"""

from __future__ import annotations

from bisect import bisect_right
from itertools import accumulate

import networkx as nx
import numpy as np

from deepstruct.genomes import Genome

__all__ = ["check_rng", "edge_count", "total_edges", "randbelow", "random_vertex", "random_edge", "random_pair",
           "reaches"]


def check_rng(rng: np.random.Generator) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator (numpy.random.default_rng(seed)), "
                         f"got {type(rng).__name__}")
    return rng


def edge_count(graph: nx.DiGraph) -> int:
    """The number of edges, at C speed (``nx.DiGraph.number_of_edges`` sums degrees in Python)."""
    return sum(map(len, graph._succ.values()))


def total_edges(genome: Genome) -> int:
    """Hidden, input, output and direct edges: what :class:`~deepstruct.genomes.GenomeLimits` ``max_edges`` counts."""
    return (edge_count(genome.graph) + sum(map(len, genome.input_edges.values()))
            + sum(map(len, genome.output_edges.values())) + sum(map(len, genome.direct_edges.values())))


def randbelow(rng: np.random.Generator, n: int) -> int:
    """A uniform int in ``[0, n)`` (faster than ``rng.integers`` for one scalar)."""
    return min(int(rng.random() * n), n - 1)


def random_vertex(genome: Genome, rng: np.random.Generator) -> int | None:
    nodes = list(genome.graph._node)
    return nodes[randbelow(rng, len(nodes))] if nodes else None


def random_edge(genome: Genome, rng: np.random.Generator) -> tuple[int, int] | None:
    """A uniformly random edge, or None when there is none."""
    return random_pair(genome.graph._succ, rng)


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
    succ, pred = genome.graph._succ, genome.graph._pred
    if not succ[a] or not pred[b]:
        return False
    fwd_seen, bwd_seen = {a}, {b}
    fwd, bwd = [a], [b]
    while fwd and bwd:
        if len(fwd) <= len(bwd):
            x = fwd.pop()
            for y in succ[x]:
                if y in bwd_seen:
                    return True
                if y not in fwd_seen:
                    fwd_seen.add(y)
                    fwd.append(y)
        else:
            x = bwd.pop()
            for y in pred[x]:
                if y in fwd_seen:
                    return True
                if y not in bwd_seen:
                    bwd_seen.add(y)
                    bwd.append(y)
    return False
