"""Search quality at equal wall time: evolution against random search, crossover on/off, inheritance modes.

    python benchmarks/bench_search_quality.py [--tasks digits mnist1d] [--compare search crossover modes]
                                              [--seconds 60] [--seeds 0 1 2 3 4] [--jobs 2]

Every method gets the same wall time per run (``--seconds``, one CPU thread, the serial evaluator with batched
training, ``algorithm.max_seconds``) and as many evaluations as it manages in it; every candidate is trained the
same way (the default TrainingConfig: the mean over ``training.seeds`` training runs) and selected by validation
accuracy. The table shows the *test* accuracy and parameter count of the selected network, mean ± standard
deviation over the run seeds, the evaluations done and the seconds used.

- ``search``: generational GA, aging evolution (generational and asynchronous steady state), and random search
  over the GA's start space and over a wide space (random_layered, 8-64 vertices, 1-3 layers, edge probability
  0.2-0.9), random candidates evaluated in the same batches as the runs'.
- ``crossover``: the GA with ``crossover_prob`` 0.3 (cx_aligned on homologous ids) against 0.
- ``modes``: the GA in Lamarckian, Baldwinian and no-inheritance mode, pruning 30 % after training.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from deepstruct.evo.batching import plan_batches
from deepstruct.evo.config import RunConfig
from deepstruct.evo.fitness import evaluate_requests
from deepstruct.evo.protocol import EvaluationRequest
from deepstruct.evo.run import EvolutionRun
from deepstruct.evo.tasks import load_task
from deepstruct.genomes import init_random_layered

KEYS = ("accuracy", "test_accuracy", "params")

#: comparison -> method -> config overrides of a run (None: random search; the value names its space)
COMPARISONS: dict[str, dict[str, dict[str, Any] | str]] = {
    "search": {
        "GA": {"algorithm.name": "ga"},
        "aging": {"algorithm.name": "aging"},
        "aging, asynchronous": {"algorithm.name": "aging", "algorithm.asynchronous": True},
        "random, start space": "start",
        "random, wide space": "wide",
    },
    "crossover": {
        "GA, crossover 0.3": {"algorithm.crossover_prob": 0.3},
        "GA, no crossover": {"algorithm.crossover_prob": 0.0},
    },
    "modes": {
        "GA, lamarckian": {"training.mode": "lamarckian", "training.prune_amount": 0.3},
        "GA, baldwinian": {"training.mode": "baldwinian", "training.prune_amount": 0.3},
        "GA, none": {"training.mode": "none", "training.prune_amount": 0.3},
    },
}


def base_config(task: str, seed: int, seconds: float) -> RunConfig:
    return RunConfig().override({"evaluator.kind": "serial", "seed": seed, "task.name": task,
                                 "algorithm.generations": 10_000, "algorithm.max_seconds": seconds})


def evolve(config: RunConfig) -> dict[str, float]:
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        run = EvolutionRun(config, Path(tmp) / "run").run(report=False)
    best = run.hall_of_fame[0].stats
    return {**{k: float(best[k]) for k in KEYS}, "evals": float(run.evaluations),
            "seconds": time.perf_counter() - start}


def random_search(config: RunConfig, space: str) -> dict[str, float]:
    """Random genomes, evaluated in batches like a run's, until the run's time is up; the best by validation."""
    start = time.perf_counter()
    task = load_task(config.task, seed=config.seed)
    data, g, limits = task.arrays(), config.genome, config.genome.limits()
    rng = np.random.default_rng(config.seed + 1000)
    best: dict[str, Any] | None = None
    evals = 0
    while time.perf_counter() - start < config.algorithm.max_seconds:
        genomes = []
        for _ in range(config.algorithm.population):
            if space == "wide":
                genome = init_random_layered(task.num_inputs, task.num_classes, int(rng.integers(8, 65)), rng=rng,
                                             num_layers=int(rng.integers(1, 4)), p=float(rng.uniform(0.2, 0.9)))
            else:
                size = int(rng.integers(g.min_vertices, g.num_vertices + 1)) if g.min_vertices else g.num_vertices
                genome = init_random_layered(task.num_inputs, task.num_classes, size, rng=rng, **g.params)
            genomes.append(genome)
        requests = [EvaluationRequest.of(genome, config.seed, config.training, limits) for genome in genomes]
        ev = config.evaluator
        for batch in plan_batches(requests, ev.batch, ev.max_batch_weights):  # the run's batch plan
            for result in evaluate_requests([requests[i] for i in batch], data):
                evals += 1
                if result.reason is None and (best is None or result.stats["accuracy"] > best["accuracy"]):
                    best = result.stats
    assert best is not None
    return {**{k: float(best[k]) for k in KEYS}, "evals": float(evals), "seconds": time.perf_counter() - start}


def one(job: tuple[str, str, str, int, float]) -> tuple[str, str, str, int, dict[str, float]]:
    import torch

    torch.set_num_threads(1)
    comparison, method, task, seed, seconds = job
    spec = COMPARISONS[comparison][method]
    config = base_config(task, seed, seconds)
    row = random_search(config, spec) if isinstance(spec, str) else evolve(config.override(spec))
    return comparison, method, task, seed, row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", nargs="+", default=["digits", "mnist1d"])
    parser.add_argument("--compare", nargs="+", default=["search"], choices=list(COMPARISONS))
    parser.add_argument("--seconds", type=float, default=60.0, help="wall time of every run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--jobs", type=int, default=2, help="runs in parallel processes (one thread each)")
    args = parser.parse_args()
    jobs = [(c, m, t, s, args.seconds) for c in args.compare for t in args.tasks for m in COMPARISONS[c]
            for s in args.seeds]
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        rows = list(pool.map(one, jobs))
    training = RunConfig().training
    print(f"{training.epochs} epochs x {training.seeds} training seeds per candidate, selection by validation "
          f"accuracy; {args.seconds:.0f} s per run, one thread each, {args.jobs} in parallel; run seeds {args.seeds}; "
          "mean ± std over seeds")
    for comparison in args.compare:
        for task in args.tasks:
            print(f"\n{comparison} on {task}:")
            print(f"  {'method':28s} {'test acc':>17s} {'params':>13s} {'evals':>7s} {'sec':>6s}   per seed")
            for method in COMPARISONS[comparison]:
                found = [r for c, m, t, _, r in rows if (c, m, t) == (comparison, method, task)]
                table = np.array([[r[k] for k in (*KEYS, "evals", "seconds")] for r in found])
                mean, std = table.mean(axis=0), table.std(axis=0)
                seeds = " ".join(f"{r['test_accuracy']:.3f}" for r in found)
                print(f"  {method:28s} {mean[1]:.4f} ± {std[1]:.4f} {mean[2]:6.0f} ± {std[2]:4.0f} {mean[3]:7.0f} "
                      f"{mean[4]:6.1f}   {seeds}")


if __name__ == "__main__":
    main()
