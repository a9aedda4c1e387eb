"""``build_layer_index``: deepstruct 0.10's layering function, as two dicts."""

from __future__ import annotations

from collections.abc import Hashable

import networkx as nx

from deepstruct.graph.layering import compute_layers

__all__ = ["build_layer_index"]


def build_layer_index(
    graph: nx.DiGraph, layer_index: dict[Hashable, int] | None = None
) -> tuple[dict[Hashable, int], dict[int, list[Hashable]]]:
    """``(layer of each vertex, vertices of each layer)``: the longest-path layering of a DAG, O(V + E).

    ``layer_index`` pins the layers of some vertices (it is updated in place and returned, as in 0.10); the
    others get one more than the highest layer among their predecessors. A cycle raises a ``ValueError``.

    Examples
    --------
    >>> layers, vertices = build_layer_index(nx.DiGraph([(1, 3), (2, 3), (3, 5), (1, 5)]))
    >>> layers[5], vertices[0]
    (2, [1, 2])
    >>> build_layer_index(nx.DiGraph([(1, 2)]), {1: 4})[0]
    {1: 4, 2: 5}
    """
    if not isinstance(graph, nx.DiGraph):
        raise ValueError(f"expected a directed graph, got {type(graph).__name__}")
    longest = compute_layers(graph)
    if layer_index is None:
        layer_index = longest
    else:
        for v in sorted(graph, key=longest.__getitem__):  # predecessors come first
            if v not in layer_index:
                layer_index[v] = max((layer_index[u] + 1 for u in graph.pred[v]), default=0)
    vertices_by_layer: dict[int, list[Hashable]] = {}
    for v in graph:
        vertices_by_layer.setdefault(layer_index[v], []).append(v)
    return layer_index, dict(sorted(vertices_by_layer.items()))
