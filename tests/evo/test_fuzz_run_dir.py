"""``deepstruct resume DIR`` on damaged run directories (``tests/fuzzing/run_dirs.py``), in process.

One interrupted run is made per module (serial, 4 individuals, 2 generations after the initial one, 1 epoch, one
member per batch; killed after the first evaluation of the last generation that has two or more, so that its
checkpoint is the generation before and the journal holds a result after it) next to the same run uninterrupted.
Each case changes a copy's ``checkpoint.json`` / ``journal.jsonl`` and resumes it. *Wrong state* is defined here
as anything but:

- **refused**: exit code 2, one line ``deepstruct: error: ...`` naming the file, and both files as they were; or
- **recovered**: exit code 0, the final checkpoint equal to the uninterrupted run's (population with genomes and
  fitnesses, hall of fame, logbook, RNG state, innovations, counts; not the run time), and a journal-derived cache
  that is consistent: sealed lines, every key once, every key the hash of its evaluated genome, and the same key
  -> fitness as the uninterrupted run's journal.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from deepstruct.cli import main
from deepstruct.evo.persistence import read_journal
from deepstruct.evo.run import EvolutionRun
from tests.evo.conftest import Killed, dying_after, tiny_config
from tests.fuzzing.run_dirs import CHECKPOINT, JOURNAL, RunDirCase, final_state, journal_results, run_dir_cases

CONFIG = tiny_config(**{"task.max_samples": 300, "training.epochs": 1, "genome.num_vertices": 10,
                        "algorithm.population": 4, "algorithm.generations": 2, "evaluator.batch": 1, "seed": 3})


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("runs")
    EvolutionRun(CONFIG, root / "whole").run(report=False)
    nevals = [line["nevals"] for line in json.loads((root / "whole" / CHECKPOINT).read_text())["logbook"]]
    last = max(g for g in range(1, len(nevals)) if nevals[g] >= 2)  # the kill lands inside generation `last`
    crashing = EvolutionRun(CONFIG, root / "interrupted", fitness_fn=dying_after(sum(nevals[:last]) + 1))
    with pytest.raises(Killed):
        crashing.run(report=False)
    data = json.loads((root / "interrupted" / CHECKPOINT).read_text())
    assert data["generation"] == last - 1
    assert data["journal_position"] < len(read_journal(root / "interrupted" / JOURNAL))
    return {"interrupted": root / "interrupted", "final": final_state(root / "whole"),
            "results": journal_results(root / "whole")}


@pytest.fixture(autouse=True)
def _no_report(monkeypatch: pytest.MonkeyPatch) -> None:
    """The report (plots, a retrained best model) is not under test here: skip it, it takes seconds."""
    monkeypatch.setattr("deepstruct.evo.report.write_report", lambda *args, **kwargs: [])


def _files(run_dir: Path) -> dict[str, bytes]:
    return {name: (run_dir / name).read_bytes() for name in (CHECKPOINT, JOURNAL) if (run_dir / name).exists()}


def resume_case(case: RunDirCase, runs: dict[str, Any], run_dir: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """Apply ``case`` to a copy of the interrupted run, resume it, and return ``"refused"`` or ``"recovered"``
    (failing the test on wrong state)."""
    shutil.copytree(runs["interrupted"], run_dir)
    changed = case.change(_files(run_dir))
    for name in (CHECKPOINT, JOURNAL):
        (run_dir / name).unlink(missing_ok=True)
        if name in changed:
            (run_dir / name).write_bytes(changed[name])
    capsys.readouterr()
    code = main(["resume", str(run_dir), "--no-progress"])
    err = capsys.readouterr().err.splitlines()
    if code == 0:
        assert final_state(run_dir) == runs["final"], f"{case.name}: resumed to another state"
        assert journal_results(run_dir) == runs["results"], f"{case.name}: the journal disagrees"
        return "recovered"
    assert code == 2, f"{case.name}: exit code {code}"
    assert len(err) == 1 and err[0].startswith("deepstruct: error: "), f"{case.name}: {err}"
    assert str(run_dir) in err[0] and (CHECKPOINT in err[0] or JOURNAL in err[0]), f"{case.name}: {err[0]}"
    assert _files(run_dir) == changed, f"{case.name}: a refused resume changed the files"
    return "refused"


def test_resume_refuses_or_recovers_every_damaged_run_directory(runs: dict[str, Any], tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    outcomes: Counter[str] = Counter()
    wrong = []
    for i, case in enumerate(run_dir_cases(seed=17)):
        outcome = resume_case(case, runs, tmp_path / f"case{i}", capsys)
        outcomes[outcome] += 1
        if case.expect != "either" and outcome != {"refuse": "refused", "recover": "recovered"}[case.expect]:
            wrong.append(f"{case.name}: {outcome}, expected {case.expect}")
    assert not wrong, "\n".join(wrong)
    assert outcomes["refused"] > 20 and outcomes["recovered"] >= 5, outcomes


def test_the_undamaged_interrupted_run_resumes_to_the_uninterrupted_result(runs: dict[str, Any], tmp_path: Path,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert resume_case(RunDirCase("none", "recover", lambda files: files), runs, tmp_path / "run", capsys) == \
        "recovered"
