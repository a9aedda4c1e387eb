"""Drive the search yourself with the ask/tell interface (no run directory, no Ray).

    python examples/ask_tell.py

Aging (regularized) evolution on digits for a few cycles. Each cycle's children become typed
:class:`~deepstruct.evo.EvaluationRequest` s (genome, seed, training settings, limits) and are scored in one
batched tensor program by :func:`~deepstruct.evo.evaluate_requests`, the function every evaluator calls; any
other scoring works the same way: set ``ind.fitness.values`` and ``tell``.
"""

from __future__ import annotations

import numpy as np

from deepstruct.evo import (
    AlgorithmConfig,
    EvaluationRequest,
    TaskConfig,
    TrainingConfig,
    evaluate_requests,
    load_task,
    make_strategy,
)
from deepstruct.genomes import GenomeLimits, init_random_layered


def main(cycles: int = 5, epochs: int = 5) -> float:
    rng = np.random.default_rng(0)
    data = load_task(TaskConfig(), seed=0).arrays()
    training = TrainingConfig(epochs=epochs, seeds=1)
    limits = GenomeLimits(max_vertices=256, max_edges=4096)
    strategy = make_strategy(AlgorithmConfig(name="aging", population=10, offspring=4), training.objectives)

    def score(individuals: list) -> None:
        todo = [ind for ind in individuals if not ind.fitness.valid]
        requests = [EvaluationRequest.of(ind.genome, 0, training, limits) for ind in todo]
        for ind, result in zip(todo, evaluate_requests(requests, data), strict=True):
            ind.fitness.values = result.values

    population = strategy.initial([init_random_layered(64, 10, 24, rng=rng, num_layers=2) for _ in range(10)])
    score(population)
    strategy.tell(population)
    best = max(strategy.population, key=lambda ind: ind.fitness)
    for cycle in range(cycles):
        children = strategy.ask(rng)
        score(children)
        strategy.tell(children)
        best = max(strategy.population, key=lambda ind: ind.fitness)
        print(f"cycle {cycle}: best validation accuracy {best.fitness.values[0]:.4f} "
              f"({best.genome.num_vertices} vertices, {best.genome.num_edges} edges)")
    return float(best.fitness.values[0])


if __name__ == "__main__":
    main()
