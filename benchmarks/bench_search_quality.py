"""Search quality on digits: evolution against random search with the same evaluation budget and dense MLPs.

    python benchmarks/bench_search_quality.py [--generations 25] [--population 24] [--seeds 0 1 2 3] [--jobs 2]

Every candidate is trained the same way (deepstruct.evo.fitness with the default TrainingConfig, i.e. the mean
over ``training.seeds`` training runs) and selected by validation accuracy; the table shows the *test* accuracy
and the parameter count of the selected network, as mean ± half the range over the run seeds.
- GA: the default generational GA (accuracy only; default start space, mutations and training).
- NSGA-II: accuracy against parameters; shown are the most accurate member of the front and the smallest
  member within 1 point of accuracy of it.
- random search: as many genomes as the GA evaluated, drawn from the GA's initial distribution (the same
  start space), and from a wider one (random_layered, 8-64 vertices, 1-3 layers, edge probability 0.2-0.9);
  for random search too the smallest candidate within 1 point of the most accurate is shown.
- dense MLPs 64-32-10 and 64-64-32-10 (3 training seeds per run seed).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from deepstruct.evo.config import RunConfig
from deepstruct.evo.fitness import evaluate_genome
from deepstruct.evo.run import EvolutionRun
from deepstruct.evo.tasks import load_task
from deepstruct.genomes import Genome, init_random_layered

KEYS = ("accuracy", "test_accuracy", "params")


def dense_genome(widths: list[int], num_inputs: int = 64, num_outputs: int = 10) -> Genome:
    layers, next_id = [], 0
    for w in widths:
        layers.append(list(range(next_id, next_id + w)))
        next_id += w
    edges = [(u, v) for a, b in zip(layers[:-1], layers[1:], strict=False) for u in a for v in b]
    return Genome(num_inputs, num_outputs, edges=edges, vertices=range(next_id))


def evolve(config: RunConfig) -> tuple[EvolutionRun, float]:
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        run = EvolutionRun(config, Path(tmp) / "run").run(report=False)
    return run, time.perf_counter() - start


def best_and_small(candidates: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The most accurate (validation) candidate and the smallest within 1 point of it."""
    best = max(candidates, key=lambda s: s["accuracy"])
    small = min((s for s in candidates if s["accuracy"] >= best["accuracy"] - 0.01), key=lambda s: s["params"])
    return best, small


def one_seed(seed: int, generations: int, population: int) -> dict[str, dict[str, float]]:
    """Every method on one run seed: name -> {accuracy, test_accuracy, params, evals, seconds}."""
    base = RunConfig().override({"evaluator.kind": "serial", "seed": seed, "algorithm.name": "ga",
                                 "training.objectives": ["accuracy"],
                                 "algorithm.generations": generations, "algorithm.population": population})
    task = load_task(base.task, seed=base.seed)
    training = base.to_dict()["training"]
    out: dict[str, dict[str, float]] = {}

    def put(name: str, stats: dict[str, Any], evals: int, seconds: float) -> None:
        out[name] = {**{k: float(stats[k]) for k in KEYS}, "evals": float(evals), "seconds": seconds}

    ga, seconds = evolve(base)
    budget = ga.evaluations
    put("GA (accuracy)", ga.hall_of_fame[0].stats, budget, seconds)

    nsga, seconds = evolve(base.override({"algorithm.name": "nsga2", "training.objectives": ["accuracy", "params"]}))
    best, small = best_and_small([ind.stats for ind in nsga.hall_of_fame if ind.reason is None])
    put("NSGA-II, most accurate", best, nsga.evaluations, seconds)
    put("NSGA-II, smallest within 1 point", small, nsga.evaluations, 0.0)

    g = base.genome
    for name, wide in (("random, same start space", False), ("random, 8-64 vertices 1-3 layers", True)):
        rng = np.random.default_rng(seed + 1000)
        start = time.perf_counter()
        results = []
        for _ in range(budget):
            if wide:
                genome = init_random_layered(64, 10, int(rng.integers(8, 65)), rng=rng,
                                             num_layers=int(rng.integers(1, 4)), p=float(rng.uniform(0.2, 0.9)))
            else:
                size = int(rng.integers(g.min_vertices, g.num_vertices + 1)) if g.min_vertices else g.num_vertices
                genome = init_random_layered(64, 10, size, rng=rng, **g.params)
            result = evaluate_genome(genome.to_dict(), int(rng.integers(2**31)), task.arrays(), training)
            if result["reason"] is None:
                results.append(result["stats"])
        seconds = time.perf_counter() - start
        best, small = best_and_small(results)
        put(f"{name}", best, budget, seconds)
        put(f"{name}, smallest within 1 pt", small, budget, 0.0)

    for widths in ([32], [64, 32]):
        start = time.perf_counter()
        runs = [evaluate_genome(dense_genome(widths).to_dict(), 100 * seed + s, task.arrays(), training)["stats"]
                for s in range(3)]
        mean = {k: float(np.mean([r[k] for r in runs])) for k in KEYS}
        put(f"dense MLP 64-{'-'.join(map(str, widths))}-10", mean, 3, time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--generations", type=int, default=25)
    parser.add_argument("--population", type=int, default=24)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--jobs", type=int, default=2, help="run seeds in parallel processes")
    args = parser.parse_args()
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(one_seed, args.seeds, [args.generations] * len(args.seeds),
                                [args.population] * len(args.seeds)))
    training = RunConfig().training
    print(f"digits, {training.epochs} epochs x {training.seeds} training seeds per candidate, selection by "
          f"validation accuracy; run seeds {args.seeds}; mean ± half-range over seeds")
    print(f"  {'method':40s} {'val acc':>15s} {'test acc':>15s} {'params':>13s} {'evals':>6s} {'sec':>6s}")
    for name in results[0]:
        rows = np.array([[r[name][k] for k in (*KEYS, "evals", "seconds")] for r in results])
        mean, half = rows.mean(axis=0), (rows.max(axis=0) - rows.min(axis=0)) / 2
        print(f"  {name:40s} {mean[0]:.4f} ± {half[0]:.4f} {mean[1]:.4f} ± {half[1]:.4f} "
              f"{mean[2]:6.0f} ± {half[2]:4.0f} {mean[3]:6.0f} {mean[4]:6.1f}")
    print("  per seed, test accuracy (GA / NSGA-II best / random same space / random wide):")
    for seed, r in zip(args.seeds, results, strict=True):
        print(f"    seed {seed}: " + " / ".join(f"{r[n]['test_accuracy']:.4f} ({int(r[n]['params'])})" for n in (
            "GA (accuracy)", "NSGA-II, most accurate", "random, same start space",
            "random, 8-64 vertices 1-3 layers")))


if __name__ == "__main__":
    main()
