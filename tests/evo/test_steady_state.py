"""Asynchronous steady-state aging: reproducible with the serial evaluator; a crashed run resumes by replaying
its journalled asks and tells and ends as the uninterrupted run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from deepstruct.evo.config import ConfigError
from deepstruct.evo.persistence import read_journal
from deepstruct.evo.run import EvolutionRun
from tests.evo.conftest import Killed, dying_after, tiny_config


def _config(**changes: Any) -> Any:
    return tiny_config(**{"algorithm.name": "aging", "algorithm.asynchronous": True, "algorithm.offspring": 4,
                          "algorithm.generations": 3, "evaluator.batch": 2, **changes})


def _final(run_dir: Path) -> dict[str, Any]:
    data = json.loads((run_dir / "checkpoint.json").read_text())
    data.pop("seconds")  # run time: the only part that depends on the machine
    data.pop("checksum")  # the seal covers the run time
    return data


class _Crash(RuntimeError):
    pass


def test_an_asynchronous_run_is_reproducible_and_journals_every_ask_and_tell(tmp_path: Path) -> None:
    a = EvolutionRun(_config(), tmp_path / "a").run(report=False)
    EvolutionRun(_config(), tmp_path / "b").run(report=False)
    assert _final(tmp_path / "a") == _final(tmp_path / "b")
    records = read_journal(tmp_path / "a" / "journal.jsonl")
    tells = [r for r in records if r.get("type") == "tell"]
    asks = [r for r in records if r.get("type") == "ask"]
    assert len(tells) == 3 * 4 == sum(len(r["keys"]) for r in asks)
    assert len({len(r["keys"]) for r in asks}) == 1 and len(asks[0]["keys"]) == 2  # batch 2 / 1 seed
    results = {r["key"] for r in records if r.get("type") == "result"}
    assert {r["key"] for r in tells} <= results
    assert a.generation == 3 and _final(tmp_path / "a")["finished"]
    assert len(a.logbook) == 4


@pytest.mark.parametrize("crash", ["generation 1", "generation 2", "batch 4", "batch 7"])
def test_a_crashed_asynchronous_run_resumes_to_the_uninterrupted_result(tmp_path: Path, crash: str) -> None:
    EvolutionRun(_config(), tmp_path / "whole").run(report=False)
    where, number = crash.split()
    if where == "generation":
        crashing = EvolutionRun(_config(), tmp_path / "crashed")

        def stop(run: EvolutionRun) -> None:
            if run.generation == int(number):
                raise _Crash

        crashing.on_generation = stop
    else:  # between checkpoints: the resumed run replays the journal after the last one
        crashing = EvolutionRun(_config(), tmp_path / "crashed", fitness_fn=dying_after(int(number)))
    with pytest.raises((_Crash, Killed)):
        crashing.run(report=False)
    resumed = EvolutionRun.resume(tmp_path / "crashed")
    resumed.run(report=False)
    assert _final(tmp_path / "crashed") == _final(tmp_path / "whole")
    keys = [r["key"] for r in read_journal(tmp_path / "crashed" / "journal.jsonl") if r.get("type") == "result"]
    assert len(keys) == len(set(keys))  # nothing evaluated twice


def test_a_journal_from_another_run_is_refused_on_replay(tmp_path: Path) -> None:
    crashing = EvolutionRun(_config(), tmp_path / "run", fitness_fn=dying_after(7))
    with pytest.raises(Killed):
        crashing.run(report=False)
    journal = tmp_path / "run" / "journal.jsonl"
    lines = journal.read_text().splitlines()
    position = json.loads((tmp_path / "run" / "checkpoint.json").read_text())["steady_state"]["position"]
    asks = [i for i, line in enumerate(lines) if '"type":"ask"' in line and i >= position]
    assert asks, "the run died before asking anything after its last checkpoint"
    record = json.loads(lines[asks[-1]])
    record["keys"] = ["0" * 16 for _ in record["keys"]]
    lines[asks[-1]] = json.dumps(record)
    journal.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match="does not match"):
        EvolutionRun.resume(tmp_path / "run").run(report=False)


def test_asynchronous_needs_aging() -> None:
    with pytest.raises(ConfigError, match="aging"):
        tiny_config(**{"algorithm.asynchronous": True})
