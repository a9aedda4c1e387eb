"""A run whose disk fills up (ENOSPC injected into :mod:`deepstruct.evo.persistence` by
``tests/fuzzing/full_disk.py``) ends with one error line naming the run directory and "no space left", exit code
1; the checkpoint on disk is the last one written in full (or none), no temporary file is left, and once there is
space ``deepstruct resume`` finishes the run identical to an uninterrupted one. A real tiny tmpfs does the same in
``benchmarks/soak_disk_full.py``.
"""

from __future__ import annotations

import errno
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deepstruct.cli import main
from deepstruct.evo import persistence
from tests.fuzzing.full_disk import FullDisk
from tests.fuzzing.run_dirs import CHECKPOINT, JOURNAL, final_state, journal_results

TINY = ["--evaluator", "serial", "--population", "4", "--generations", "2", "--epochs", "1", "--seed", "3",
        "--set", "task.max_samples=300", "--set", "genome.num_vertices=10", "--set", "training.seeds=1",
        "--set", "evaluator.batch=1", "--no-progress"]


@pytest.fixture(autouse=True, scope="module")
def _no_report() -> Iterator[None]:
    """The report (plots, a retrained best model) is not under test here: skip it, it takes seconds."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("deepstruct.evo.report.write_report", lambda *args, **kwargs: [])
        yield


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    run_dir = tmp_path_factory.mktemp("reference") / "run"
    counting = FullDisk("", 0)  # never full: counts the writes to each file
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(persistence, "open", counting.open, raising=False)
        assert main(["evolve", *TINY, "--out", str(run_dir)]) == 0
    nevals = [line["nevals"] for line in json.loads((run_dir / CHECKPOINT).read_text())["logbook"]]
    return {"final": final_state(run_dir), "results": journal_results(run_dir), "nevals": nevals,
            "writes": counting.writes}


# where the disk fills: (file, which write of it), the journal's given by generation
WHERE = {
    "config": (persistence.CONFIG, lambda n: 1),
    "first journal line": (JOURNAL, lambda n: 1),
    "journal, generation 1": (JOURNAL, lambda n: n[0] + 1),
    "journal, generation 2": (JOURNAL, lambda n: n[0] + n[1] + 1),
    "first checkpoint": (CHECKPOINT, lambda n: 1),
    "checkpoint of generation 1": (CHECKPOINT, lambda n: 2),
    "last checkpoint": (CHECKPOINT, lambda n: 3),
}


@pytest.mark.parametrize("where", list(WHERE))
def test_a_full_disk_ends_the_run_cleanly_and_resume_finishes_it(
        where: str, reference: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    target, nth = WHERE[where]
    if nth(reference["nevals"]) > reference["writes"].get(target, 0):
        pytest.skip(f"the reference run writes {target} {reference['writes'].get(target, 0)} times")
    disk = FullDisk(target, nth(reference["nevals"]))
    monkeypatch.setattr(persistence, "open", disk.open, raising=False)
    written: list[bytes] = []  # every checkpoint written in full, in order
    write = persistence.write_json_atomic

    def recording(path: Any, data: Any, **kwargs: Any) -> None:
        write(path, data, **kwargs)
        if Path(path).name == CHECKPOINT:
            written.append(Path(path).read_bytes())

    monkeypatch.setattr(persistence, "write_json_atomic", recording)
    run_dir = tmp_path / "run"
    capsys.readouterr()
    assert main(["evolve", *TINY, "--out", str(run_dir)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert disk.failed_at is not None
    errors = [line for line in err if line.startswith("deepstruct: error:")]
    assert len(errors) == 1 and err[-1] == errors[0] and not any("Traceback" in line for line in err), err
    assert f"no space left on device in the run directory {run_dir}" in errors[0]
    if target == persistence.CONFIG:
        assert "start it again" in errors[0] and not (run_dir / persistence.CONFIG).exists()
    else:
        assert f"deepstruct resume {run_dir}" in errors[0]
    if written:  # the checkpoint on disk is the last one written in full
        assert (run_dir / CHECKPOINT).read_bytes() == written[-1]
    else:
        assert not (run_dir / CHECKPOINT).exists()
    assert not list(run_dir.glob(".*.tmp"))  # the half-written temporary file was removed

    disk.free()
    again = ["evolve", *TINY, "--out", str(run_dir)] if target == persistence.CONFIG else \
        ["resume", str(run_dir), "--no-progress"]
    assert main(again) == 0
    assert final_state(run_dir) == reference["final"]
    assert journal_results(run_dir) == reference["results"]  # nothing lost, nothing twice


def test_write_errors_name_their_file_and_keep_the_old_checkpoint(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / CHECKPOINT
    persistence.write_json_atomic(target, {"generation": 0}, seal=True)
    before = target.read_bytes()
    disk = FullDisk(CHECKPOINT, 1)
    monkeypatch.setattr(persistence, "open", disk.open, raising=False)
    with pytest.raises(OSError) as info:
        persistence.write_json_atomic(target, {"generation": 1}, seal=True)
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(target)
    assert target.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == [CHECKPOINT]
    journal = persistence.Journal(tmp_path / JOURNAL, seal=True)
    with pytest.raises(OSError) as info:  # the disk is still full
        journal.append({"type": "tell", "key": "k"})
    assert info.value.filename == str(tmp_path / JOURNAL)
    journal.close()  # closes although its last flush has nothing to add
    disk.free()
    with persistence.Journal(tmp_path / JOURNAL, seal=True) as journal:  # the torn line is cut first
        journal.append({"type": "tell", "key": "k"})
    assert persistence.read_journal(tmp_path / JOURNAL, sealed=True) == [{"type": "tell", "key": "k"}]


def test_the_lock_is_released_when_closing_the_journal_fails(tmp_path: Path) -> None:
    from deepstruct.evo.store import RunStore
    from tests.evo.conftest import tiny_config

    store = RunStore(tmp_path / "run").open(tiny_config())

    class Failing:
        def close(self) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

    store._journal.close()
    store._journal = Failing()  # type: ignore[assignment]
    with pytest.raises(OSError):
        store.close()
    RunStore(tmp_path / "run").open(tiny_config()).close()  # not "in use": the lock went with the failure
