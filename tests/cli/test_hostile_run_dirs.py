"""Run directories and arguments that try to turn deepstruct against its reader (issue 17): every case ends in one
line and a non-zero exit code, writes nothing outside the run directory and never waits on a FIFO."""

from __future__ import annotations

import io
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from deepstruct.cli import MAX_MESSAGE, main
from deepstruct.evo.persistence import read_json, sealed_json
from deepstruct.evo.store import lock_run_dir

TINY = ["--evaluator", "serial", "--population", "4", "--generations", "1", "--epochs", "1",
        "--set", "task.max_samples=300", "--set", "genome.num_vertices=6", "--set", "genome.min_vertices=0",
        "--set", "training.seeds=1", "--no-progress", "--mode", "baldwinian"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("hostile") / "run"
    assert main(["evolve", *TINY, "--out", str(run_dir)]) == 0
    return run_dir


@pytest.fixture()
def run_copy(finished_run: Path, tmp_path: Path) -> Path:
    import shutil

    target = tmp_path / "run"
    shutil.copytree(finished_run, target)
    (target / ".lock").unlink(missing_ok=True)
    return target


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("deepstruct: error:")]
    assert len(err) == 1, err
    assert "Traceback" not in err[0] and len(err[0]) <= MAX_MESSAGE + 40
    return err[0]


# -- writes never follow a symlink out of the run directory ---------------------------------------------------
@pytest.mark.parametrize("name", ["logbook.csv", "best_model.pt", "fitness.png", "best_network.png",
                                  "best/genome_00.json", "best/genome_00.graphml"])
def test_report_replaces_a_symlink_and_leaves_its_target(run_copy: Path, tmp_path: Path, name: str) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (run_copy / name).unlink()
    (run_copy / name).symlink_to(victim)
    assert main(["report", str(run_copy)]) == 0
    assert victim.read_text() == "precious"
    assert not (run_copy / name).is_symlink() and (run_copy / name).stat().st_size > 0


