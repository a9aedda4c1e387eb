"""--help with defaults, "did you mean" for a misspelled field, one line naming the fix for a Ray cluster that
wants a token, and a pyproject that installs without warnings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from deepstruct.cli import build_parser, main
from deepstruct.evo.config import RunConfig

ROOT = Path(__file__).resolve().parents[2]


def test_every_evolve_flag_has_help_with_its_default() -> None:
    evolve = build_parser()._subparsers._group_actions[0].choices["evolve"]  # type: ignore[union-attr]
    for action in evolve._actions:
        if action.option_strings and action.dest != "help":
            assert action.help and "default" in action.help, action.option_strings
    text = " ".join(evolve.format_help().split())
    defaults = RunConfig()
    for value in (defaults.algorithm.generations, defaults.algorithm.population, defaults.training.mode):
        assert f"(default: {value})" in text, value


@pytest.mark.parametrize(("field", "meant"), [("training.epoch", "training.epochs"),
                                              ("algorithm.populaton", "algorithm.population"),
                                              ("trainig.seeds", "training.seeds")])
def test_a_misspelled_field_gets_did_you_mean(field: str, meant: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evolve", "--set", f"{field}=3", "--check"]) == 2
    assert f"did you mean {meant}?" in capsys.readouterr().err


def test_a_misspelled_field_in_a_config_file_gets_did_you_mean(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "run.toml").write_text("[training]\nepoch = 3\n")
    assert main(["evolve", "--config", str(tmp_path / "run.toml"), "--check"]) == 2
    assert "did you mean training.epochs?" in capsys.readouterr().err


@pytest.mark.parametrize("error", ["auth", "connection"])
def test_a_cluster_that_wants_a_token_is_one_line_naming_the_fix(error: str, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import ray
    from ray.exceptions import AuthenticationError

    def refuse(*args: object, **kwargs: object) -> None:
        if error == "auth":
            raise AuthenticationError("Authentication failed: missing token")
        raise ConnectionError("ray client: could not connect to the GCS at 127.0.0.1:1")

    monkeypatch.setattr(ray, "init", refuse)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    assert main(["evolve", "--evaluator", "ray", "--address", "127.0.0.1:1", "--population", "2",
                 "--generations", "0", "--no-progress", "--out", str(tmp_path / "run")]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("deepstruct: error:")]
    assert len(err) == 1 and "RAY_AUTH_TOKEN" in err[0] and "RAY_AUTH_MODE=disabled" in err[0]


def test_pyproject_has_an_spdx_license_and_a_cluster_extra() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^license = "MIT"', text, flags=re.M)
    assert 'cluster = ["ray[default]' in text


@pytest.mark.parametrize("command", ["resume", "report", "extract"])
def test_every_flag_of_the_other_commands_has_a_default_in_its_help(command: str) -> None:
    parser = build_parser()._subparsers._group_actions[0].choices[command]  # type: ignore[union-attr]
    for action in parser._actions:
        if action.option_strings and action.dest != "help":
            assert action.help and "default" in action.help, action.option_strings
