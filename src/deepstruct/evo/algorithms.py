"""Search algorithms with an ask/tell interface, built on DEAP's tools.

A strategy holds a population of :class:`Individual` s. ``ask(rng)`` returns the next offspring (an unchanged
copy keeps its fitness; a varied one has an invalid fitness and must be evaluated); ``tell(offspring)`` takes
them back with fitnesses and updates the population. DEAP supplies ``selBest``, ``selNSGA2``,
``sortNondominated``, the fitness classes, ``HallOfFame``/``ParetoFront`` and ``Logbook``; the random choices
(tournaments, variation) use the explicit ``numpy.random.Generator``, because DEAP's draw from the global
``random`` module.

>>> import numpy as np
>>> from deepstruct.evo.config import AlgorithmConfig
>>> from deepstruct.genomes import Genome
>>> strategy = make_strategy(AlgorithmConfig(population=4), ("accuracy",))
>>> population = strategy.initial([Genome(2, 1, edges=[(0, 1)]) for _ in range(4)])
>>> for ind in population:
...     ind.fitness.values = (0.5,)
>>> strategy.tell(population)
>>> len(strategy.ask(np.random.default_rng(0)))
4
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from deap import tools

from deepstruct.evo.config import AlgorithmConfig, ConfigError
from deepstruct.evo.individual import GenomeForms, Individual, fitness_class
from deepstruct.genomes import Genome, GenomeLimits
from deepstruct.operators import OPERATORS
from deepstruct.operators.morphism import zero_new_edges

__all__ = ["Individual", "fitness_class", "Variation", "Strategy", "GenerationalGA", "MuPlusLambda", "NSGA2",
           "AgingEvolution", "RandomSearch", "make_strategy", "make_hall_of_fame", "GenomeForms"]


#: ``known(genome) -> bool``: whether an isomorphic genome was evaluated already (see :meth:`Strategy.ask`).
Known = Callable[[Genome], bool] | None


#: The operators a configuration may name (``algorithm.mutations``, ``algorithm.crossover``): a fixed table,
#: :data:`deepstruct.operators.OPERATORS`.
OPERATOR_NAMES = tuple(OPERATORS)


class Variation:
    """Mutation and crossover of genomes with the operators of :mod:`deepstruct.operators`, chosen by weight.

    A variation that raises or leaves an invalid genome is undone (the child stays a copy of its parent).
    With a ``registry`` (:class:`deepstruct.genomes.InnovationRegistry`, one per population) every operator that
    creates vertices takes its ids from it, so the same structural event gets the same id across lineages and
    crossover aligns true homologues.
    """

    def __init__(self, config: AlgorithmConfig, registry: Any = None) -> None:
        table = OPERATORS

        def find(name: str) -> Any:  # a name read from a config file is only ever looked up in the fixed table
            return table.get(name)

        self.names = list(config.mutations)
        missing = [name for name in [*self.names, config.crossover] if find(name) is None]
        if missing:
            raise ConfigError(f"algorithm.mutations/crossover: deepstruct.operators has no {', '.join(missing)}")
        self.registry = registry
        self.mutations = [find(name) for name in self.names]
        #: per mutation, whether it takes the registry (operators that create vertices do)
        self._takes_registry = ["registry" in inspect.signature(op).parameters for op in self.mutations]
        weights = np.array([config.mutations[name] for name in self.names], dtype=float)
        self.probabilities = weights / weights.sum()
        self.crossover = find(config.crossover)
        self.max_mutations = config.max_mutations

    def mutate(self, genome: Genome, rng: np.random.Generator) -> Genome | None:
        """A mutated copy of ``genome``, or ``None`` when no operator could change it.

        It applies ``1..max_mutations`` operators (uniformly many), each chosen by weight. An operator that
        raises, leaves an invalid genome or changes nothing (such as removing an edge of a genome without
        edges) is left out for the rest of this call and another one is drawn, so that a mutated child
        differs from its parent whenever some operator can change it. A child of a parent with inherited
        weights starts with its parent's function where the operators allow
        (:func:`deepstruct.operators.zero_new_edges`).
        """
        steps = 1 if self.max_mutations == 1 else int(rng.integers(1, self.max_mutations + 1))
        return self.walk(genome, steps, rng)

    def walk(self, genome: Genome, steps: int, rng: np.random.Generator) -> Genome | None:
        """A copy of ``genome`` changed by up to ``steps`` operators (as :meth:`mutate`), or ``None`` if none
        could change it."""
        weights = self.probabilities.copy()
        weighted = genome.has_weights  # operators never add weights: an unweighted walk has nothing to preserve
        trial, done = genome, 0
        while done < steps and weights.sum() > 0:
            index = int(rng.choice(len(self.mutations), p=weights / weights.sum()))
            try:
                extra = {"registry": self.registry} if self.registry is not None and self._takes_registry[index] \
                    else {}
                (candidate,) = self.mutations[index](trial.copy(), rng=rng, **extra)
                candidate.validate()
            except ValueError:
                weights[index] = 0.0
                continue
            if candidate == trial:
                weights[index] = 0.0
                continue
            if weighted:  # each step from a whole weighted genome
                candidate = zero_new_edges(candidate, trial)
            trial, done = candidate, done + 1
        return None if done == 0 or trial == genome else trial

    def mate(self, g1: Genome, g2: Genome, rng: np.random.Generator) -> tuple[Genome, Genome] | None:
        """Crossed-over copies of ``g1`` and ``g2``, or ``None`` when the crossover failed."""
        try:
            t1, t2 = self.crossover(g1.copy(), g2.copy(), rng=rng)
            t1.validate()
            t2.validate()
        except ValueError:
            return None
        return t1, t2


def _invalidate(ind: Individual, genome: Genome) -> None:
    ind.genome = genome
    del ind.fitness.values
    ind.key, ind.reason, ind.stats = None, None, {}


def tournament(population: Sequence[Individual], k: int, size: int, rng: np.random.Generator) -> list[Individual]:
    """``k`` tournament winners (fittest of ``size`` drawn with replacement; DEAP's lexicographic order)."""
    winners = []
    for _ in range(k):
        aspirants = [population[int(i)] for i in rng.integers(len(population), size=size)]
        winners.append(max(aspirants, key=lambda ind: ind.fitness))
    return winners


class Strategy(ABC):
    """Base of the ask/tell strategies; ``population`` is the current population (evaluated)."""

    def __init__(self, config: AlgorithmConfig, objectives: tuple[str, ...],
                 variation: Variation | None = None) -> None:
        self.config = config
        self.objectives = tuple(objectives)
        self._variation = variation
        self.population: list[Individual] = []
        self.retries = 4  # a mutant that ``known`` says was evaluated already is drawn again up to this often
        #: Optional ``screen(candidates) -> index`` (a surrogate's choice, set once by the run): with
        #: ``algorithm.screen = k > 1`` a mutated child is the best of ``k`` proposed mutants.
        self.screen: Callable[[Sequence[Genome]], int] | None = None

    def _mutate(self, genome: Genome, rng: np.random.Generator, known: Known = None) -> Genome | None:
        if self.screen is None or self.config.screen == 1:
            return self._propose(genome, rng, known)
        candidates = [m for m in (self._propose(genome, rng, known) for _ in range(self.config.screen))
                      if m is not None]
        return candidates[self.screen(candidates)] if candidates else None

    def _propose(self, genome: Genome, rng: np.random.Generator, known: Known = None) -> Genome | None:
        mutant = self.variation.mutate(genome, rng)
        for _ in range(self.retries):
            if mutant is None or known is None or not known(mutant):
                break
            mutant = self.variation.mutate(genome, rng)
        return mutant

    @property
    def variation(self) -> Variation:
        if self._variation is None:
            self._variation = Variation(self.config)
        return self._variation

    def initial(self, genomes: Sequence[Genome]) -> list[Individual]:
        """The first population, to evaluate and then :meth:`tell`."""
        return [Individual(g, self.objectives) for g in genomes]

    @abstractmethod
    def ask(self, rng: np.random.Generator, *, known: Known = None) -> list[Individual]:
        """The next offspring, drawn with ``rng``.

        ``known(genome) -> bool``, if given, says whether an equal (isomorphic) genome was evaluated already: a
        mutant that is known is drawn again (up to ``retries`` times), so that the offspring explore new
        structures instead of filling the population with copies of evaluated ones.
        """

    def tell(self, offspring: Sequence[Individual]) -> None:
        if any(not ind.fitness.valid for ind in offspring):
            raise ValueError("tell() needs every individual evaluated (a valid fitness)")
        self._replace(list(offspring))

    def _replace(self, offspring: list[Individual]) -> None:
        self.population = offspring

    def _vary_and(self, parents: list[Individual], rng: np.random.Generator,
                  known: Known = None) -> list[Individual]:
        """Clone, cross over neighbours with ``crossover_prob``, mutate with ``mutation_prob`` (DEAP's varAnd)."""
        children = [p.clone() for p in parents]
        for i in range(1, len(children), 2):
            if rng.random() < self.config.crossover_prob:
                pair = self.variation.mate(children[i - 1].genome, children[i].genome, rng)
                if pair is not None:
                    _invalidate(children[i - 1], pair[0])
                    _invalidate(children[i], pair[1])
        for child in children:
            if rng.random() < self.config.mutation_prob:
                mutant = self._mutate(child.genome, rng, known)
                if mutant is not None:
                    _invalidate(child, mutant)
        return children

    def _select(self, individuals: list[Individual], k: int) -> list[Individual]:
        if len(self.objectives) > 1:
            return tools.selNSGA2(individuals, k)
        return tools.selBest(individuals, k)

    def state_dict(self) -> dict[str, Any]:
        return {"population": [ind.to_dict() for ind in self.population]}

    def load_state_dict(self, state: dict[str, Any], limits: GenomeLimits) -> None:
        self.population = [Individual.from_dict(d, self.objectives, limits) for d in state["population"]]


class GenerationalGA(Strategy):
    """Generational GA: ``elites`` best survive; the rest are tournament-selected, crossed over and mutated."""

    def ask(self, rng: np.random.Generator, *, known: Known = None) -> list[Individual]:
        n, e = self.config.population, self.config.elites
        elites = [ind.clone() for ind in tools.selBest(self.population, e)] if e else []
        parents = tournament(self.population, n - e, self.config.tournament_size, rng)
        return elites + self._vary_and(parents, rng, known)


class MuPlusLambda(Strategy):
    """(μ+λ): λ children by crossover, mutation or reproduction; the best μ of parents and children survive."""

    def ask(self, rng: np.random.Generator, *, known: Known = None) -> list[Individual]:
        children = []
        cx, mut = self.config.crossover_prob, self.config.mutation_prob
        for _ in range(self.config.num_offspring):
            draw = rng.random()
            if draw < cx and len(self.population) > 1:
                i, j = rng.choice(len(self.population), size=2, replace=False)
                a, b = self.population[int(i)].clone(), self.population[int(j)]
                pair = self.variation.mate(a.genome, b.genome, rng)
                if pair is not None:
                    _invalidate(a, pair[0])
            elif draw < cx + mut:
                a = self.population[int(rng.integers(len(self.population)))].clone()
                mutant = self._mutate(a.genome, rng, known)
                if mutant is not None:
                    _invalidate(a, mutant)
            else:
                a = self.population[int(rng.integers(len(self.population)))].clone()
            children.append(a)
        return children

    def _replace(self, offspring: list[Individual]) -> None:
        if not self.population:
            self.population = self._select(offspring, self.config.population)
        else:
            self.population = self._select(self.population + offspring, self.config.population)


class NSGA2(MuPlusLambda):
    """NSGA-II: binary tournaments on (front, crowding distance), varAnd, elitist non-dominated sorting."""

    def ask(self, rng: np.random.Generator, *, known: Known = None) -> list[Individual]:
        fronts = tools.sortNondominated(self.population, len(self.population))
        rank: dict[int, int] = {}
        crowd: dict[int, float] = {}
        for r, front in enumerate(fronts):
            tools.emo.assignCrowdingDist(front)
            for ind in front:
                rank[id(ind)], crowd[id(ind)] = r, ind.fitness.crowding_dist
        parents = []
        for _ in range(self.config.num_offspring):
            i, j = (self.population[int(x)] for x in rng.integers(len(self.population), size=2))
            better = i if (rank[id(i)], -crowd[id(i)]) <= (rank[id(j)], -crowd[id(j)]) else j
            parents.append(better)
        return self._vary_and(parents, rng, known)

    def _select(self, individuals: list[Individual], k: int) -> list[Individual]:
        return tools.selNSGA2(individuals, k)


class AgingEvolution(Strategy):
    """Aging (regularized) evolution: each child mutates the best of a random sample; the oldest die.

    The population is kept oldest first. A cycle asks ``offspring`` children (default: the population size)
    so that they can be evaluated in parallel, then removes as many of the oldest.
    """

    def ask(self, rng: np.random.Generator, n: int | None = None, *, known: Known = None) -> list[Individual]:
        """``n`` children (default ``offspring``); a steady-state run asks for as many as results returned."""
        size = min(self.config.tournament_size, len(self.population))
        children = []
        for _ in range(self.config.num_offspring if n is None else n):
            sample = [self.population[int(i)] for i in rng.choice(len(self.population), size=size, replace=False)]
            child = max(sample, key=lambda ind: ind.fitness).clone()
            mutant = self._mutate(child.genome, rng, known)
            if mutant is not None:
                _invalidate(child, mutant)
            children.append(child)
        return children

    def _replace(self, offspring: list[Individual]) -> None:
        self.population = (self.population + offspring)[-self.config.population:]


class RandomSearch(Strategy):
    """Random search of the space the evolutionary strategies search: the baseline every search must beat.

    Each sample is a fresh genome of the run's initialiser (``sample(rng)``) varied by a random walk of
    ``0..random_walk`` mutations with the run's own operators and weights, so that it covers the sizes and
    shapes that evolution reaches after as many generations, not only the start space. The population holds the
    best samples so far (selected as in (μ+λ)), for the logbook; nothing is inherited from it.
    """

    def __init__(self, config: AlgorithmConfig, objectives: tuple[str, ...], variation: Variation | None = None,
                 sample: Callable[[np.random.Generator], Genome] | None = None) -> None:
        super().__init__(config, objectives, variation)
        if sample is None:
            raise ValueError("random search needs sample(rng) -> Genome, the run's initialiser")
        self.sample = sample

    def ask(self, rng: np.random.Generator, *, known: Known = None) -> list[Individual]:
        """``offspring`` fresh samples; one that ``known`` says was evaluated is drawn again (``retries`` times)."""
        children = []
        for _ in range(self.config.num_offspring):
            genome = self._draw(rng)
            for _ in range(self.retries):
                if known is None or not known(genome):
                    break
                genome = self._draw(rng)
            children.append(Individual(genome, self.objectives))
        return children

    def _draw(self, rng: np.random.Generator) -> Genome:
        genome = self.sample(rng)
        steps = int(rng.integers(0, self.config.random_walk + 1))
        walked = self.variation.walk(genome, steps, rng) if steps else None
        return genome if walked is None else walked

    def _replace(self, offspring: list[Individual]) -> None:
        self.population = self._select(self.population + offspring, self.config.population)


_STRATEGIES: dict[str, type[Strategy]] = {
    "ga": GenerationalGA, "mu_plus_lambda": MuPlusLambda, "nsga2": NSGA2, "aging": AgingEvolution,
    "random": RandomSearch,
}


def make_strategy(config: AlgorithmConfig, objectives: Sequence[str], variation: Variation | None = None,
                  sample: Callable[[np.random.Generator], Genome] | None = None) -> Strategy:
    """The strategy named by ``config.name``; ``sample(rng)`` draws an initial genome (random search needs it)."""
    if config.name == "random":
        return RandomSearch(config, tuple(objectives), variation, sample)
    return _STRATEGIES[config.name](config, tuple(objectives), variation)


def make_hall_of_fame(config: AlgorithmConfig, objectives: Sequence[str]) -> tools.HallOfFame:
    """A ``ParetoFront`` for several objectives, else a ``HallOfFame`` of ``hall_of_fame`` individuals."""
    if len(objectives) > 1:
        return tools.ParetoFront(similar=lambda a, b: a == b)
    return tools.HallOfFame(config.hall_of_fame, similar=lambda a, b: a == b)


def restore_hall_of_fame(hof: tools.HallOfFame, items: list[Individual]) -> None:
    """Put checkpointed members (best first) back without re-sorting them."""
    hof.items = list(items)
    hof.keys = [ind.fitness for ind in reversed(items)]
