"""Hypothesis strategies shared by the test suite."""

from __future__ import annotations

import networkx as nx
from hypothesis import strategies as st


@st.composite
def random_dags(draw: st.DrawFn, max_vertices: int = 14, min_vertices: int = 1) -> nx.DiGraph:
    """A random DAG: a random vertex order, edges only forward in it, vertex ids shuffled ints."""
    n = draw(st.integers(min_vertices, max_vertices))
    ids = draw(st.permutations(list(range(100, 100 + n))))
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    chosen = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=len(pairs))) if pairs else []
    graph = nx.DiGraph()
    graph.add_nodes_from(ids)
    graph.add_edges_from((ids[i], ids[j]) for i, j in chosen)
    return graph
