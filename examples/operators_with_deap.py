"""deepstruct's genetic operators in a plain DEAP ``eaSimple`` loop.

The objective is cheap and structural (no training): evolve DAG genomes towards a target depth and a target
number of edges, e.g. as a prior search before the expensive decode -> train -> prune loop of deepstruct.evo.
The population shares one innovation registry, so the same split or duplicate gets the same vertex id in
every genome and ``cx_aligned`` aligns true homologues. Runs in a few seconds::

    .venv/bin/python examples/operators_with_deap.py
"""

from __future__ import annotations

import random

import numpy as np
from deap import algorithms, base, creator, tools

import deepstruct.operators as ops
from deepstruct.genomes import Genome, GenomeLimits, InnovationRegistry, canonical_hash, init_watts_strogatz
from deepstruct.graph import compute_layers

TARGET_DEPTH, TARGET_EDGES = 6, 60
LIMITS = GenomeLimits(max_vertices=64, max_edges=400)  # hidden and interface edges


def evaluate(genome: Genome) -> tuple[float]:
    """Minimise the distance to the target depth and edge count (lower is better)."""
    layers = compute_layers(genome.graph.succ, genome.graph.pred)
    depth = max(layers.values()) + 1
    return (abs(depth - TARGET_DEPTH) * 10.0 + abs(genome.num_edges - TARGET_EDGES),)


def mutate(genome: Genome, *, rng: np.random.Generator, registry: InnovationRegistry) -> tuple[Genome]:
    """Two structural mutations drawn at random (``deepstruct.operators.MUTATIONS``), ids from the registry."""
    ops.mut_any(genome, rng=rng, registry=registry)
    return ops.mut_any(genome, rng=rng, registry=registry)


def main(seed: int = 0, generations: int = 30, population: int = 40) -> Genome:
    rng = np.random.default_rng(seed)
    creator.create("FitnessMin", base.Fitness, weights=(-1.0,))
    creator.create("Individual", Genome, fitness=creator.FitnessMin)

    registry = InnovationRegistry()

    def individual() -> Genome:
        g = init_watts_strogatz(8, 2, 24, rng=rng, k=4, p=0.75, orientation="random", limits=LIMITS,
                                registry=registry)
        return creator.Individual(g.num_inputs, g.num_outputs, limits=LIMITS).adopt(g)

    toolbox = base.Toolbox()
    toolbox.register("individual", individual)
    toolbox.register("population", tools.initRepeat, list, toolbox.individual)
    toolbox.register("evaluate", evaluate)
    toolbox.register("mate", ops.cx_aligned, rng=rng)
    toolbox.register("mutate", mutate, rng=rng, registry=registry)
    toolbox.register("select", tools.selTournament, tournsize=3)

    pop = toolbox.population(n=population)
    hof = tools.HallOfFame(1)
    stats = tools.Statistics(lambda ind: ind.fitness.values[0])
    stats.register("min", np.min)
    stats.register("mean", np.mean)
    random.seed(seed)  # eaSimple draws its crossover/mutation coins from Python's `random`
    pop, log = algorithms.eaSimple(pop, toolbox, cxpb=0.5, mutpb=0.8, ngen=generations, stats=stats,
                                   halloffame=hof, verbose=False)
    best = hof[0]
    best.validate()
    print(f"generation 0: best {log[0]['min']:.1f}, generation {generations}: best {log[-1]['min']:.1f}")
    print(f"best genome: {best!r}, fitness {best.fitness.values[0]:.1f}, hash {canonical_hash(best)[:12]}")
    print(f"innovation registry: {len(registry)} structural events, next id {registry.next_id}")
    return best


if __name__ == "__main__":
    main()
