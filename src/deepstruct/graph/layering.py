"""Longest-path layering of directed acyclic graphs in O(V + E)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import networkx as nx

__all__ = ["compute_layers", "find_cycle_message", "check_dag"]


def find_cycle_message(graph: nx.DiGraph) -> str:
    """Describe one directed cycle of ``graph`` as ``a -> b -> ... -> a``."""
    cycle = nx.find_cycle(graph, orientation="original")
    path = [repr(edge[0]) for edge in cycle] + [repr(cycle[0][0])]
    return " -> ".join(path)


def check_dag(graph: nx.DiGraph, *, what: str = "graph") -> None:
    """Raise a ``ValueError`` naming one cycle when ``graph`` is not a DAG or is empty."""
    if graph.number_of_nodes() == 0:
        raise ValueError(f"the {what} is empty: it needs at least one vertex")
    compute_layers(graph._succ, graph._pred, graph=graph)


def compute_layers(
    succ: Mapping[Hashable, Mapping[Hashable, Any]],
    pred: Mapping[Hashable, Mapping[Hashable, Any]],
    *,
    graph: nx.DiGraph | None = None,
) -> dict[Hashable, int]:
    """Return the layer of every vertex: the length of the longest path reaching it from any source.

    Sources (in-degree zero) are in layer 0. Kahn's algorithm, O(V + E). A cycle raises a
    ``ValueError`` that names one cycle.

    Parameters
    ----------
    succ, pred : mapping
        Successor and predecessor adjacency, as ``nx.DiGraph._succ`` / ``_pred``.
    graph : nx.DiGraph, optional
        The graph, used only to name a cycle in the error message.

    Examples
    --------
    >>> g = nx.DiGraph([(0, 1), (1, 2), (0, 2)])
    >>> compute_layers(g.succ, g.pred)
    {0: 0, 1: 1, 2: 2}
    """
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
