"""Two runs into one run directory, at the command line: the second is refused with exit code 2 and one line
saying the directory is in use (the lock; ``tests/evo/test_run.py`` checks it in process), or, for ``evolve``,
that the directory already holds a run. Nothing of the first run's files changes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deepstruct.cli import main
from deepstruct.evo.persistence import CONFIG, JOURNAL
from tests.evo.conftest import tiny_config

HOLD_LOCK = r"""
import fcntl, sys
handle = open(sys.argv[1], "w")
fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
print("locked", flush=True)
sys.stdin.read()  # hold it until the test closes our stdin
"""
# a run far longer than the test (killed at its end), so that it holds its lock while the second one tries
RUN = ["--evaluator", "serial", "--population", "6", "--generations", "50", "--epochs", "50", "--seed", "1",
       "--set", "task.max_samples=600", "--set", "training.seeds=1", "--no-progress"]


def _one_error(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("deepstruct: error: "), lines
    return lines[0]


def test_resume_is_refused_while_another_process_holds_the_lock(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / CONFIG).write_text(json.dumps(tiny_config().to_dict()))
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(run_dir / ".lock")], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        capsys.readouterr()
        assert main(["resume", str(run_dir), "--no-progress"]) == 2
        assert f"{run_dir} is in use by another deepstruct process" in _one_error(capsys)
        assert sorted(p.name for p in run_dir.iterdir()) == [".lock", CONFIG]  # no journal, no checkpoint
    finally:
        holder.communicate(timeout=30)
    assert holder.returncode == 0


def _wait_for_journal(path: Path, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if path.exists() and path.read_bytes().count(b"\n") >= 1:
            return
        time.sleep(0.01)
    raise AssertionError("the first run ended or stalled before journalling anything")


def test_a_second_run_into_a_running_directory_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / "run"
    first = subprocess.Popen([sys.executable, "-m", "deepstruct.cli", "evolve", *RUN, "--out", str(run_dir)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        _wait_for_journal(run_dir / JOURNAL, first)
        capsys.readouterr()
        assert main(["resume", str(run_dir), "--no-progress"]) == 2  # this process
        assert f"{run_dir} is in use by another deepstruct process" in _one_error(capsys)
        assert main(["evolve", *RUN, "--out", str(run_dir)]) == 2
        assert f"{run_dir} already holds a run" in _one_error(capsys)
        second = subprocess.run([sys.executable, "-m", "deepstruct.cli", "resume", str(run_dir), "--no-progress"],
                                capture_output=True, text=True, timeout=120)  # another process
        lines = second.stderr.splitlines()
        assert second.returncode == 2 and len(lines) == 1 and "is in use by another deepstruct process" in lines[0]
        assert first.poll() is None  # the first run went on undisturbed
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
