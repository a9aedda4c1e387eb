"""MaskedDeepDAN forward+backward against a dense MLP, and on a Newman–Watts–Strogatz structure.

    python benchmarks/bench_dan.py

One torch thread, batch 256. Prints milliseconds per forward+backward and the ratios.
Targets (issue 2): the FFN-shaped DAN within 1.5x of the dense MLP; NWS-1000 under 20 ms.
"""

from __future__ import annotations

import time

import networkx as nx
import numpy as np
import torch
from torch import nn

from deepstruct.graph import CachedLayeredGraph, orient
from deepstruct.sparse import MaskedDeepDAN


def ffn_structure(widths: list[int]) -> CachedLayeredGraph:
    graph = CachedLayeredGraph()
    layers = [[(i, j) for j in range(w)] for i, w in enumerate(widths)]
    for vs in layers:
        graph.add_nodes_from(vs)
    for a, b in zip(layers[:-1], layers[1:], strict=True):
        graph.add_edges_from((u, v) for u in a for v in b)
    return graph


def time_step(model: nn.Module, x: torch.Tensor, repeats: int = 30) -> float:
    """Median seconds of one forward+backward."""
    for _ in range(3):
        model(x).sum().backward()
    samples = []
    for _ in range(repeats):
        model.zero_grad(set_to_none=True)
        start = time.perf_counter()
        model(x).sum().backward()
        samples.append(time.perf_counter() - start)
    samples.sort()
    return samples[len(samples) // 2]


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    batch, size_in, size_out = 256, 784, 10
    widths = [500, 300, 100]
    x = torch.randn(batch, size_in)

    sizes = [size_in, *widths]
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(a, b), nn.ReLU()]
    mlp = nn.Sequential(*layers, nn.Linear(widths[-1], size_out))
    # the DAN's first layer is the structure's sources (read the input): same sizes as the MLP's hidden layers
    dan = MaskedDeepDAN(size_in, size_out, ffn_structure(widths))
    t_mlp, t_dan = time_step(mlp, x), time_step(dan, x)
    print(f"FFN-shaped {widths}, batch {batch}, 1 thread")
    print(f"  dense nn.Sequential MLP : {t_mlp * 1e3:8.2f} ms")
    print(f"  MaskedDeepDAN           : {t_dan * 1e3:8.2f} ms   ratio DAN/MLP = {t_dan / t_mlp:.2f}x (target <= 1.5x)")

    graph = nx.newman_watts_strogatz_graph(1000, 4, 0.5, seed=0)
    for method in ("coloring", "random", "bfs", "index"):
        structure = orient(graph, method, rng=np.random.default_rng(0))
        model = MaskedDeepDAN(size_in, size_out, structure)
        t = time_step(model, x, repeats=5 if method == "index" else 15)
        print(f"NWS(1000, 4, 0.5) {method:>8} orientation: {structure.num_layers:4d} layers, "
              f"{structure.number_of_edges()} edges: {t * 1e3:8.2f} ms (target < 20 ms)")
    print("  (index orientation = the paper listing's: a 1000-layer chain, inherently sequential)")


if __name__ == "__main__":
    main()
