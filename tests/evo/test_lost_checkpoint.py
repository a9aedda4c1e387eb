"""Resume after a kill that lost the last checkpoint write (found by ``benchmarks/soak_faults.py``).

A checkpoint is written on a background thread while the next generation (or the steady state) already journals,
so a SIGKILL can leave journal records of a generation whose predecessor's checkpoint never landed. The resumed
run replays that generation from the checkpoint before it; the checkpoint it then writes must say where the
uninterrupted run stood in the journal (``journal_position``), not how much of the journal is already there.
The kills here are deterministic: the lost write is a dropped ``save_checkpoint``, the kill a
:class:`~tests.evo.conftest.Killed` (no evaluator turns it into a penalty) raised when the run reaches a given
state.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from deepstruct.evo.fitness import evaluate_requests
from deepstruct.evo.persistence import read_journal
from deepstruct.evo.run import EvolutionRun
from tests.evo.conftest import Killed, killed_after_generation, tiny_config


def _final(run_dir: Path) -> dict[str, Any]:
    data = json.loads((run_dir / "checkpoint.json").read_text())
    for clock in ("config", "seconds", "checksum"):  # the run directory and the run time (and a seal over it)
        data.pop(clock, None)
    return data


def _events(run_dir: Path) -> list[tuple[str, Any]]:
    """The journal as (type, key or keys), in order."""
    return [(r.get("type", "result"), r.get("key", r.get("keys"))) for r in read_journal(run_dir / "journal.jsonl")]


def _interrupted(config: Any, run_dir: Path, lost: int, kill: Callable[[EvolutionRun], bool]) -> None:
    """Run until ``kill(run)`` holds when a batch is about to train, with the checkpoint of generation ``lost``
    never written (the process died before the background write landed)."""
    holder: list[EvolutionRun] = []

    def fitness(requests: list, data: dict, batched: bool = True) -> list:
        if kill(holder[0]):
            raise Killed
        return evaluate_requests(requests, data, batched=batched)

    run = EvolutionRun(config, run_dir, fitness_fn=fitness)
    holder.append(run)
    save = run.store.save_checkpoint
    run.store.save_checkpoint = lambda data: None if data["generation"] == lost else save(data)  # type: ignore[method-assign]
    with pytest.raises(Killed):
        run.run(report=False)
    assert not (run_dir / "checkpoint.json").exists() or _final(run_dir)["generation"] < lost


def test_a_generation_replayed_after_a_lost_checkpoint_records_its_own_journal_position(tmp_path: Path) -> None:
    config = tiny_config(**{"algorithm.population": 8, "algorithm.generations": 3, "evaluator.batch": 2})
    whole = EvolutionRun(config, tmp_path / "whole").run(report=False)

    def in_generation_2(run: EvolutionRun) -> bool:  # one batch of generation 2 is journalled
        return any(hit.generation == 2 for hit in run.store.cache.values())

    _interrupted(config, tmp_path / "cut", lost=1, kill=in_generation_2)
    resumed = EvolutionRun.resume(tmp_path / "cut")
    assert resumed.generation == 0  # the checkpoint of generation 1 was lost: generation 1 is replayed

    resumed.on_generation = killed_after_generation(1)
    with pytest.raises(Killed):
        resumed.run(report=False)
    replayed = _final(tmp_path / "cut")
    journal = read_journal(tmp_path / "cut" / "journal.jsonl")
    assert replayed["generation"] == 1 and any(r["gen"] == 2 for r in journal)  # later records were there
    assert replayed["journal_position"] == sum(r["gen"] <= 1 for r in journal) == replayed["evaluations"]

    EvolutionRun.resume(tmp_path / "cut").run(report=False)
    assert _final(tmp_path / "cut") == _final(whole.run_dir)
    assert _events(tmp_path / "cut") == _events(whole.run_dir)


def test_an_asynchronous_run_whose_first_checkpoint_was_lost_replays_its_journalled_ask(tmp_path: Path) -> None:
    config = tiny_config(**{"algorithm.name": "aging", "algorithm.asynchronous": True, "algorithm.offspring": 3,
                            "algorithm.generations": 2, "evaluator.batch": 2})
    whole = EvolutionRun(config, tmp_path / "whole").run(report=False)

    def in_steady_state(run: EvolutionRun) -> bool:  # the first children are asked (and journalled)
        return run.generation >= 0

    _interrupted(config, tmp_path / "cut", lost=0, kill=in_steady_state)
    assert "ask" in [kind for kind, _ in _events(tmp_path / "cut")]
    EvolutionRun.resume(tmp_path / "cut").run(report=False)
    assert _events(tmp_path / "cut") == _events(whole.run_dir)  # the ask is replayed, not asked (journalled) again
    assert _final(tmp_path / "cut") == _final(whole.run_dir)


def test_an_asynchronous_cycle_replayed_after_a_lost_checkpoint_records_its_own_journal_position(
        tmp_path: Path) -> None:
    config = tiny_config(**{"algorithm.name": "aging", "algorithm.asynchronous": True, "algorithm.offspring": 4,
                            "algorithm.generations": 2, "evaluator.batch": 2})  # two batches a cycle
    whole = EvolutionRun(config, tmp_path / "whole").run(report=False)

    def in_cycle_2(run: EvolutionRun) -> bool:  # the first batch of cycle 2 is journalled
        return any(hit.generation == 2 for hit in run.store.cache.values())

    _interrupted(config, tmp_path / "cut", lost=1, kill=in_cycle_2)
    resumed = EvolutionRun.resume(tmp_path / "cut")
    assert resumed.generation == 0

    resumed.on_generation = killed_after_generation(1)
    with pytest.raises(Killed):
        resumed.run(report=False)
    replayed = _final(tmp_path / "cut")
    assert replayed["generation"] == 1 and len(_events(tmp_path / "cut")) > replayed["journal_position"]
    assert replayed["journal_position"] == replayed["steady_state"]["position"]

    EvolutionRun.resume(tmp_path / "cut").run(report=False)
    assert _events(tmp_path / "cut") == _events(whole.run_dir)
    assert _final(tmp_path / "cut") == _final(whole.run_dir)
