"""Operator throughput (mutations and crossovers per second), canonical hash and decode time.

    .venv/bin/python benchmarks/bench_operators.py [--quick]

Genomes of 100, 1,000 and 10,000 vertices from ``init_random_layered`` (about sqrt(V) layers, ~4 edges per
vertex) and from Watts-Strogatz (k=4, p=0.75, random orientation), with the dense interface of the
initialisers (8 inputs, 4 outputs) as explicit edges; the interface mutations are in ``MUTATIONS``.
Each batch of mutations runs on a fresh copy
(V/20 mutations, so the size drifts by at most 5%); figures are medians over batches. Target (issue 4):
a mutation on a 1,000-vertex genome well under a millisecond; the "x of 1 ms" column is the ratio.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import numpy as np

import deepstruct.operators as ops
from deepstruct.genomes import Genome, GenomeLimits, canonical_hash, init_random_layered, init_watts_strogatz

LIMITS = GenomeLimits(max_vertices=50_000, max_edges=500_000)


def make(kind: str, n: int, seed: int) -> Genome:
    rng = np.random.default_rng(seed)
    if kind == "layered":
        layers = max(2, round(n ** 0.5))
        return init_random_layered(8, 4, n, rng=rng, num_layers=layers, p=min(1.0, 4.0 / (n / layers)),
                                   limits=LIMITS)
    return init_watts_strogatz(8, 4, n, rng=rng, orientation="random", limits=LIMITS)


def per_call(fn: Callable[[], object], calls: int, batches: int = 5) -> float:
    """Median seconds per call over ``batches`` batches of ``calls`` calls."""
    samples = []
    for _ in range(batches):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - start) / calls)
    samples.sort()
    return samples[len(samples) // 2]


def per_mutation(fn: Callable[..., tuple[Genome]], base: Genome, rng: np.random.Generator,
                 batches: int = 21) -> float:
    """Median seconds per mutation; each batch mutates a fresh copy V/20 times (so its size drifts <= 5%)."""
    calls = max(5, base.num_vertices // 20)
    samples = []
    for _ in range(batches):
        genome = base.copy()
        start = time.perf_counter()
        for _ in range(calls):
            fn(genome, rng=rng)
        samples.append((time.perf_counter() - start) / calls)
    samples.sort()
    return samples[len(samples) // 2]


def report(kind: str, n: int, rng: np.random.Generator, with_decode: bool) -> None:
    base, other = make(kind, n, 1), make(kind, n, 2)
    mutations: dict[str, Callable[..., tuple[Genome]]] = {
        **ops.MUTATIONS, "change_attribute": ops.mut_change_attribute, "any": ops.mut_any}
    print(f"\n{kind} genome: {base.num_vertices} vertices, {base.num_edges} edges")
    print(f"  {'operator':<20} {'per call':>12} {'per second':>12} {'x of 1 ms':>10}")
    for name, fn in mutations.items():
        t = per_mutation(fn, base, rng)
        print(f"  mut_{name:<16} {t * 1e6:9.1f} us {1 / t:12.0f} {t / 1e-3:10.3f}")
    calls = 3 if n > 1_000 else 10
    copy_t = per_call(lambda: (base.copy(), other.copy()), calls, 3)
    for cx in (ops.cx_aligned, ops.cx_subgraph):
        t = per_call(lambda cx=cx: cx(base.copy(), other.copy(), rng=rng), calls, 3) - copy_t
        print(f"  {cx.__name__:<20} {t * 1e3:9.2f} ms {1 / t:12.1f}   (copies of the parents excluded)")
    print(f"  {'Genome.copy':<20} {copy_t / 2 * 1e3:9.2f} ms")
    t = per_call(lambda: canonical_hash(base), 1, 3)
    print(f"  {'canonical_hash':<20} {t * 1e3:9.2f} ms")
    if with_decode:
        import torch

        from deepstruct.genomes.phenotype import decode, encode
        torch.set_num_threads(1)
        t = per_call(lambda: decode(base, generator=torch.Generator().manual_seed(0)), 1, 3)
        print(f"  {'decode (dan)':<20} {t * 1e3:9.2f} ms")
        model = decode(base, generator=torch.Generator().manual_seed(0))
        t = per_call(lambda: encode(model, include_weights=True), 1, 3)
        print(f"  {'encode (weights)':<20} {t * 1e3:9.2f} ms   (every masked layer, interface included)")


def main(quick: bool = False) -> None:
    rng = np.random.default_rng(0)
    for kind in ("layered", "ws"):
        for n in [100, 1_000] if quick else [100, 1_000, 10_000]:
            report(kind, n, rng, with_decode=True)


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
