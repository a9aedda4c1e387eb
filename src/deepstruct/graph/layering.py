"""Longest-path layering of directed acyclic graphs in O(V + E)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import networkx as nx

__all__ = ["compute_layers", "adjacency_dicts", "find_cycle_message", "check_dag"]

Adjacency = dict[Hashable, dict[Hashable, dict[str, Any]]]
"""A vertex's neighbours (successors or predecessors), each mapped to the edge's attribute dict."""


def adjacency_dicts(graph: nx.DiGraph) -> tuple[Adjacency, Adjacency]:
    """``(succ, pred)`` of a directed graph as plain dicts, read through networkx's public API.

    ``succ[v]`` (``pred[v]``) maps every successor (predecessor) of ``v`` to the edge's attribute dict. The
    outer dicts are new, built in O(V) at C speed from ``graph.adjacency()`` and from the adjacency of
    ``graph.reverse(copy=False)`` (a view, nothing copied); the inner dicts are the ones these yield, the
    graph's own, so treat them as read-only: edit edge attributes through ``graph.edges[u, v]`` and the
    structure through the graph's methods, and take a new pair after adding or removing vertices.

    Lookups in plain dicts build nothing, where ``graph.succ[v]`` builds an ``AtlasView`` each time, so
    O(V + E) passes over these (:func:`compute_layers`, searches, hashing) run at the speed of networkx's
    own loops.

    Examples
    --------
    >>> succ, pred = adjacency_dicts(nx.DiGraph([(0, 1, {"weight": 0.5}), (0, 2)]))
    >>> succ[0], pred[1], pred[0]
    ({1: {'weight': 0.5}, 2: {}}, {0: {'weight': 0.5}}, {})
    """
    return dict(graph.adjacency()), dict(graph.reverse(copy=False).adjacency())


def find_cycle_message(graph: nx.DiGraph) -> str:
    """Describe one directed cycle of ``graph`` as ``a -> b -> ... -> a``."""
    cycle = nx.find_cycle(graph, orientation="original")
    path = [repr(edge[0]) for edge in cycle] + [repr(cycle[0][0])]
    return " -> ".join(path)


def check_dag(graph: nx.DiGraph, *, what: str = "graph") -> None:
    """Raise a ``ValueError`` naming one cycle when ``graph`` is not a DAG or is empty."""
    if graph.number_of_nodes() == 0:
        raise ValueError(f"the {what} is empty: it needs at least one vertex")
    compute_layers(graph)


def compute_layers(
    succ: nx.DiGraph | Mapping[Hashable, Mapping[Hashable, Any]],
    pred: Mapping[Hashable, Mapping[Hashable, Any]] | None = None,
    *,
    graph: nx.DiGraph | None = None,
) -> dict[Hashable, int]:
    """Return the layer of every vertex: the length of the longest path reaching it from any source.

    Sources (in-degree zero) are in layer 0. Kahn's algorithm, O(V + E). A cycle raises a
    ``ValueError`` that names one cycle.

    Parameters
    ----------
    succ : nx.DiGraph or mapping
        The directed graph itself (``compute_layers(graph)``, the fast way: its adjacency is read once, as
        :func:`adjacency_dicts` does), or the successor adjacency ``{v: {successor: ...}}`` of any graph, such
        as ``graph.succ`` or the first dict of :func:`adjacency_dicts`.
    pred : mapping, optional
        With a successor mapping, the predecessor adjacency (``graph.pred``; only its sizes are used).
    graph : nx.DiGraph, optional
        With mappings, the graph, used only to name a cycle in the error message.

    Examples
    --------
    >>> g = nx.DiGraph([(0, 1), (1, 2), (0, 2)])
    >>> compute_layers(g)
    {0: 0, 1: 1, 2: 2}
    >>> compute_layers(g.succ, g.pred)
    {0: 0, 1: 1, 2: 2}
    """
    if pred is None:
        if not isinstance(succ, nx.Graph):
            raise TypeError("compute_layers takes a directed graph, or successor and predecessor mappings")
        if not succ.is_directed():
            raise ValueError("the graph is undirected: a layering needs a directed graph")
        graph = succ
        succ = dict(graph.adjacency())
        # only the in-degrees: read from the reverse view's adjacency without building a predecessor dict
        indegree = {v: len(p) for v, p in graph.reverse(copy=False).adjacency()}
    else:
        indegree = {v: len(p) for v, p in pred.items()}
    layer = dict.fromkeys(indegree, 0)
    stack = [v for v, d in indegree.items() if d == 0]
    visited = 0
    while stack:
        v = stack.pop()
        visited += 1
        next_layer = layer[v] + 1
        for w in succ[v]:
            if layer[w] < next_layer:
                layer[w] = next_layer
            d = indegree[w] - 1
            indegree[w] = d
            if d == 0:
                stack.append(w)
    if visited != len(indegree):
        g = graph if graph is not None else nx.DiGraph({u: list(s) for u, s in succ.items()})
        raise ValueError(f"the graph has a cycle: {find_cycle_message(g)}; a layered graph must be acyclic")
    return layer
