"""Search quality on digits: evolution against random search with the same evaluation budget and dense MLPs.

    python benchmarks/bench_search_quality.py [--generations 12] [--population 20] [--seed 0]

Every candidate is trained the same way (deepstruct.evo.fitness, default TrainingConfig) and selected by
validation accuracy; the table shows the *test* accuracy and the parameter count of the selected network.
- GA: the default generational GA (accuracy only).
- NSGA-II: accuracy against parameters; shown are the most accurate member of the front and the smallest
  member within 1 point of accuracy of it.
- random search: as many random genomes as the GA evaluated, drawn from the GA's initial distribution, and from
  a wider one (random_layered, 8-64 vertices, 1-3 layers, edge probability 0.2-0.9).
- dense MLPs 64-32-10 and 64-64-32-10 (mean over 3 seeds).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from deepstruct.evo.config import RunConfig
from deepstruct.evo.fitness import evaluate_genome
from deepstruct.evo.run import EvolutionRun
from deepstruct.evo.tasks import load_task
from deepstruct.genomes import Genome, init_random_layered


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


def row(name: str, stats: dict[str, Any], evaluations: int | str, seconds: float) -> str:
    return (f"  {name:34s} {stats['accuracy']:8.4f} {stats['test_accuracy']:9.4f} {int(stats['params']):8d} "
            f"{evaluations!s:>6} {seconds:7.1f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--generations", type=int, default=12)
    parser.add_argument("--population", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    base = RunConfig().override({"evaluator.kind": "serial", "seed": args.seed,
                                 "algorithm.generations": args.generations, "algorithm.population": args.population})
    task = load_task(base.task, seed=base.seed)
    training = base.to_dict()["training"]
    lines = []

    ga, seconds = evolve(base)
    budget = ga.evaluations
    lines.append(row("GA (accuracy)", ga.hall_of_fame[0].stats, budget, seconds))

    nsga_config = base.override({"algorithm.name": "nsga2", "training.objectives": ["accuracy", "params"]})
    nsga, seconds = evolve(nsga_config)
    front = [ind for ind in nsga.hall_of_fame if ind.reason is None]
    best = max(front, key=lambda ind: ind.stats["accuracy"])
    small = min((ind for ind in front if ind.stats["accuracy"] >= best.stats["accuracy"] - 0.01),
                key=lambda ind: ind.stats["params"])
    lines.append(row("NSGA-II, most accurate on the front", best.stats, nsga.evaluations, seconds))
    lines.append(row("NSGA-II, smallest within 1 point", small.stats, "", 0.0))

    for name, wide in (("random search, GA's initial space", False), ("random search, 8-64 vertices", True)):
        rng = np.random.default_rng(args.seed + 1000)
        start = time.perf_counter()
        results = []
        for _ in range(budget):
            if wide:
                genome = init_random_layered(64, 10, int(rng.integers(8, 65)), rng=rng,
                                             num_layers=int(rng.integers(1, 4)), p=float(rng.uniform(0.2, 0.9)))
            else:
                genome = init_random_layered(64, 10, base.genome.num_vertices, rng=rng, **base.genome.params)
            result = evaluate_genome(genome.to_dict(), int(rng.integers(2**31)), task.arrays(), training)
            if result["reason"] is None:
                results.append(result["stats"])
        lines.append(row(name, max(results, key=lambda s: s["accuracy"]), budget, time.perf_counter() - start))

    for widths in ([32], [64, 32]):
        start = time.perf_counter()
        runs = [evaluate_genome(dense_genome(widths).to_dict(), seed, task.arrays(), training)["stats"]
                for seed in range(3)]
        mean = {k: float(np.mean([r[k] for r in runs])) for k in ("accuracy", "test_accuracy", "params")}
        lines.append(row(f"dense MLP 64-{'-'.join(map(str, widths))}-10 (3 seeds)", mean, 3,
                         time.perf_counter() - start))

    print(f"digits, {training['epochs']} epochs per candidate, selection by validation accuracy, seed {args.seed}")
    print(f"  {'method':34s} {'val acc':>8s} {'test acc':>9s} {'params':>8s} {'evals':>6s} {'seconds':>7s}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
