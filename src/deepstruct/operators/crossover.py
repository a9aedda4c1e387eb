"""Crossovers of genomes, in DEAP's convention: ``cx_x(g1, g2, *, rng, ...) -> (g1, g2)``, in place.

Children are always valid genomes within their limits, and every vertex of a child comes from one of its
parents (with that parent's id) or, when a child would be empty, is new. Acyclicity is kept by construction:
an edge enters a child only if it points forward in a fixed order of the child's vertices, so no cycle check
per edge is needed; :func:`~deepstruct.operators.repair.enforce_limits` then trims a child that is over its
limits.

Examples
--------
>>> import numpy as np
>>> from deepstruct.genomes import Genome
>>> a = Genome(4, 2, edges=[(0, 1), (1, 2), (0, 2)])
>>> b = Genome(4, 2, edges=[(0, 2), (2, 3)])
>>> a, b = cx_aligned(a, b, rng=np.random.default_rng(0))
>>> a.validate() is a and b.validate() is b
True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import networkx as nx
import numpy as np

from deepstruct.genomes import Genome
from deepstruct.genomes.genome import copy_graph
from deepstruct.genomes.interface import copy_interface
from deepstruct.graph import compute_layers
from deepstruct.operators._sampling import check_rng, edge_count, randbelow
from deepstruct.operators.repair import connect_dangling, enforce_limits, ensure_nonempty, fix_next_id

__all__ = ["cx_aligned", "cx_subgraph"]


def _layers(genome: Genome) -> dict[int, int]:
    return compute_layers(genome.graph)


def _replace_by_children(g1: Genome, g2: Genome, l1: dict[int, int], l2: dict[int, int], rng: np.random.Generator,
                         child: Callable[[Genome, Genome, dict[int, int], dict[int, int]], Genome]) -> None:
    """Build both children (``child(primary, other, primary_layers, other_layers)``), then install them in place."""
    next_id = max(g1.next_id, g2.next_id)
    c1, c2 = child(g1, g2, l1, l2), child(g2, g1, l2, l1)
    for genome, built in ((g1, c1), (g2, c2)):
        built.next_id = next_id
        connect_dangling(built)  # a vertex whose predecessors stayed in the other parent reads the inputs
        enforce_limits(built, rng=rng)  # acyclic with valid attributes by construction: only limits to enforce
        ensure_nonempty(built)
        fix_next_id(built)
        genome.adopt(built)


def _empty_like(a: Genome, graph: nx.DiGraph) -> Genome:
    """A genome with ``a``'s interface sizes and limits, holding ``graph`` itself (not a copy), no interface edges."""
    out = Genome.__new__(Genome)
    out.num_inputs, out.num_outputs, out.next_id, out.limits = a.num_inputs, a.num_outputs, a.next_id, a.limits
    out.graph = graph
    out.input_edges, out.output_edges, out.direct_edges, out.output_biases = {}, {}, {}, {}
    return out


def _mix(table: dict[int, dict[int, dict[str, Any]]], other: dict[int, dict[int, dict[str, Any]]],
         keep: Callable[[int], bool], size: int, rng: np.random.Generator, p_disjoint: float) -> None:
    """Mix interface edges in place: shared edges take the other parent's attributes with probability 1/2,
    edges only ``other`` has (for kept ends ``a`` and units ``b < size``) are added with probability
    ``p_disjoint``."""
    for a, inner in other.items():
        if not keep(a):
            continue
        for b, d in inner.items():
            if b >= size:  # a parent of another interface: no such unit in this child
                continue
            mine = table.get(a)
            if mine is not None and b in mine:
                if rng.random() < 0.5:
                    mine[b] = dict(d)
            elif rng.random() < p_disjoint:
                table.setdefault(a, {})[b] = dict(d)


def _aligned_child(a: Genome, b: Genome, la: dict[int, int], lb: dict[int, int], rng: np.random.Generator,
                   p_disjoint: float) -> Genome:
    ga, gb = a.graph, b.graph
    child = copy_graph(ga)
    coins = rng.random(len(ga))
    other_nodes = dict(gb.nodes(data=True))
    for (v, d), coin in zip(child.nodes(data=True), coins, strict=True):  # d: the child's own attribute dict
        other = other_nodes.get(v)
        if other is not None and coin < 0.5:
            d.clear()
            d.update(other)
    coins = rng.random(edge_count(ga))
    i = 0
    other_succ = dict(gb.adjacency())
    for u, nbrs in child.adjacency():
        other_nbrs = other_succ.get(u)
        for v, d in nbrs.items():  # d: the child's own edge attribute dict (child.edges[u, v])
            if other_nbrs is not None and v in other_nbrs and coins[i] < 0.5:
                d.clear()
                d.update(other_nbrs[v])
            i += 1
    key = {v: (la[v], lb.get(v, 0), v) for v in child}
    room = a.limits.max_edges - edge_count(child)
    child_succ = dict(child.adjacency())  # plain dict lookups in the loop over the other parent's edges
    candidates = [(u, v, d) for u, v, d in gb.edges(data=True)
                  if u in key and v in key and v not in child_succ[u] and key[u] < key[v]]
    coins = rng.random(len(candidates))
    for (u, v, d), coin in zip(candidates, coins, strict=True):
        if room <= 0:
            break
        if coin < p_disjoint:
            child.add_edge(u, v, **d)
            room -= 1
    out = _empty_like(a, child)
    out.input_edges, out.output_edges = copy_interface(a.input_edges), copy_interface(a.output_edges)
    out.direct_edges, out.output_biases = copy_interface(a.direct_edges), dict(a.output_biases)
    _mix(out.input_edges, b.input_edges, child.has_node, a.num_inputs, rng, p_disjoint)
    _mix(out.output_edges, b.output_edges, child.has_node, a.num_outputs, rng, p_disjoint)
    _mix(out.direct_edges, b.direct_edges, lambda i: i < a.num_inputs, a.num_outputs, rng, p_disjoint)
    for j, bias in b.output_biases.items():
        if j < a.num_outputs and (j not in out.output_biases or rng.random() < 0.5):
            out.output_biases[j] = bias
    return out


