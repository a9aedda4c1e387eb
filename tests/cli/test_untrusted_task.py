"""Opening a run directory or a config file never imports or calls code named in it.

A ``module:function`` task named in ``config.json`` or a TOML config is imported only when the command line names
the same task again (``--task``), or when Python passes the Task. Built-in tasks load as before.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from deepstruct.cli import main
from deepstruct.evo.tasks import UntrustedTaskError

USER_TASK = "tests.evo.test_tasks:make_blobs"
TINY = ["--evaluator", "serial", "--population", "4", "--generations", "1", "--epochs", "1",
        "--set", "training.seeds=1", "--set", "genome.num_vertices=10", "--no-progress", "--mode", "baldwinian"]


@pytest.fixture(scope="module")
def user_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished run of a user task (80 blobs, 4 individuals, 1 generation)."""
    run_dir = tmp_path_factory.mktemp("user") / "run"
    assert main(["evolve", "--task", USER_TASK, *TINY, "--out", str(run_dir)]) == 0
    return run_dir


def _copy(run_dir: Path, tmp_path: Path) -> Path:
    out = tmp_path / "run"
    shutil.copytree(run_dir, out)
    return out


def _hostile(run_dir: Path, marker: Path, files: tuple[str, ...] = ("config.json", "checkpoint.json")) -> None:
    """Rewrite the run's config the way an attacker would: the task runs a shell command. The attacker seals the
    checkpoint again (its checksum guards against damage, not against an attack)."""
    from deepstruct.evo.persistence import SEAL, sealed_json

    for name in files:
        data = json.loads((run_dir / name).read_text())
        config = data["config"] if name == "checkpoint.json" else data
        config["task"]["name"] = "os:system"
        config["task"]["params"] = {"command": f"touch {marker}"}
        data.pop(SEAL, None)
        (run_dir / name).write_text(sealed_json(data) if name == "checkpoint.json" else json.dumps(data))
    (run_dir / "config.toml").unlink(missing_ok=True)  # else the edit shows as config.toml disagreeing with it


def _error(capsys: pytest.CaptureFixture[str]) -> str:
    """The one error line, the last on stderr (a report's progress lines may come before it)."""
    lines = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in lines if line.startswith("deepstruct: error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], lines
    return errors[0]


@pytest.mark.parametrize("command", ["resume", "report"])
def test_a_run_directory_naming_os_system_runs_nothing(command: str, user_run: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    run_dir, marker = _copy(user_run, tmp_path), tmp_path / "pwned"
    _hostile(run_dir, marker)
    capsys.readouterr()
    if command == "report":  # the report reuses best_model.pt: it needs no task, and imports none
        assert main([command, str(run_dir)]) == 0
        assert not marker.exists()
        (run_dir / "best_model.pt").unlink()  # now it would have to train the best genome with the task's data
    assert main([command, str(run_dir)]) == 2
    error = _error(capsys)
    assert "'os:system'" in error and "--task os:system" in error and "not imported" in error
    assert not marker.exists()


@pytest.mark.parametrize("command", ["resume", "report"])
def test_a_user_task_is_imported_when_the_command_line_names_it_again(
        command: str, user_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = _copy(user_run, tmp_path)
    (run_dir / "best_model.pt").unlink()
    assert main([command, str(run_dir)]) == 2
    assert f"--task {USER_TASK}" in _error(capsys)
    assert main([command, str(run_dir), "--task", USER_TASK]) == 0
    assert (run_dir / "best_model.pt").is_file()  # the report retrained the best with the user task's data


@pytest.mark.parametrize("command", ["resume", "report"])
def test_another_task_than_the_runs_is_refused(command: str, user_run: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    run_dir, marker = _copy(user_run, tmp_path), tmp_path / "pwned"
    _hostile(run_dir, marker)
    capsys.readouterr()
    assert main([command, str(run_dir), "--task", USER_TASK]) == 2
    assert "is not the task of" in _error(capsys) and not marker.exists()


def test_report_checks_the_task_it_would_load_not_another_files(user_run: Path, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    # config.json still names the user's task, the checkpoint (which report trains from) names os:system
    run_dir, marker = _copy(user_run, tmp_path), tmp_path / "pwned"
    _hostile(run_dir, marker, files=("checkpoint.json",))
    capsys.readouterr()
    assert main(["report", str(run_dir), "--task", USER_TASK]) == 2
    assert "checkpoint.json (os:system)" in _error(capsys) and not marker.exists()
    _hostile(run_dir, marker, files=("config.json",))
    (run_dir / "checkpoint.json").unlink()
    assert main(["resume", str(run_dir), "--task", USER_TASK]) == 2 and not marker.exists()


def test_a_config_file_naming_a_user_task_needs_it_on_the_command_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from deepstruct.evo.run import EvolutionRun

    marker = tmp_path / "pwned"
    config = tmp_path / "shared.toml"
    config.write_text(f'[task]\nname = "os:system"\nparams = {{command = "touch {marker}"}}\n')
    assert main(["evolve", "--config", str(config), *TINY, "--out", str(tmp_path / "a")]) == 2
    assert "--task os:system" in _error(capsys) and not marker.exists()

    class Started(BaseException):  # not an Exception: main() turns every Exception into one error line
        pass

    def start(self: EvolutionRun) -> None:
        raise Started(self.task.name)

    monkeypatch.setattr(EvolutionRun, "run", start)
    config.write_text(f'[task]\nname = "{USER_TASK}"\n')
    assert main(["evolve", "--config", str(config), *TINY, "--out", str(tmp_path / "b")]) == 2
    with pytest.raises(Started, match="make_blobs"):  # named again: the task is imported and the run starts
        main(["evolve", "--config", str(config), "--task", USER_TASK, *TINY, "--out", str(tmp_path / "c")])
    with pytest.raises(Started):  # --set task.name counts as naming it on the command line
        main(["evolve", "--config", str(config), "--set", f"task.name={USER_TASK}", *TINY, "--out",
              str(tmp_path / "d")])
    with pytest.raises(Started):  # without a config file the command line is the only source
        main(["evolve", "--task", USER_TASK, *TINY, "--out", str(tmp_path / "e")])


def test_built_in_tasks_load_without_being_named_again() -> None:
    # (test_cli.py's evolve/report/resume runs a digits run directory end to end without --task)
    from deepstruct.evo.config import TaskConfig
    from deepstruct.evo.tasks import load_task

    assert load_task(TaskConfig(name="digits", max_samples=100), allow_import=False).num_inputs == 64
    with pytest.raises(UntrustedTaskError, match="--task os:system"):
        load_task(TaskConfig(name="os:system", params={"command": "true"}), allow_import=False, trusted="os:sys")


def test_python_resume_refuses_the_user_task_unless_passed(user_run: Path, tmp_path: Path) -> None:
    from deepstruct.evo.config import TaskConfig
    from deepstruct.evo.run import EvolutionRun
    from deepstruct.evo.tasks import load_task

    run_dir = _copy(user_run, tmp_path)
    with pytest.raises(UntrustedTaskError, match="not imported"):
        EvolutionRun.resume(run_dir)
    task = load_task(TaskConfig(name=USER_TASK))  # the caller's own import
    assert EvolutionRun.resume(run_dir, task=task).task is task