def test_report_refuses_a_best_directory_that_is_a_symlink(run_copy: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    import shutil

    shutil.rmtree(run_copy / "best")
    (run_copy / "best").symlink_to(elsewhere)
    assert main(["report", str(run_copy)]) == 2
    assert "symlink" in one_error_line(capsys)
    assert list(elsewhere.iterdir()) == []


def test_a_lock_file_that_is_a_symlink_is_refused(run_copy: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (run_copy / ".lock").symlink_to(victim)
    assert main(["report", str(run_copy)]) == 2
    assert "lock" in one_error_line(capsys)
    assert victim.read_text() == "precious"


# -- report takes the run's lock -----------------------------------------------------------------------------
def test_report_is_refused_while_the_run_is_locked(run_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = (run_copy / "logbook.csv").stat().st_mtime_ns
    lock = lock_run_dir(run_copy)
    try:
        assert main(["report", str(run_copy)]) == 2
    finally:
        lock.close()
    assert "in use by another deepstruct process" in one_error_line(capsys)
    assert (run_copy / "logbook.csv").stat().st_mtime_ns == before


# -- FIFOs and devices are refused at once ---------------------------------------------------------------------
def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


@pytest.fixture()
def watchdog() -> Iterator[None]:
    """Fail instead of hanging: a FIFO opened for reading blocks until a writer comes; this one never does."""
    timer = threading.Timer(60, lambda: os._exit(99))
    timer.start()
    yield
    timer.cancel()


@pytest.mark.usefixtures("watchdog")
@pytest.mark.parametrize("check", [True, False])
def test_a_fifo_config_is_refused_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str], check: bool) -> None:
    config = _fifo(tmp_path / "run.toml")
    assert main(["evolve", "--config", str(config), *(["--check"] if check else [])]) == 2
    assert "FIFO" in one_error_line(capsys)


def test_a_device_config_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evolve", "--config", "/dev/zero", "--check"]) == 2
    assert "character device" in one_error_line(capsys)


@pytest.mark.usefixtures("watchdog")
@pytest.mark.parametrize("name", ["journal.jsonl", "checkpoint.json"])
def test_resume_refuses_a_fifo_in_the_run_directory(run_copy: Path, name: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    if name == "journal.jsonl":  # a finished run only reports: make it one that goes on, reading its journal
        def unfinished(data: dict) -> None:
            data["finished"] = False
            data["config"]["algorithm"]["generations"] = 2

        _reseal(run_copy / "checkpoint.json", unfinished)
        (run_copy / "config.json").write_text((run_copy / "config.json").read_text().replace(
            '"generations":1', '"generations":2'))
        (run_copy / "config.toml").unlink()
    (run_copy / name).unlink()
    _fifo(run_copy / name)
    assert main(["resume", str(run_copy)]) == 2
    assert "FIFO" in one_error_line(capsys)


@pytest.mark.usefixtures("watchdog")
def test_load_json_refuses_a_fifo(tmp_path: Path) -> None:
    from deepstruct.genomes import GenomeError, load_graphml, load_json

    fifo = _fifo(tmp_path / "genome.json")
    for load in (load_json, load_graphml):
        with pytest.raises(GenomeError, match="FIFO"):
            load(fifo)
    with pytest.raises(ValueError, match="FIFO"):
        read_json(fifo)


# -- realistic limits, estimated memory ------------------------------------------------------------------------
@pytest.mark.parametrize(("argv", "field"), [
    (["--population", "1000000000"], "algorithm.population"),
    (["--set", "algorithm.offspring=1000000000"], "algorithm.offspring"),
    (["--set", "training.seeds=100000"], "training.seeds"),
    (["--epochs", "100000000"], "training.epochs"),
    (["--generations", "10000000000"], "algorithm.generations"),
])
def test_sizes_past_the_limits_are_refused(argv: list[str], field: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evolve", *argv, "--check"]) == 2
    assert field in one_error_line(capsys)


def test_a_run_too_large_for_the_memory_is_refused_before_it_starts(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["evolve", "--check", "--population", "100000", "--set", "genome.num_vertices=256",
            "--out", str(tmp_path / "run")]
    from deepstruct.evo import budget

    original = budget.physical_memory
    try:
        budget.physical_memory = lambda: 2**30  # type: ignore[assignment]
        assert main(argv) == 2
    finally:
        budget.physical_memory = original  # type: ignore[assignment]
    assert "this machine has 1.0 GiB" in one_error_line(capsys)
    assert not (tmp_path / "run").exists()


def test_check_prints_the_memory_estimate(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evolve", "--check"]) == 0
    assert "deepstruct: memory estimate: about" in capsys.readouterr().err


# -- one line, never a traceback --------------------------------------------------------------------------------
def test_out_below_a_regular_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("x")
    assert main(["evolve", *TINY, "--out", str(tmp_path / "file" / "run")]) != 0
    assert "file" in one_error_line(capsys)


def test_out_in_proc_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evolve", *TINY, "--out", "/proc"]) != 0
    assert "/proc" in one_error_line(capsys)


def test_a_user_task_that_raises_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evolve", "--task", "os:system", "--check"]) == 2
    assert "os:system" in one_error_line(capsys)


def test_a_read_only_run_directory_is_one_line(run_copy: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(run_copy / "logbook.csv"))

    monkeypatch.setattr("deepstruct.evo.report.write_inside", refuse)  # root ignores chmod: simulate EACCES
    assert main(["report", str(run_copy)]) == 1
    assert "Permission denied" in one_error_line(capsys)


def test_an_unexpected_error_is_one_line(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(args: object) -> int:
        raise RuntimeError("x" * 10_000_000)

    monkeypatch.setitem(__import__("deepstruct.cli", fromlist=["_COMMANDS"])._COMMANDS, "evolve", boom)
    assert main(["evolve"]) == 1
    assert "RuntimeError" in one_error_line(capsys)


def test_an_enormous_value_is_cut_in_the_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "run.toml"
    config.write_text(f'[training]\nactivation = "{"a" * 900_000}"\n')
    assert main(["evolve", "--config", str(config), "--check"]) == 2
    one_error_line(capsys)


def _reseal(path: Path, change: object) -> None:
    data = json.loads(path.read_text())
    data.pop("checksum")
    change(data)  # type: ignore[operator]
    path.write_text(sealed_json(data))


def test_report_refuses_a_resealed_checkpoint_whose_best_genome_has_a_cycle(run_copy: Path,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    def cycle(data: dict) -> None:
        genome = data["hall_of_fame"][0]["genome"]
        ids = [v["id"] for v in genome["vertices"]][:2]
        genome["edges"] += [{"source": ids[0], "target": ids[1]}, {"source": ids[1], "target": ids[0]}]

    _reseal(run_copy / "checkpoint.json", cycle)
    assert main(["report", str(run_copy)]) == 2
    assert "damaged" in one_error_line(capsys)


# -- extract on a .pt that loads safely but holds the wrong content -----------------------------------------------
def _model_file(tmp_path: Path, finished_run: Path, change: object) -> Path:
    saved = torch.load(finished_run / "best_model.pt", weights_only=True)
    change(saved)  # type: ignore[operator]
    buffer = io.BytesIO()
    torch.save(saved, buffer)
    path = tmp_path / "model.pt"
    path.write_bytes(buffer.getvalue())
    return path


def _first(saved: dict) -> str:
    return sorted(saved["state_dict"])[0]


@pytest.mark.parametrize("change", [
    lambda s: s.pop("genome"),
    lambda s: s.update(genome="{not json"),
    lambda s: s.update(genome=json.dumps({"schema": "deepstruct.genome"})),
    lambda s: s.update(genome=7),
    lambda s: s.update(phenotype="cnn"),
    lambda s: s.pop("state_dict"),
    lambda s: s.update(state_dict=[1, 2]),
    lambda s: s["state_dict"].pop(_first(s)),
    lambda s: s["state_dict"].update(extra=torch.zeros(1)),
    lambda s: s["state_dict"].update({_first(s): torch.zeros(3, 3, 3)}),
    lambda s: s["state_dict"].update({_first(s): 5}),
    lambda s: s.update(format="other"),
])
def test_extract_refuses_wrong_content_with_one_line(tmp_path: Path, finished_run: Path, change: object,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    path = _model_file(tmp_path, finished_run, change)
    assert main(["extract", str(path), "--out", str(tmp_path / "out")]) == 2
    assert "model_file" in one_error_line(capsys)


def test_extract_parses_the_genome_strictly(tmp_path: Path, finished_run: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    def duplicate_key(saved: dict) -> None:
        saved["genome"] = saved["genome"][:-1] + ', "next_id": 5}'

    path = _model_file(tmp_path, finished_run, duplicate_key)
    assert main(["extract", str(path), "--out", str(tmp_path / "out")]) == 2
    assert "model_file" in one_error_line(capsys)


@pytest.mark.usefixtures("watchdog")
def test_extract_refuses_a_fifo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["extract", str(_fifo(tmp_path / "model.pt"))]) == 2
    assert "FIFO" in one_error_line(capsys)


def test_extract_out_below_a_regular_file(tmp_path: Path, finished_run: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("x")
    assert main(["extract", str(finished_run / "best_model.pt"), "--out", str(tmp_path / "file" / "x")]) != 0
    one_error_line(capsys)


# -- the genome id range, one config file --------------------------------------------------------------------
def test_genome_ids_have_one_range_in_json_and_graphml(tmp_path: Path) -> None:
    from deepstruct.genomes import Genome, GenomeError, load_graphml, save_graphml
    from deepstruct.genomes.schema import MAX_NEXT_ID

    top = Genome(2, 1, edges=[(MAX_NEXT_ID - 2, MAX_NEXT_ID - 1)]).to_dict()
    top["next_id"] = MAX_NEXT_ID
    genome = Genome.from_dict(top)
    save_graphml(genome, tmp_path / "g.graphml")
    assert load_graphml(tmp_path / "g.graphml") == genome
    top["next_id"] = MAX_NEXT_ID + 1
    with pytest.raises(GenomeError, match="next_id"):
        Genome.from_dict(top)


def test_an_edited_config_toml_is_refused_on_resume(run_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    toml = run_copy / "config.toml"
    toml.write_text(toml.read_text().replace("epochs = 1", "epochs = 50"))
    assert main(["resume", str(run_copy)]) == 2
    line = one_error_line(capsys)
    assert "training.epochs" in line and "config.json" in line


def test_resume_of_a_finished_run_only_reports(run_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    journal = (run_copy / "journal.jsonl").read_bytes()
    assert main(["resume", str(run_copy)]) == 0
    err = capsys.readouterr().err
    assert "is finished (generation 1 of 1): nothing to resume" in err
    assert "best_model.pt holds the best genome already: kept" in err
    assert (run_copy / "journal.jsonl").read_bytes() == journal


@pytest.mark.parametrize("name", ["best_model.graphml", "best_model.genome.json"])
def test_extract_replaces_a_symlink_beside_the_model(run_copy: Path, tmp_path: Path, name: str) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (run_copy / name).symlink_to(victim)
    assert main(["extract", str(run_copy / "best_model.pt")]) == 0
    assert victim.read_text() == "precious" and not (run_copy / name).is_symlink()


def test_evolve_writes_config_toml_not_through_a_symlink(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.toml").symlink_to(victim)
    assert main(["evolve", *TINY, "--set", "algorithm.generations=0", "--out", str(run_dir)]) == 0
    assert victim.read_text() == "precious" and not (run_dir / "config.toml").is_symlink()
