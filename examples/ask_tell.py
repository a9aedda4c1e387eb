"""Drive the search yourself with the ask/tell interface (no run directory, no Ray).

    python examples/ask_tell.py

Aging (regularized) evolution on digits for a few cycles, scoring each child with deepstruct's fitness function
(decode -> train -> evaluate); any other scoring works the same way: set ``ind.fitness.values`` and ``tell``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from deepstruct.evo import AlgorithmConfig, TaskConfig, TrainingConfig, evaluate_genome, load_task, make_strategy
from deepstruct.genomes import canonical_hash, init_random_layered


def main() -> None:
    rng = np.random.default_rng(0)
    task = load_task(TaskConfig(), seed=0)
    training = TrainingConfig(epochs=5, seeds=1, objectives=("accuracy",))
    settings = {**dataclasses.asdict(training), "objectives": list(training.objectives)}
    strategy = make_strategy(AlgorithmConfig(name="aging", population=10, offspring=4), training.objectives)

    def score(individuals: list) -> None:
        for ind in individuals:
            if not ind.fitness.valid:
                seed = int(canonical_hash(ind.genome)[:8], 16)
                result = evaluate_genome(ind.genome.to_dict(), seed, task.arrays(), settings)
                ind.fitness.values = tuple(result["values"])

    population = strategy.initial([init_random_layered(64, 10, 24, rng=rng, num_layers=2) for _ in range(10)])
    score(population)
    strategy.tell(population)
    for cycle in range(5):
        children = strategy.ask(rng)
        score(children)
        strategy.tell(children)
        best = max(strategy.population, key=lambda ind: ind.fitness)
        print(f"cycle {cycle}: best validation accuracy {best.fitness.values[0]:.4f} "
              f"({best.genome.num_vertices} vertices, {best.genome.num_edges} edges)")


if __name__ == "__main__":
    main()
