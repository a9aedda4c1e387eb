"""Asynchronous steady-state aging evolution: a new child is asked for as soon as a result returns.

``algorithm.name = "aging"`` with ``algorithm.asynchronous = true``: after the initial population, children are
asked in batches (one tensor program each) and every returning result is told at once, so a slow individual
never stalls the others. Every ask (the children's keys) and every tell is journalled in the order it happened;
``resume`` restores the last checkpoint, replays the journal after it — the same asks from the same RNG state,
the same tells in the same order — and then goes on live, so it ends where the interrupted run would have (with
the serial evaluator exactly; with Ray the live part's arrival order is the cluster's). A cycle is
``algorithm.offspring`` tells: it gets a logbook line and a checkpoint; the run ends after ``generations``
cycles.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from deepstruct.evo.algorithms import Individual
from deepstruct.evo.batching import AUTO_MEMBERS
from deepstruct.evo.config import ConfigError
from deepstruct.evo.evaluators import Evaluator
from deepstruct.evo.protocol import EvaluationRequest, EvaluationResult, genome_key

if TYPE_CHECKING:
    from deepstruct.evo.run import EvolutionRun

__all__ = ["SteadyState"]


def _holds(batch: list[Individual], child: Individual) -> bool:
    """Whether ``child`` itself (not an equal-keyed twin) is in ``batch``."""
    return any(c is child for c in batch)


class SteadyState:
    """The asynchronous loop of one run (see the module docstring)."""

    def __init__(self, run: EvolutionRun, evaluator: Evaluator, bar: Any = None) -> None:
        self.owner, self.evaluator, self.bar = run, evaluator, bar
        config = run.config.algorithm
        self.per_cycle = config.num_offspring
        self.budget = config.generations * self.per_cycle
        members = run.config.evaluator.batch or AUTO_MEMBERS
        self.batch_size = max(1, min(members // run.config.training.seeds, self.per_cycle))
        self.max_batches = max(1, min(evaluator.capacity, config.population // self.batch_size))
        resumed = run.resumed or {}
        state = resumed.get("steady_state") or {  # the start, after the initial generation
            "asked": 0, "told": 0, "position": run.journal_position(),
            "in_flight": [], "cycle": {"nevals": 0, "cached": 0}}
        self.asked, self.told = int(state["asked"]), int(state["told"])
        self.position = int(state["position"])
        self.cycle = dict(state["cycle"])
        self.in_flight: list[list[Individual]] = [
            [Individual.from_dict(d, run.objectives, run.limits) for d in batch] for batch in state["in_flight"]]
        self.pending: set[str] = set()  # keys submitted and not yet returned
        self.seen: set[str] = set()  # keys with a result journalled before the current position
        self.replaying = True

    # -- state -----------------------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {"steady_state": {
            "asked": self.asked, "told": self.told, "position": self.position, "cycle": dict(self.cycle),
            "in_flight": [[ind.to_dict() for ind in batch] for batch in self.in_flight]}}

    def known(self, genome: Any) -> bool:
        return genome_key(genome) in self.seen

    # -- events ----------------------------------------------------------------------------------------------
    def ask(self, n: int, expected: list[str] | None = None) -> list[Individual]:
        run = self.owner
        run.strategy.known = self.known
        children = run.strategy.ask(run.rng, n)
        keys = [run.request(child).key for child in children]
        if expected is not None and keys != expected:
            raise ConfigError(f"{run.store.run_dir / 'journal.jsonl'}: the journalled ask {expected} does not match "
                              f"this run's ({keys}): the journal comes from other code or another configuration")
        self.asked += n
        self.in_flight.append(children)
        if expected is None:
            self.position += 1
            run.store.record_event("ask", keys=keys)
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
        run = self.owner
        self.in_flight = [kept for kept in ([c for c in batch if c is not child] for batch in self.in_flight) if kept]
        run.assign(child, run.store.result(child.key))
        run.strategy.tell([child])
        self.told += 1
        if not self.replaying:
            self.position += 1
            run.store.record_event("tell", key=child.key)
        if self.told % self.per_cycle == 0:
            self.end_cycle()

    def end_cycle(self) -> None:
        """The logbook line and checkpoint of a cycle (``offspring`` tells, or fewer when the time is up)."""
        run = self.owner
        counts = {**self.cycle, "penalties": sum(ind.reason is not None for ind in run.strategy.population)}
        self.cycle = {"nevals": 0, "cached": 0}
        # the checkpoint's journal position is this loop's (a replayed cycle has later records loaded already)
        run.end_generation(counts, None if self.replaying else self.bar,
                           {**self.state(), "journal_position": self.position})

    def arrived(self, result: EvaluationResult, request: EvaluationRequest) -> None:
        run = self.owner
        self.pending.discard(result.key)
        if result.key not in run.store.cache:
            run.store.record_result(run.generation + 1, request, result)
            self.position += 1
            run.evaluations += 1
            self.cycle["nevals"] += 1
        self.seen.add(result.key)
        self.deliver(result.key)

    # -- the loop --------------------------------------------------------------------------------------------
    def replay(self) -> None:
        """Repeat the journalled asks and tells after the checkpoint's position."""
        records = self.owner.store.records
        self.seen = {r["key"] for r in records[: self.position] if r["type"] == "result"}
        for record in records[self.position:]:
            self.position += 1
            if record["type"] == "result":
                self.seen.add(record["key"])
                self.owner.evaluations += 1
                self.cycle["nevals"] += 1
            elif record["type"] == "ask":
                self.ask(len(record["keys"]), expected=list(record["keys"]))
            else:
                child = next((c for batch in self.in_flight for c in batch if c.key == record["key"]), None)
                if child is None or record["key"] not in self.owner.store.cache:
                    raise ConfigError(f"{self.owner.store.run_dir / 'journal.jsonl'}: a tell of {record['key']} that "
                                      "no asked child or journalled result explains (a damaged journal)")
                self.tell(child)
        self.replaying = False

    def submit(self, batch: list[Individual], requests: dict[str, EvaluationRequest]) -> None:
        todo = {}
        for child in batch:
            if child.key in self.owner.store.cache:
                continue
            if child.key not in self.pending and child.key not in todo:
                todo[child.key] = self.owner.request(child)
        for part in self.owner.plan(list(todo.values())):
            self.pending.update(r.key for r in part)
            requests.update((r.key, r) for r in part)
            self.evaluator.submit(part)

    def run(self) -> None:
        self.replay()
        requests: dict[str, EvaluationRequest] = {}
        for batch in list(self.in_flight):  # children asked before the checkpoint or the crash
            for key in dict.fromkeys(c.key for c in batch if c.key in self.owner.store.cache):
                self.deliver(key)
            self.submit([c for c in batch if any(_holds(b, c) for b in self.in_flight)], requests)
        while self.told < self.budget:
            stopping = self.owner.done()  # past algorithm.max_seconds: ask no more, finish what is in flight
            while not stopping and self.asked < self.budget and len(self.in_flight) < self.max_batches:
                children = self.ask(min(self.batch_size, self.budget - self.asked))
                self.submit([c for c in children if any(_holds(b, c) for b in self.in_flight)], requests)
            if self.told >= self.budget:
                break
            if not self.evaluator.in_flight:
                if stopping:
                    break
                raise RuntimeError("steady state: children in flight but nothing submitted (internal error)")
            for result in self.evaluator.collect():
                self.arrived(result, requests.pop(result.key))
        if self.told % self.per_cycle:  # stopped by the time limit within a cycle: record the part done
            self.end_cycle()
