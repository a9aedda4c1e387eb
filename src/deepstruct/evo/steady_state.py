"""Asynchronous steady-state aging evolution: a new child is asked for as soon as a result returns.

``algorithm.name = "aging"`` with ``algorithm.asynchronous = true``: after the initial population, children are
asked in batches (one tensor program each) and every returning result is told at once, so a slow individual
never stalls the others. Every ask (the children's keys) and every tell is journalled in the order it happened;
``resume`` restores the last checkpoint, replays the journal after it — the same asks from the same RNG state,
the same tells in the same order — and then goes on live, so it ends where the interrupted run would have (with
the serial evaluator exactly; with Ray the live part's arrival order is the cluster's). A cycle is
``algorithm.offspring`` tells: it gets a logbook line and a checkpoint; the run ends after ``generations``
cycles. The loop itself is :func:`deepstruct.evo.loop.steady_state`; this module keeps its books.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from deepstruct.evo.algorithms import Individual, Strategy
from deepstruct.evo.batching import AUTO_MEMBERS
from deepstruct.evo.config import ConfigError
from deepstruct.evo.driver import Driver
from deepstruct.evo.protocol import EvaluationRequest, EvaluationResult
from deepstruct.evo.state import RunState

__all__ = ["SteadyState", "holds"]


def holds(batch: list[Individual], child: Individual) -> bool:
    """Whether ``child`` itself (not an equal-keyed twin) is in ``batch``."""
    return any(c is child for c in batch)


class SteadyState:
    """The books of the asynchronous loop of one run (see the module docstring).

    Parameters
    ----------
    strategy : Strategy
        The aging strategy (asked for ``n`` children at a time, told one child at a time).
    driver : Driver
        Requests, batch plans, the cache and the journal.
    state : RunState
        The run's state; its ``steady_state`` is where a resumed run starts.
    end_cycle : callable
        ``end_cycle(counts)``: the end of a cycle (hall of fame, logbook, listeners).
    """

    def __init__(self, strategy: Strategy, driver: Driver, state: RunState,
                 end_cycle: Callable[[dict[str, int]], None]) -> None:
        self.strategy, self.driver, self.run_state, self.on_cycle = strategy, driver, state, end_cycle
        config, objectives = driver.config.algorithm, driver.config.training.objectives
        self.per_cycle = config.num_offspring
        self.budget = config.generations * self.per_cycle
        members = driver.config.evaluator.batch or AUTO_MEMBERS
        self.batch_size = max(1, min(members // driver.config.training.seeds, self.per_cycle))
        self.max_batches = max(1, min(driver.evaluator.capacity, config.population // self.batch_size))
        saved = state.steady_state or {  # the start, after the initial generation
            "asked": 0, "told": 0, "position": driver.journal_position(state.generation),
            "in_flight": [], "cycle": {"nevals": 0, "cached": 0}}
        self.asked, self.told = int(saved["asked"]), int(saved["told"])
        self.position = int(saved["position"])
        self.cycle = dict(saved["cycle"])
        self.in_flight: list[list[Individual]] = [
            [Individual.from_dict(d, objectives, driver.limits) for d in batch] for batch in saved["in_flight"]]
        self.pending: set[str] = set()  # keys submitted and not yet returned
        self.seen: set[str] = set()  # keys with a result journalled before the current position
        self.replaying = True

    # -- state -----------------------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """The loop's place, as the checkpoint keeps it."""
        return {"asked": self.asked, "told": self.told, "position": self.position, "cycle": dict(self.cycle),
                "in_flight": [[ind.to_dict() for ind in batch] for batch in self.in_flight]}

    def known(self, genome: Any) -> bool:
        """Whether a result of ``genome``'s key was journalled before the current position."""
        return self.driver.key(genome) in self.seen

    # -- events ----------------------------------------------------------------------------------------------
    def ask(self, n: int, expected: list[str] | None = None) -> list[Individual]:
        """Ask for ``n`` children (journalled; or checked against the ``expected`` keys of a replayed ask)."""
        children = self.strategy.ask(self.run_state.rng, n, known=self.known)  # type: ignore[call-arg]
        keys = [self.driver.request(child).key for child in children]
        self.driver.forget_keys()
        if expected is not None and keys != expected:
            raise ConfigError(f"{self.driver.store.run_dir / 'journal.jsonl'}: the journalled ask {expected} does "
                              f"not match this run's ({keys}): the journal comes from other code or another "
                              "configuration")
        self.asked += n
        self.in_flight.append(children)
        if expected is None:
            self.position += 1
            self.driver.store.record_event("ask", keys=keys)
        self.cycle["cached"] += sum(k in self.seen for k in keys)
        if expected is None:
            for key in dict.fromkeys(k for k in keys if k in self.seen):
                self.deliver(key)
        return children

    def deliver(self, key: str) -> None:
        """Tell every in-flight child whose key is ``key`` (its result is in the cache)."""
        for batch in list(self.in_flight):
            for child in [c for c in batch if c.key == key]:
                self.tell(child)

    def tell(self, child: Individual) -> None:
        """Tell the strategy one child whose result is in the cache."""
        self.in_flight = [kept for kept in ([c for c in batch if c is not child] for batch in self.in_flight) if kept]
        self.driver.assign(child, self.driver.store.result(child.key))
        self.strategy.tell([child])
        self.told += 1
        if not self.replaying:
            self.position += 1
            self.driver.store.record_event("tell", key=child.key)
        if self.told % self.per_cycle == 0:
            self.end_cycle()

    def end_cycle(self) -> None:
        """The logbook line and checkpoint of a cycle (``offspring`` tells, or fewer when the time is up)."""
        counts = {**self.cycle, "penalties": sum(ind.reason is not None for ind in self.strategy.population)}
        self.cycle = {"nevals": 0, "cached": 0}
        state = self.run_state
        state.steady_state, state.replaying = self.state(), self.replaying
        # the checkpoint's journal position is this loop's (a replayed cycle has later records loaded already)
        state.journal_position = self.position
        self.on_cycle(counts)

    def arrived(self, result: EvaluationResult, request: EvaluationRequest) -> None:
        """Journal a returned result and tell every in-flight child of its key."""
        self.pending.discard(result.key)
        if result.key not in self.driver.store.cache:
            self.driver.store.record_result(self.run_state.generation + 1, request, result)
            self.position += 1
            self.run_state.evaluations += 1
            self.cycle["nevals"] += 1
        self.seen.add(result.key)
        self.deliver(result.key)

    # -- the loop --------------------------------------------------------------------------------------------
    def replay(self) -> None:
        """Repeat the journalled asks and tells after the checkpoint's position."""
        records = self.driver.store.records
        self.seen = {r["key"] for r in records[: self.position] if r["type"] == "result"}
        for record in records[self.position:]:
            self.position += 1
            if record["type"] == "result":
                self.seen.add(record["key"])
                self.run_state.evaluations += 1
                self.cycle["nevals"] += 1
            elif record["type"] == "ask":
                self.ask(len(record["keys"]), expected=list(record["keys"]))
            else:
                child = next((c for batch in self.in_flight for c in batch if c.key == record["key"]), None)
                if child is None or record["key"] not in self.driver.store.cache:
                    raise ConfigError(f"{self.driver.store.run_dir / 'journal.jsonl'}: a tell of {record['key']} that "
                                      "no asked child or journalled result explains (a damaged journal)")
                self.tell(child)
        self.replaying = False

    def submit(self, batch: list[Individual], requests: dict[str, EvaluationRequest]) -> None:
        """Submit the children of ``batch`` that are neither cached nor pending (their requests go into
        ``requests``)."""
        todo = {}
        for child in batch:
            if child.key in self.driver.store.cache:
                continue
            if child.key not in self.pending and child.key not in todo:
                todo[child.key] = self.driver.request(child)
        for part in self.driver.plan(list(todo.values())):
            self.pending.update(r.key for r in part)
            requests.update((r.key, r) for r in part)
            self.driver.evaluator.submit(part)
