"""The two evolution loops, over a strategy, a driver, a run state and listeners.

:func:`generational` is DEAP's ``eaMuPlusLambda`` in ask/tell form (evosax's): ask the strategy for offspring,
evaluate them, tell them back, record the generation. :func:`steady_state` is the asynchronous loop of aging
evolution: a child is asked for as soon as a result returns (its books are
:class:`~deepstruct.evo.steady_state.SteadyState`). Neither knows about files, progress bars or clocks: at the
end of every generation (or cycle) each listener is called with the state and the logbook line, and
``done(state)`` says when to stop. :class:`~deepstruct.evo.run.EvolutionRun` wires them up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from deepstruct.evo.algorithms import Individual, Strategy
from deepstruct.evo.driver import Driver
from deepstruct.evo.logbook import generation_record
from deepstruct.evo.protocol import EvaluationRequest
from deepstruct.evo.state import RunState
from deepstruct.evo.steady_state import SteadyState, holds

__all__ = ["Listener", "Done", "end_generation", "generation", "generational", "steady_state"]


class Listener(Protocol):
    """Called at the end of every generation (or asynchronous cycle) with the state and its logbook line:
    a checkpoint, progress output, a report, a user's hook."""

    def __call__(self, state: RunState, record: dict[str, Any]) -> None: ...


#: ``done(state) -> bool``: whether the run is over (every generation done, or its time spent).
Done = Callable[[RunState], bool]


def end_generation(strategy: Strategy, state: RunState, counts: dict[str, int], listeners: Sequence[Listener],
                   done: Done) -> None:
    """Hall of fame and logbook of the generation just told, whether the run is over, then the listeners."""
    state.hall_of_fame.update(strategy.population)
    state.generation += 1
    record = generation_record(state.generation, counts, strategy.population)
    state.logbook.record(**record)
    state.finished = done(state)
    for listener in listeners:
        listener(state, record)


def generation(strategy: Strategy, driver: Driver, state: RunState, individuals: list[Individual],
               listeners: Sequence[Listener], done: Done) -> None:
    """Evaluate ``individuals`` (the next generation's) and re-evaluate the best of the population
    (``algorithm.reevaluate``), tell them and end the generation."""
    counts = driver.evaluate(individuals, state.generation + 1, strategy.population, list(state.hall_of_fame))
    state.evaluations += counts["nevals"] + counts.get("reevals", 0)
    if counts.get("reevals"):  # members' fitnesses may have changed: the hall of fame sorts them again
        members = list(state.hall_of_fame)
        state.hall_of_fame.clear()
        state.hall_of_fame.update(members)
    strategy.tell(individuals)
    state.journal_position = driver.journal_position(state.generation + 1)
    end_generation(strategy, state, counts, listeners, done)


def generational(strategy: Strategy, driver: Driver, state: RunState, listeners: Sequence[Listener],
                 done: Done) -> None:
    """Ask, evaluate, tell and record until ``done(state)``; a genome evaluated in an earlier generation is
    ``known`` to the strategy (it draws such a mutant again)."""
    while not done(state):
        known = driver.known(state.generation + 1)
        generation(strategy, driver, state, strategy.ask(state.rng, known=known), listeners, done)


def steady_state(strategy: Strategy, driver: Driver, state: RunState, listeners: Sequence[Listener],
                 done: Done) -> None:
    """The asynchronous loop: replay the journal after the checkpoint, resubmit what was in flight, then keep
    up to ``max_batches`` batches of children in flight and tell every result as it returns, until
    ``generations`` cycles are told; past the time limit it asks no more and finishes what is in flight."""
    books = SteadyState(strategy, driver, state, lambda counts: end_generation(strategy, state, counts,
                                                                                listeners, done))
    books.replay()
    requests: dict[str, EvaluationRequest] = {}
    for batch in list(books.in_flight):  # children asked before the checkpoint or the crash
        for key in dict.fromkeys(c.key for c in batch if c.key in driver.store.cache):
            books.deliver(key)
        books.submit([c for c in batch if any(holds(b, c) for b in books.in_flight)], requests)
    while books.told < books.budget:
        stopping = done(state)  # past algorithm.max_seconds: ask no more, finish what is in flight
        while not stopping and books.asked < books.budget and len(books.in_flight) < books.max_batches:
            children = books.ask(min(books.batch_size, books.budget - books.asked))
            books.submit([c for c in children if any(holds(b, c) for b in books.in_flight)], requests)
        if books.told >= books.budget:
            break
        if not driver.evaluator.in_flight:
            if stopping:
                break
            raise RuntimeError("steady state: children in flight but nothing submitted (internal error)")
        for result in driver.evaluator.collect():
            books.arrived(result, requests.pop(result.key))
    if books.told % books.per_cycle:  # stopped by the time limit within a cycle: record the part done
        books.end_cycle()
