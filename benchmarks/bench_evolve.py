"""A whole ``deepstruct evolve`` run with batched training against the one-by-one path, serial and on Ray.

    python benchmarks/bench_evolve.py [--generations 5] [--workers 2] [--kinds serial ray] [--task digits]

The default run (digits, GA 24 x generations, 20 epochs x 3 training seeds) with ``evaluator.batch = 1`` (every
member trained alone, as before batching) and ``0`` (automatic batches); serial in this process (one torch
thread) and on a local Ray instance with ``--workers`` workers. Printed: wall time, evaluations per second, the
speed-up over the one-by-one run of the same evaluator, and the best individual's validation and test accuracy
(batching must not make the search worse). Target: >= 4x faster with batching on, best accuracy no worse.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from deepstruct.evo.config import RunConfig
from deepstruct.evo.run import EvolutionRun


def one_run(config: RunConfig) -> tuple[float, EvolutionRun]:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        run = EvolutionRun(config, Path(tmp) / "run").run(report=False)
        return time.perf_counter() - start, run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--generations", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--kinds", nargs="+", default=["serial", "ray"], choices=["serial", "ray"])
    parser.add_argument("--task", default="digits")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 0], help="evaluator.batch values")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"deepstruct evolve, {args.task}, GA 24 x {args.generations + 1} generations, default training "
          "(20 epochs x 3 seeds); evaluator.batch 1 = one by one, 0 = auto")
    print(f"  {'evaluator':18s} {'batch':>5s} {'seconds':>8s} {'evals':>6s} {'evals/s':>8s} {'speed-up':>9s} "
          f"{'best val':>9s} {'its test':>9s}")
    for kind in args.kinds:
        baseline = None
        for batch in args.batches:
            config = RunConfig().override({"task.name": args.task, "algorithm.generations": args.generations,
                                           "evaluator.kind": kind, "evaluator.workers": args.workers,
                                           "evaluator.batch": batch})
            seconds, run = one_run(config)
            baseline = baseline or seconds
            best = run.hall_of_fame[0]
            label = kind if kind == "serial" else f"ray, {args.workers} workers"
            print(f"  {label:18s} {batch:5d} {seconds:8.1f} {run.evaluations:6d} {run.evaluations / seconds:8.2f} "
                  f"{baseline / seconds:8.2f}x {best.fitness.values[0]:9.4f} {best.stats['test_accuracy']:9.4f}")


if __name__ == "__main__":
    main()
