"""Layering time (longest path from any source, O(V + E)) for graphs of 1k to 100k vertices.

    python benchmarks/bench_layering.py

Compares deepstruct's layer index against networkx's topological generations pass (no longest path, just
a reference O(V + E) traversal), side by side, as a ratio.
"""

from __future__ import annotations

import time

import networkx as nx

from deepstruct.graph import CachedLayeredGraph, orient


def best_of(fn, repeats: int = 3) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return min(samples)


def main() -> None:
    print(f"{'vertices':>9}{'edges':>9}{'layers':>8}{'deepstruct ms':>15}{'nx topo-gen ms':>16}{'ratio':>7}")
    for n in (1_000, 10_000, 100_000):
        dag = orient(nx.gnm_random_graph(n, 3 * n, seed=1), "coloring")

        def layer(dag: nx.DiGraph = dag) -> int:
            fresh = CachedLayeredGraph()
            fresh._succ, fresh._pred, fresh._node, fresh._adj = dag._succ, dag._pred, dag._node, dag._adj
            return fresh.num_layers

        t_ours = best_of(layer)
        t_ref = best_of(lambda dag=dag: list(nx.topological_generations(dag)))
        print(f"{n:9d}{dag.number_of_edges():9d}{layer():8d}{t_ours * 1e3:15.1f}{t_ref * 1e3:16.1f}"
              f"{t_ours / t_ref:7.2f}")


if __name__ == "__main__":
    main()
