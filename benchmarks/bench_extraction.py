"""Benchmark: neuron-level graph extraction from masked models (compact form and networkx).

1. ``MaskedDeepFFN(784, 10, [1000, 800, 500, 200, 50, 20])`` (about 2.1 M weights): ``GraphTransform.extract``
   against a bare ``numpy.nonzero`` pass over the same masks, side by side (target: under 0.3 s and within 3x).
2. Peak memory per edge (``tracemalloc``) of the compact form and of the networkx graph built from it.
3. Compact extraction time and memory for about 1 M, 10 M and 50 M weights (should grow linearly).

Run: ``.venv/bin/python benchmarks/bench_extraction.py`` (``--quick`` skips the 50 M model and networkx).
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from deepstruct.sparse import MaskedDeepFFN, maskable_layers
from deepstruct.transform import GraphTransform


def best_time(fn: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """Best wall-clock and best CPU seconds over ``repeats`` runs."""
    walls, cpus = [], []
    for _ in range(repeats):
        gc.collect()
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return min(walls), min(cpus)


def peak_bytes(fn: Callable[[], Any]) -> tuple[int, Any]:
    """Peak bytes allocated (tracemalloc sees numpy and Python allocations) while ``fn`` runs, and its result."""
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    result = fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, result


def bare_nonzero(model: torch.nn.Module) -> list[tuple[np.ndarray, ...]]:
    return [np.nonzero(layer.mask.numpy()) for layer in maskable_layers(model)]


def build(size_input: int, hidden: list[int], seed: int = 0) -> MaskedDeepFFN:
    with torch.no_grad():
        return MaskedDeepFFN(size_input, 10, hidden, generator=torch.Generator().manual_seed(seed))


def plain_sequential(sizes: list[int]) -> torch.nn.Sequential:
    """The same MLP from plain ``nn.Linear`` layers (extracted through the generic traced path)."""
    torch.manual_seed(0)
    layers: list[torch.nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    return torch.nn.Sequential(*layers[:-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="skip the 50 M-weight model and networkx")
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    transform = GraphTransform(torch.randn(1, 784))

    print("== 1. MaskedDeepFFN(784, 10, [1000, 800, 500, 200, 50, 20]), dense masks")
    model = build(784, [1000, 800, 500, 200, 50, 20])
    weights = sum(layer.mask.numel() for layer in maskable_layers(model))
    compact = transform.extract(model)
    assert compact.num_edges == weights
    ours_wall, ours_cpu = best_time(lambda: transform.extract(model), args.repeats)
    base_wall, base_cpu = best_time(lambda: bare_nonzero(model), args.repeats)
    print(f"weights = edges = {weights:,}")
    print(f"{'':28}{'wall s':>10}{'cpu s':>10}{'ns/edge':>10}")
    print(f"{'GraphTransform.extract':28}{ours_wall:10.4f}{ours_cpu:10.4f}{1e9 * ours_wall / weights:10.1f}")
    print(f"{'bare numpy.nonzero':28}{base_wall:10.4f}{base_cpu:10.4f}{1e9 * base_wall / weights:10.1f}")
    print(f"ratio extract / nonzero: {ours_wall / base_wall:.2f}x wall, {ours_cpu / max(base_cpu, 1e-9):.2f}x cpu "
          f"(target: under 0.3 s and within 3x)")
    plain = plain_sequential([784, 1000, 800, 500, 200, 50, 20, 10])
    traced = transform.extract(plain)
    assert traced.num_edges == weights
    fx_wall, _ = best_time(lambda: transform.extract(plain), args.repeats)
    print(f"same sizes as nn.Sequential of nn.Linear, traced with torch.fx: {fx_wall:.4f} s "
          f"({fx_wall / base_wall:.2f}x nonzero)")

    print("\n== 2. peak memory per edge (tracemalloc)")
    peak_compact, compact = peak_bytes(lambda: transform.extract(model))
    peak_base, _ = peak_bytes(lambda: bare_nonzero(model))
    print(f"compact form: peak {peak_compact / 2**20:8.1f} MiB = {peak_compact / weights:6.1f} B/edge "
          f"(result arrays {compact.nbytes / weights:.1f} B/edge; bare nonzero peak {peak_base / weights:.1f} B/edge)")
    if not args.quick:
        t0 = time.perf_counter()
        peak_nx, graph = peak_bytes(lambda: compact.to_networkx(include_weights=False))
        nx_s = time.perf_counter() - t0
        print(f"networkx:     peak {peak_nx / 2**20:8.1f} MiB = {peak_nx / weights:6.1f} B/edge "
              f"({graph.number_of_edges():,} edges, {nx_s:.1f} s under tracemalloc)")
        del graph
        gc.collect()

    scaling(GraphTransform(), args.repeats, args.quick)


def scaling(transform: GraphTransform, repeats_default: int, quick: bool) -> None:
    """Section 3: compact extraction of growing models."""
    print("\n== 3. scaling of the compact form: MaskedDeepFFN(1000, 10, [1000] * k), dense masks")
    print(f"{'weights':>12}{'extract s':>11}{'nonzero s':>11}{'ratio':>7}{'ns/edge':>9}{'peak B/edge':>13}")
    for k in ([1, 10] if quick else [1, 10, 50]):
        model = build(1000, [1000] * k, seed=k)
        edges = sum(layer.mask.numel() for layer in maskable_layers(model))
        repeats = max(1, repeats_default if k < 50 else 2)
        wall, _ = best_time(lambda m=model: transform.extract(m), repeats)
        base, _ = best_time(lambda m=model: bare_nonzero(m), repeats)
        peak, compact = peak_bytes(lambda m=model: transform.extract(m))
        assert compact.num_edges == edges
        print(f"{edges:>12,}{wall:11.3f}{base:11.3f}{wall / base:7.2f}{1e9 * wall / edges:9.1f}{peak / edges:13.1f}")
        del model, compact
        gc.collect()  # free the previous model before building the next


if __name__ == "__main__":
    main()
