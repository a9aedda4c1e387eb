"""The loops over (strategy, driver, state, listeners), the run state's checkpoint, and the conversions a genome
goes through per evaluation."""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pytest

import deepstruct.evo as evo_package
from deepstruct.evo import loop, protocol
from deepstruct.evo.algorithms import Individual, Variation, make_strategy
from deepstruct.evo.driver import Driver
from deepstruct.evo.listeners import Budget, Checkpointer
from deepstruct.evo.run import EvolutionRun
from deepstruct.evo.state import RunState
from deepstruct.genomes import Genome, init_random_layered
from tests.evo.conftest import tiny_config


class _Driver:
    """A driver that gives every individual the number of its vertices as its fitness, and records the calls."""

    def __init__(self) -> None:
        self.generations: list[int] = []
        self.known_for: list[int] = []

    def evaluate(self, individuals: list[Individual], generation: int, survivors: Any = (),
                 holders: Any = ()) -> dict[str, int]:
        self.generations.append(generation)
        todo = [ind for ind in individuals if not ind.fitness.valid]
        for ind in todo:
            ind.fitness.values = (float(ind.genome.num_vertices),)
        return {"nevals": len(todo), "cached": 0, "penalties": 0}

    def journal_position(self, generation: int) -> int:
        return 10 * generation

    def known(self, generation: int) -> Any:
        self.known_for.append(generation)
        return lambda genome: False


def test_the_generational_loop_asks_evaluates_tells_and_calls_the_listeners_once_per_generation() -> None:
    config = tiny_config(**{"algorithm.generations": 3})
    state = RunState.new(config)
    strategy = make_strategy(config.algorithm, ("accuracy",), Variation(config.algorithm, state.registry))
    driver = _Driver()
    seen: list[tuple[int, int, bool, int]] = []

    def listener(state: RunState, record: dict[str, Any]) -> None:
        seen.append((state.generation, record["gen"], state.finished, state.journal_position))

    rng = np.random.default_rng(0)
    initial = strategy.initial([init_random_layered(4, 2, 6, rng=rng, num_layers=2) for _ in range(6)])
    done = Budget(config.algorithm.generations)
    loop.generation(strategy, driver, state, initial, [listener], done)  # type: ignore[arg-type]
    loop.generational(strategy, driver, state, [listener], done)  # type: ignore[arg-type]
    assert driver.generations == [0, 1, 2, 3] and driver.known_for == [1, 2, 3]
    assert seen == [(0, 0, False, 0), (1, 1, False, 10), (2, 2, False, 20), (3, 3, True, 30)]
    assert [r["gen"] for r in state.logbook] == [0, 1, 2, 3] and state.evaluations > 6
    assert state.hall_of_fame[0].fitness.values[0] == max(r["max"][0] for r in state.logbook)


def test_the_budget_ends_a_run_after_its_generations_or_its_time() -> None:
    state = RunState.new(tiny_config())
    state.generation, state.elapsed_s = 1, 5.0
    assert not Budget(2)(state) and Budget(1)(state)
    assert Budget(9, max_seconds=4.0)(state) and not Budget(9, max_seconds=6.0)(state)


@pytest.mark.parametrize("asynchronous", [False, True])
def test_a_checkpoint_read_back_into_a_run_state_writes_the_same_checkpoint(tmp_path: Path,
                                                                           asynchronous: bool) -> None:
    changes: dict[str, Any] = {"training.mode": "lamarckian"}
    if asynchronous:
        changes.update({"algorithm.name": "aging", "algorithm.asynchronous": True, "algorithm.offspring": 4})
    run = EvolutionRun(tiny_config(**changes), tmp_path / "run").run(report=False)
    saved = run.store.read_checkpoint()
    assert saved is not None and ("steady_state" in saved) == asynchronous
    resumed = EvolutionRun(run.config, tmp_path / "other")
    state = RunState.from_json(saved, run.config, resumed.strategy, "checkpoint.json")
    again = state.to_json(run.config, resumed.strategy)
    assert resumed.strategy.variation.registry is state.registry
    assert {k: v for k, v in again.items() if k != "seconds"} == {
        k: v for k, v in saved.items() if k not in ("seconds", "checksum")}
    assert state.rng.bit_generator.state == run.rng.bit_generator.state


