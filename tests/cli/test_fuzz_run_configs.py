"""Fuzz ``deepstruct evolve --config FILE`` with a seeded corpus of mutated TOML run configurations
(``tests/fuzzing/run_configs.py``), in process through ``deepstruct.cli.main``.

Every file either loads into a :class:`RunConfig` (which writes and reads back equal) or fails with exit code 2 and
one line ``deepstruct: error: ...`` naming the file or the field, never a traceback; and a bad file fails before
a run, an evaluator or Ray starts (``no_training`` makes any start raise). Valid files are judged with
``evolve --check``, which trains nothing and writes nothing. The long offline run of the same corpus is
``benchmarks/fuzz_run_configs.py``.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from deepstruct.cli import main
from deepstruct.evo.config import ConfigError, RunConfig, config_to_toml, load_config
from tests.fuzzing.byte_mutations import BYTE_MUTATIONS
from tests.fuzzing.run_configs import (
    TABLE_MUTATIONS,
    TEXT_MUTATIONS,
    TrainingStarted,
    check_case,
    config_corpus,
    no_training,
    seed_configs,
)

CASES = 300
SECONDS_PER_FILE = 5.0  # the slowest (a digits task loaded for a valid file, or 200,000-character strings): ~0.1 s


def test_every_config_file_loads_or_fails_with_one_clean_line(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a default run directory would be relative: nothing may appear here
    outcomes: Counter[str] = Counter()
    mutations: Counter[str] = Counter()
    findings = []
    start = time.perf_counter()
    with no_training():
        for case in config_corpus(CASES, seed=5):
            outcome = check_case(case, tmp_path / "run.toml")
            outcomes[outcome.kind] += 1
            mutations.update(case.mutations)
            if outcome.kind not in ("valid", "ConfigError", "refused"):
                findings.append(f"case {case.index} {case.mutations}: {outcome.kind}: {outcome.detail}")
            elif outcome.seconds > SECONDS_PER_FILE:
                findings.append(f"case {case.index} {case.mutations}: {outcome.seconds:.1f} s")
    assert not findings, "\n".join(findings[:20])
    assert time.perf_counter() - start < 60
    # the oracle is not vacuous: most mutants are refused, some are valid, some pass the loader but not evolve
    assert outcomes["ConfigError"] > 200 and outcomes["valid"] > 10 and outcomes["refused"] >= 1, outcomes
    expected = {*BYTE_MUTATIONS, *(f"table.{m}" for m in TABLE_MUTATIONS), *(f"text.{m}" for m in TEXT_MUTATIONS)}
    assert expected <= set(mutations), f"never applied: {expected - set(mutations)}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.toml", "run.toml.again.toml"]


def test_bad_config_files_fail_before_anything_starts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Real ``evolve --config`` invocations (no ``--check``): exit code 2, one line, no run directory."""
    bad = []
    for case in config_corpus(80, seed=6):
        (tmp_path / "probe.toml").write_bytes(case.data)
        try:
            load_config(tmp_path / "probe.toml")
        except ConfigError:
            bad.append(case)
    assert len(bad) >= 12
    with no_training():
        for case in bad[:12]:
            path, out = tmp_path / f"case{case.index}.toml", tmp_path / f"run{case.index}"
            path.write_bytes(case.data)
            capsys.readouterr()
            assert main(["evolve", "--config", str(path), "--out", str(out), "--no-progress"]) == 2, case.mutations
            err = capsys.readouterr().err.splitlines()
            assert len(err) == 1 and err[0].startswith("deepstruct: error: ") and str(path) in err[0], err
            assert not out.exists()
        # the guard works: a valid file without --check gets as far as the run, which the guard stops
        (tmp_path / "valid.toml").write_bytes(seed_configs()[1])
        with pytest.raises(TrainingStarted):
            main(["evolve", "--config", str(tmp_path / "valid.toml"), "--out", str(tmp_path / "valid-run")])


def test_check_trains_nothing_writes_nothing_and_prints_the_config(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    config = RunConfig().override({"algorithm.population": 5, "task.max_samples": 200, "evaluator.kind": "serial"})
    (tmp_path / "run.toml").write_text(config_to_toml(config))
    with no_training():
        assert main(["evolve", "--config", str(tmp_path / "run.toml"), "--check", "--epochs", "2",
                     "--out", str(tmp_path / "run")]) == 0
    captured = capsys.readouterr()
    (tmp_path / "printed.toml").write_text(captured.out)
    expected = config.override({"training.epochs": 2, "out": str(tmp_path / "run")})
    assert load_config(tmp_path / "printed.toml") == expected
    assert "the configuration is valid" in captured.err and not (tmp_path / "run").exists()
    (tmp_path / "run.toml").write_text('[genome]\nparams = {num_layers = 1, bogus = 3}\n')  # caught by a trial draw
    assert main(["evolve", "--config", str(tmp_path / "run.toml"), "--check"]) == 2
    assert "genome.params" in capsys.readouterr().err


def test_the_corpus_is_a_function_of_its_seed() -> None:
    def corpus(seed: int) -> list[tuple[tuple[str, ...], bytes]]:
        return [(c.mutations, c.data) for c in config_corpus(100, seed)]

    first = corpus(3)
    assert first == corpus(3) and first != corpus(4)


def test_seed_configs_are_what_the_project_writes() -> None:
    from deepstruct.evo.config import tomllib

    for raw in seed_configs()[:-1]:  # the last one is hand-written and sparse
        assert config_to_toml(RunConfig.from_dict(tomllib.loads(raw.decode()))) == raw.decode()
