"""The command line: clean one-line errors (exit code 2), evolve / resume / report / extract end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepstruct.cli import main

TINY = ["--evaluator", "serial", "--population", "4", "--generations", "1", "--epochs", "1",
        "--set", "task.max_samples=300", "--set", "genome.num_vertices=10", "--set", "training.seeds=1",
        "--no-progress"]


@pytest.mark.parametrize(("argv", "field"), [
    (["evolve", "--population", "1"], "algorithm.population"),
    (["evolve", "--generations", "many"], "--generations"),
    (["evolve", "--evaluator", "dask"], "evaluator.kind"),
    (["evolve", "--task", "imagenet"], "task.name"),
    (["evolve", "--objectives", "accuracy,speed"], "training.objectives"),
    (["evolve", "--set", "training.epochz=3"], "training.epochz"),
    (["evolve", "--set", "nonsense"], "--set"),
    (["evolve", "--mode", "darwinian"], "training.mode"),
    (["evolve", "--config", "missing.toml"], "missing.toml"),
    (["evolve", "--set", "genome.init=spiral", "--evaluator", "serial"], "genome.init"),
    (["resume", "not-a-run"], "not-a-run"),
    (["report", "not-a-run"], "not-a-run"),
    (["extract", "missing.pt"], "model_file"),
    (["frobnicate"], "frobnicate"),
    ([], "command"),
])
def test_errors_are_one_line_naming_the_field(argv: list[str], field: str, capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("deepstruct: error:") and field in err[0]
    assert "Traceback" not in err[0]


def test_fashion_mnist_missing_names_the_debian_package(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    argv = ["evolve", "--task", "fashion-mnist", "--set", f'task.params={{path = "{tmp_path}/none"}}']
    assert main(argv) == 2
    assert "dataset-fashion-mnist" in capsys.readouterr().err


def test_extract_rejects_a_file_that_is_not_a_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a torch file")
    assert main(["extract", str(bad)]) == 2
    assert "model_file" in capsys.readouterr().err


def test_evolve_report_resume_extract(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "run.toml"
    config.write_text('seed = 3\n[training]\nobjectives = ["accuracy", "edges"]\n[algorithm]\nname = "nsga2"\n')
    run_dir = tmp_path / "run"
    assert main(["evolve", "--config", str(config), *TINY, "--out", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert f"results in {run_dir}" in out and "best (validation split): accuracy=" in out
    assert (run_dir / "pareto.png").is_file() and (run_dir / "best" / "genome_00.json").is_file()
    assert main(["evolve", *TINY, "--out", str(run_dir)]) == 2  # never overwrite a run
    assert "already holds a run" in capsys.readouterr().err
    assert main(["resume", str(run_dir), "--no-progress"]) == 0  # finished: only reports again
    assert main(["report", str(run_dir)]) == 0
    assert "generation 1" in capsys.readouterr().out
    assert main(["extract", str(run_dir / "best_model.pt"), "--out", str(tmp_path / "net")]) == 0
    assert (tmp_path / "net.graphml").is_file() and (tmp_path / "net.genome.json").is_file()
    assert "edges" in capsys.readouterr().out