def cx_aligned(g1: Genome, g2: Genome, *, rng: np.random.Generator,
               p_disjoint: float = 0.5) -> tuple[Genome, Genome]:
    """NEAT-like crossover aligned by persistent vertex id (homologous ids: see
    :class:`~deepstruct.genomes.InnovationRegistry`).

    Each child keeps its own parent's vertices and edges, interface edges included (its "primary" parent, as
    NEAT keeps the fitter parent's genes); for every vertex and edge present in both parents the attributes
    (activation, inherited weights) come from either parent with probability 1/2; edges only the other
    parent has, between vertices the child has, are added with probability ``p_disjoint`` when they point
    forward in the primary parent's layering (so no cycle can form), and so are the other parent's input,
    output and input-to-output edges of the child's vertices. Output biases come from either parent.

    Parameters
    ----------
    g1, g2 : Genome
        The parents, replaced in place by the children.
    rng : numpy.random.Generator
        All randomness.
    p_disjoint : float
        Probability of taking each edge that only the other parent has.

    Returns
    -------
    tuple of Genome
        ``(g1, g2)``, DEAP's convention.
    """
    check_rng(rng)
    if not 0.0 <= p_disjoint <= 1.0:
        raise ValueError(f"p_disjoint must be a probability in [0, 1], got {p_disjoint!r}")
    _replace_by_children(g1, g2, _layers(g1), _layers(g2), rng,
                         lambda a, b, la, lb: _aligned_child(a, b, la, lb, rng, p_disjoint))
    return g1, g2


def _exchange_child(a: Genome, b: Genome, la: dict[int, int], lb: dict[int, int], lo: int,
                    hi: int) -> Genome:
    ga, gb = a.graph, b.graph
    child = nx.DiGraph()
    key: dict[int, tuple[int, int]] = {}
    for v, d in ga.nodes(data=True):
        if not lo <= la[v] < hi:
            child.add_node(v, **d)
            key[v] = (la[v], 0)
    for v, d in gb.nodes(data=True):
        if lo <= lb[v] < hi and v not in key:
            child.add_node(v, **d)
            key[v] = (lb[v], 1)
    edges: list[tuple[int, int, dict[str, Any]]] = [*ga.edges(data=True), *gb.edges(data=True)]
    child_succ = dict(child.adjacency())  # every vertex is in: its inner dicts follow the edges added below
    for u, v, d in edges:
        if u in key and v in key and key[u] < key[v] and v not in child_succ[u]:
            child.add_edge(u, v, **d)
    out = _empty_like(a, child)
    for v, (_, side) in key.items():  # every vertex keeps the interface it had in the parent it comes from
        parent = b if side else a
        inputs = {i: dict(d) for i, d in parent.input_edges.get(v, {}).items() if i < a.num_inputs}
        outputs = {j: dict(d) for j, d in parent.output_edges.get(v, {}).items() if j < a.num_outputs}
        if inputs:
            out.input_edges[v] = inputs
        if outputs:
            out.output_edges[v] = outputs
    out.direct_edges = {i: {j: dict(d) for j, d in inner.items()} for i, inner in a.direct_edges.items()}
    out.output_biases = dict(a.output_biases)
    return out


def cx_subgraph(g1: Genome, g2: Genome, *, rng: np.random.Generator) -> tuple[Genome, Genome]:
    """Exchange a range of layers: each child keeps its parent outside layers ``[lo, hi)`` (longest-path
    layering) and takes the other parent's vertices in that range, with every edge of either parent that
    joins two of the child's vertices and points forward in the layering (layers are compared across the
    parents; a vertex id present in both parents is one vertex, the homology of persistent ids).

    Every vertex keeps the input and output edges it has in the parent it comes from (direct edges and
    output biases: the child's own parent); a vertex left without a way in or out is connected to the whole
    interface. The range is drawn uniformly among the ranges both parents have. A child that would exceed
    its limits is trimmed by :func:`~deepstruct.operators.repair.enforce_limits`.

    Parameters
    ----------
    g1, g2 : Genome
        The parents, replaced in place by the children.
    rng : numpy.random.Generator
        All randomness.

    Returns
    -------
    tuple of Genome
        ``(g1, g2)``, DEAP's convention.
    """
    check_rng(rng)
    l1, l2 = _layers(g1), _layers(g2)
    depth = min(max(l1.values(), default=0), max(l2.values(), default=0)) + 1
    lo = randbelow(rng, depth)
    hi = lo + 1 + randbelow(rng, depth - lo)
    _replace_by_children(g1, g2, l1, l2, rng, lambda a, b, la, lb: _exchange_child(a, b, la, lb, lo, hi))
    return g1, g2
