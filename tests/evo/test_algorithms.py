"""Ask/tell strategies on a cheap synthetic fitness (no training): invariants for every algorithm."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepstruct.evo.algorithms import Individual, make_hall_of_fame, make_strategy, restore_hall_of_fame
from deepstruct.evo.config import ALGORITHMS, AlgorithmConfig
from deepstruct.genomes import init_erdos_renyi


def _score(ind: Individual, objectives: tuple[str, ...]) -> None:
    g = ind.genome
    values = {"accuracy": g.num_edges / (1.0 + g.num_vertices), "edges": float(g.num_edges),
              "vertices": float(g.num_vertices)}
    ind.fitness.values = tuple(values[o] for o in objectives)
    ind.key = str(sorted(g.edges))


def _evolve(name: str, seed: int, objectives: tuple[str, ...], generations: int = 4) -> list[list[float]]:
    config = AlgorithmConfig(name=name, population=8, generations=generations)
    strategy = make_strategy(config, objectives, sample=lambda r: init_erdos_renyi(4, 2, 8, rng=r))
    rng = np.random.default_rng(seed)
    population = strategy.initial([init_erdos_renyi(4, 2, 8, rng=rng) for _ in range(8)])
    for ind in population:
        _score(ind, objectives)
    strategy.tell(population)
    history = []
    for _ in range(generations):
        offspring = strategy.ask(rng)
        assert all(o.genome.validate() for o in offspring)
        for ind in offspring:
            if not ind.fitness.valid:
                _score(ind, objectives)
        strategy.tell(offspring)
        assert len(strategy.population) == config.population
        history.append([ind.fitness.values[0] for ind in strategy.population])
    return history


@pytest.mark.parametrize("name", ALGORITHMS)
def test_every_strategy_keeps_its_population_and_is_reproducible(name: str) -> None:
    objectives = ("accuracy", "edges") if name == "nsga2" else ("accuracy",)
    assert _evolve(name, 3, objectives) == _evolve(name, 3, objectives)


@pytest.mark.parametrize("name", ["ga", "mu_plus_lambda", "random"])
def test_elitist_strategies_never_lose_the_best(name: str) -> None:
    history = _evolve(name, 1, ("accuracy",), generations=6)
    best = [max(h) for h in history]
    assert best == sorted(best)


def test_tell_refuses_unevaluated_individuals() -> None:
    strategy = make_strategy(AlgorithmConfig(population=2), ("accuracy",))
    population = strategy.initial([init_erdos_renyi(4, 2, 5, rng=np.random.default_rng(0)) for _ in range(2)])
    with pytest.raises(ValueError, match="evaluated"):
        strategy.tell(population)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 1000))
def test_state_dict_and_hall_of_fame_restore_exactly(seed: int) -> None:
    config = AlgorithmConfig(name="nsga2", population=6)
    objectives = ("accuracy", "edges")
    strategy = make_strategy(config, objectives)
    rng = np.random.default_rng(seed)
    population = strategy.initial([init_erdos_renyi(3, 2, 6, rng=rng) for _ in range(6)])
    for ind in population:
        _score(ind, objectives)
    strategy.tell(population)
    hof = make_hall_of_fame(config, objectives)
    hof.update(strategy.population)
    copy = make_strategy(config, objectives)
    copy.load_state_dict(strategy.state_dict(), population[0].genome.limits)
    assert copy.state_dict() == strategy.state_dict()
    other = make_hall_of_fame(config, objectives)
    restore_hall_of_fame(other, [Individual.from_dict(i.to_dict(), objectives, i.genome.limits) for i in hof])
    assert [i.to_dict() for i in other] == [i.to_dict() for i in hof]
    state = rng.bit_generator.state
    a = [o.genome.to_dict() for o in strategy.ask(np.random.default_rng(seed))]
    b = [o.genome.to_dict() for o in copy.ask(np.random.default_rng(seed))]
    assert a == b and state == rng.bit_generator.state


def test_random_search_samples_the_initialiser_then_walks_with_the_run_operators() -> None:
    def sample(rng: np.random.Generator):
        return init_erdos_renyi(4, 2, 8, rng=rng)

    still = make_strategy(AlgorithmConfig(name="random", population=6, random_walk=0), ("accuracy",), sample=sample)
    drawn = still.ask(np.random.default_rng(5))
    rng = np.random.default_rng(5)
    assert [ind.genome for ind in drawn] == [sample(rng) for _ in range(6)]
    walking = make_strategy(AlgorithmConfig(name="random", population=30, random_walk=40), ("accuracy",),
                            sample=sample)
    sizes = {ind.genome.num_vertices for ind in walking.ask(np.random.default_rng(5))}
    assert len(sizes) > 3 and max(sizes) > 8  # walks of random length leave the start space's single size
    assert not any(ind.fitness.valid for ind in walking.ask(np.random.default_rng(6)))
    with pytest.raises(ValueError, match="sample"):
        make_strategy(AlgorithmConfig(name="random"), ("accuracy",))
