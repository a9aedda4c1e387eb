"""Evaluator throughput (serial vs Ray with 1 and 2 workers), framework overhead, Ray start-up.

    python benchmarks/bench_evaluators.py [--individuals 16] [--epochs 40]

1. Ray start-up: a lean local instance (no dashboard) plus putting the data set in the object store.
2. Throughput on a training-bound population (digits, every genome trained for ``--epochs``): wall time of the
   serial evaluator, and of Ray with 1 and 2 workers (warm workers). Target: 2 workers >= 1.8x serial.
3. Framework overhead per individual: a whole serial run (initialisers, variation, canonical hashing, the
   fsync'd journal, checkpoints, logbook) whose fitness function takes exactly 40 ms; overhead = (wall - 40 ms x
   evaluations) / evaluations, as a fraction of 40 ms. Target: under 5 %. Also the Ray dispatch overhead per task.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from deepstruct.evo.config import RunConfig, TrainingConfig
from deepstruct.evo.evaluators import RayEvaluator, SerialEvaluator
from deepstruct.evo.protocol import EvaluationRequest, EvaluationResult
from deepstruct.evo.run import EvolutionRun
from deepstruct.evo.tasks import load_task
from deepstruct.genomes import GenomeLimits, init_random_layered

TRAINING = TrainingConfig()


def jobs(n: int, seed: int = 0) -> list[list[EvaluationRequest]]:
    """``n`` genomes, one request per batch (each evaluation one task, as before batching)."""
    rng = np.random.default_rng(seed)
    return [[EvaluationRequest.of(init_random_layered(64, 10, 32, rng=rng, num_layers=2), 0, TRAINING,
                                  GenomeLimits())] for _ in range(n)]


def fixed_40ms(requests: list[EvaluationRequest], data: dict[str, Any], batched: bool) -> list[EvaluationResult]:
    """A fitness that takes 40 ms of this thread's CPU time (busy wait) per request and returns plain results."""
    out = []
    for request in requests:
        end = time.thread_time() + 0.040
        while time.thread_time() < end:
            pass
        out.append(EvaluationResult(request.key, (float(request.seed % 1000) / 1000.0,)))
    return out


def _burn(n: int) -> float:
    start = time.perf_counter()
    x = 0
    for i in range(n):
        x += i * i
    return time.perf_counter() - start


def parallel_ceiling() -> float:
    """How much faster two CPU-bound processes finish than one after the other, on this machine, now."""
    import multiprocessing

    n = 10_000_000
    one = _burn(n)
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_burn, [1000, 1000])
        start = time.perf_counter()
        pool.map(_burn, [n, n])
        two = time.perf_counter() - start
    return 2 * one / two


def timed(evaluator: Any, batch: list) -> float:
    start = time.perf_counter()
    evaluator.evaluate(batch)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--individuals", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=40)
    args = parser.parse_args()
    import ray

    global TRAINING
    config = RunConfig().override({"training.epochs": args.epochs, "training.seeds": 1})
    TRAINING = config.training
    data = load_task(config.task).arrays()
    batch = jobs(args.individuals)

    ceiling = parallel_ceiling()
    serial = SerialEvaluator(data, batched=False)
    serial.evaluate(jobs(1, seed=99))  # warm-up (first torch calls)
    serial_s = timed(serial, batch)

    results: dict[int, float] = {}
    startup: dict[int, float] = {}
    for workers in (1, 2):
        evaluator = RayEvaluator(data, batched=False, workers=workers)
        startup[workers] = evaluator.startup_s
        evaluator.evaluate(jobs(workers, seed=99))  # warm the workers (torch import)
        results[workers] = timed(evaluator, batch)
        evaluator.close()
        time.sleep(1.0)

    per_eval = serial_s / len(batch)
    print(f"training-bound population: {len(batch)} genomes on digits, {args.epochs} epochs "
          f"({per_eval * 1000:.0f} ms per evaluation serially)")
    print(f"  serial          {serial_s:7.2f} s   1.00x")
    for workers, seconds in results.items():
        label = f"ray, {workers} worker{'s' if workers > 1 else ' '}"
        print(f"  {label}  {seconds:7.2f} s   {serial_s / seconds:.2f}x serial"
              + ("   (target >= 1.80x)" if workers == 2 else ""))
    print(f"  (this machine, now: two CPU-bound processes run {ceiling:.2f}x faster than one after the other; "
          "2.00x on 2 free cores)")
    print(f"ray start-up (local instance, no dashboard, data put): {startup[1]:.2f} s (1 CPU), "
          f"{startup[2]:.2f} s (2 CPUs)")

    # framework overhead of a whole serial run with a 40 ms fitness
    run_config = RunConfig().override({
        "evaluator.kind": "serial", "algorithm.population": 20, "algorithm.generations": 10,
        "task.max_samples": 300, "evaluator.batch": 1,
    })
    walls, cpus = [], []
    for _ in range(3):
        with tempfile.TemporaryDirectory() as tmp:
            run = EvolutionRun(run_config, Path(tmp) / "run", fitness_fn=fixed_40ms)
            start, cpu = time.perf_counter(), time.process_time()
            run.run(report=False)
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        walls.append((wall - 0.040 * run.evaluations) / run.evaluations)
        cpus.append((cpu - 0.040 * run.evaluations) / run.evaluations)
    wall_o, cpu_o = float(np.median(walls)), float(np.median(cpus))
    print(f"framework overhead, serial run ({run.evaluations} evaluations of 40 ms CPU, 11 generations of 20; "
          f"median of 3; target < 5%):")
    print(f"  CPU time (all threads):  {cpu_o * 1000:.2f} ms per individual = {cpu_o / 0.040:.1%} of 40 ms")
    print(f"  wall time:               {wall_o * 1000:.2f} ms per individual = {wall_o / 0.040:.1%} of 40 ms")

    batch40 = jobs(60, seed=7)
    serial40 = timed(SerialEvaluator(data, fixed_40ms), batch40)
    evaluator = RayEvaluator(data, fixed_40ms, workers=1)
    evaluator.evaluate(jobs(1, seed=98))
    ray40 = timed(evaluator, batch40)
    evaluator.close()
    dispatch = (ray40 - serial40) / len(batch40)
    print(f"ray dispatch overhead ({len(batch40)} tasks of 40 ms CPU, 1 worker against serial): "
          f"{dispatch * 1000:.2f} ms per task = {dispatch / 0.040:.1%} of 40 ms")
    del ray


if __name__ == "__main__":
    main()