def test_a_checkpoint_of_another_configuration_is_refused(tmp_path: Path) -> None:
    from deepstruct.evo.config import ConfigError

    run = EvolutionRun(tiny_config(**{"algorithm.generations": 0}), tmp_path / "run").run(report=False)
    saved = run.store.read_checkpoint()
    other = tiny_config(**{"algorithm.generations": 0, "seed": 1})
    with pytest.raises(ConfigError, match="another configuration"):
        RunState.from_json(saved, other, make_strategy(other.algorithm, ("accuracy",)), "checkpoint.json")


def test_a_lamarckian_evaluation_changes_its_genome_s_form_three_times_validates_it_twice_and_hashes_it_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Per evaluation: the request's dict, the worker's genome and the re-encoded genome's dict (no reload in the
    batch planner, no conversion in the checkpoint, the driver keeps the returned dict until a strategy reads the
    genome); validated on the worker's input and by encode (not by decode, the planner or the driver); each
    requested genome is hashed once (the strategy's ``known`` and the request share the key)."""
    counts: Counter[str] = Counter()
    hashed: Counter[int] = Counter()
    requested: list[Genome] = []
    window = [False]  # count inside Driver.evaluate and the checkpoint listener only

    def counting(name: str, fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            counts[name] += window[0]
            return fn(*args, **kwargs)
        return wrapper

    def windowed(fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            window[0] = True
            try:
                return fn(*args, **kwargs)
            finally:
                window[0] = False
        return wrapper

    from_dict = Genome.from_dict.__func__  # type: ignore[attr-defined]
    monkeypatch.setattr(Genome, "from_dict", classmethod(counting("from_dict", from_dict)))
    monkeypatch.setattr(Genome, "to_dict", counting("to_dict", Genome.to_dict))
    monkeypatch.setattr(Genome, "validate", counting("validate", Genome.validate))
    real_hash = protocol.canonical_hash

    alive: list[Genome] = []  # every hashed genome is kept, so that no id is reused for another one

    def canonical_hash(genome: Genome) -> Any:
        hashed[id(genome)] += 1
        alive.append(genome)
        return real_hash(genome)

    monkeypatch.setattr(protocol, "canonical_hash", canonical_hash)
    request = Driver.request
    monkeypatch.setattr(Driver, "request", lambda self, ind: (requested.append(ind.genome), request(self, ind))[1])
    monkeypatch.setattr(Driver, "evaluate", windowed(Driver.evaluate))
    monkeypatch.setattr(Checkpointer, "__call__", windowed(Checkpointer.__call__))
    config = tiny_config(**{"training.mode": "lamarckian", "algorithm.generations": 2, "training.prune_amount": 0.2})
    run = EvolutionRun(config, tmp_path / "run").run(report=False)
    n, penalties = run.evaluations, sum(r["penalties"] for r in run.logbook)
    assert n >= 10 and penalties == 0 and len(requested) >= n
    assert counts["validate"] == 2 * n  # the worker's input and encode's output
    assert counts["to_dict"] == len(requested) + n  # the requests and the re-encoded genomes
    assert counts["from_dict"] == n  # the worker's input
    assert {hashed[id(genome)] for genome in requested} == {1}
    parents = sum(ind.forms._genome is not None for ind in run.strategy.population)
    assert parents < len(run.strategy.population)  # returned genomes no strategy read were never built


def _evo_imports() -> dict[str, set[str]]:
    """The file-level imports among the modules of ``deepstruct.evo`` (function-level imports left out)."""
    root = Path(evo_package.__file__).parent
    graph: dict[str, set[str]] = {}
    for path in root.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = set()
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("deepstruct.evo"):
                names.add(node.module)
                names.update(f"deepstruct.evo.{a.name}" for a in node.names if node.module == "deepstruct.evo")
        graph[f"deepstruct.evo.{path.stem}"] = {n for n in names if n.removeprefix("deepstruct.evo.") != "__init__"}
    return graph


def test_the_evo_modules_import_each_other_without_a_cycle_and_the_loop_stays_short() -> None:
    imports = _evo_imports()
    graph = nx.DiGraph([(a, b) for a, deps in imports.items() for b in deps if b in imports])
    assert nx.is_directed_acyclic_graph(graph), nx.find_cycle(graph)
    assert {"deepstruct.evo.loop", "deepstruct.evo.state"} <= set(graph)
    assert "deepstruct.evo.run" not in nx.descendants(graph, "deepstruct.evo.steady_state")
    assert len(Path(loop.__file__).read_text(encoding="utf-8").splitlines()) <= 150
