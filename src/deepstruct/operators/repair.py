"""Repair helpers: turn any graph-with-interface into a valid genome within its limits, in place.

Each helper returns the genome it was given. :func:`repair` applies all of them in order; the crossovers
call it on their children, and user-written operators can too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import networkx as nx
import numpy as np

from deepstruct.genomes import Genome
from deepstruct.genomes.genome import attribute_problem
from deepstruct.operators._sampling import edge_count

T = TypeVar("T")

__all__ = ["repair", "drop_invalid_ids", "drop_invalid_attributes", "break_cycles", "enforce_limits",
           "ensure_nonempty", "fix_next_id"]


def drop_invalid_ids(genome: Genome) -> Genome:
    """Remove vertices whose id is not a non-negative int."""
    bad = [v for v in genome.graph.nodes if isinstance(v, bool) or not isinstance(v, int) or v < 0]
    genome.graph.remove_nodes_from(bad)
    return genome


def fix_next_id(genome: Genome) -> Genome:
    """Raise ``next_id`` above every vertex id (ids are never reused)."""
    genome.next_id = max(genome.next_id, max(genome.graph.nodes, default=-1) + 1)
    return genome


def drop_invalid_attributes(genome: Genome) -> Genome:
    """Remove unknown or malformed vertex and edge attributes."""
    for _, d in genome.graph.nodes(data=True):
        for key in [k for k, x in d.items() if attribute_problem("vertex", k, x)]:
            del d[key]
    for _, _, d in genome.graph.edges(data=True):
        for key in [k for k, x in d.items() if attribute_problem("edge", k, x)]:
            del d[key]
    return genome


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
        g.remove_edges_from([(u, v) for u in members for v in g._succ[u] if v in rank and rank[v] < rank[u]])
    return genome


def enforce_limits(genome: Genome, *, rng: np.random.Generator | None = None) -> Genome:
    """Remove vertices, then edges, until the genome is within its limits (random ones with ``rng``,
    else the newest ids / last edges)."""
    g, limits = genome.graph, genome.limits
    if len(g) > limits.max_vertices:
        g.remove_nodes_from(_pick(sorted(g.nodes), len(g) - limits.max_vertices, rng))
    if edge_count(g) > limits.max_edges:
        g.remove_edges_from(_pick(sorted(g.edges), edge_count(g) - limits.max_edges, rng))
    return genome


def _pick(items: list[T], count: int, rng: np.random.Generator | None) -> list[T]:
    """``count`` of ``items``: at random with ``rng``, else the last ones."""
    return [items[i] for i in rng.choice(len(items), count, replace=False)] if rng is not None else items[-count:]


def ensure_nonempty(genome: Genome) -> Genome:
    """Give an empty genome one (unconnected) vertex."""
    if len(genome.graph) == 0:
        genome.add_vertex()
    return genome


def repair(genome: Genome, *, rng: np.random.Generator | None = None) -> Genome:
    """Make ``genome`` valid in place and return it: invalid ids and attributes dropped, cycles broken, limits
    enforced, never empty, ``next_id`` above every id. A valid genome is left unchanged.

    Examples
    --------
    >>> g = Genome(2, 1, edges=[(0, 1), (1, 2), (2, 0)])
    >>> repair(g).validate().num_edges
    2
    """
    steps: tuple[Callable[[Genome], Genome], ...] = (drop_invalid_ids, drop_invalid_attributes)
    for step in steps:
        step(genome)
    break_cycles(genome, rng=rng)
    enforce_limits(genome, rng=rng)
    ensure_nonempty(genome)
    fix_next_id(genome)
    return genome
