"""Layering time (longest path from any source, O(V + E)) for graphs of 1k to 100k vertices.

    python benchmarks/bench_layering.py

Compares deepstruct's layer index against networkx's topological generations pass (no longest path, just
a reference O(V + E) traversal), side by side, as a ratio.
"""

from __future__ import annotations

import time

import networkx as nx

from deepstruct.graph import CachedLayeredGraph, orient


def best_of(fn, repeats: int = 3, setup=lambda: None) -> float:
    """Best time of ``fn(setup())`` over ``repeats`` runs (``setup`` not timed)."""
    samples = []
    for _ in range(repeats):
        arg = setup()
        start = time.perf_counter()
        fn(arg)
        samples.append(time.perf_counter() - start)
    return min(samples)


def main() -> None:
    print(f"{'vertices':>9}{'edges':>9}{'layers':>8}{'deepstruct ms':>15}{'nx topo-gen ms':>16}{'ratio':>7}")
    for n in (1_000, 10_000, 100_000):
        dag = orient(nx.gnm_random_graph(n, 3 * n, seed=1), "coloring")

        # each run times the first layer index of a fresh layered copy (the copy is not timed)
        t_ours = best_of(lambda g: g.num_layers, setup=lambda dag=dag: CachedLayeredGraph(dag))
        t_ref = best_of(lambda g: list(nx.topological_generations(g)), setup=lambda dag=dag: dag)
        layers = CachedLayeredGraph(dag).num_layers
        print(f"{n:9d}{dag.number_of_edges():9d}{layers:8d}{t_ours * 1e3:15.1f}{t_ref * 1e3:16.1f}"
              f"{t_ours / t_ref:7.2f}")


if __name__ == "__main__":
    main()
