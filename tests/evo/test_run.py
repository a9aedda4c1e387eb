"""Whole runs (serial, tiny): reports, the fitness cache, and resume after a crash or a SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from deepstruct.evo.persistence import read_journal
from deepstruct.evo.protocol import genome_key
from deepstruct.evo.run import EvolutionRun
from tests.evo.conftest import tiny_config


def _final(run_dir: Path) -> dict[str, Any]:
    data = json.loads((run_dir / "checkpoint.json").read_text())
    data.pop("config")
    data.pop("seconds")  # run time: the only part that depends on the machine
    data.pop("checksum")  # the seal covers the run time
    return data


class _Crash(RuntimeError):
    pass


LAMARCKIAN_CHILDREN = {"training.mode": "lamarckian", "training.child_epochs": 1, "training.child_learning_rate": 0.005,
                       "genome.init": "local", "genome.params": {"num_layers": 2}}


@pytest.mark.parametrize("algorithm", ["ga", "nsga2", "random", "lamarckian children"])
def test_a_crashed_run_resumes_to_the_uninterrupted_result(tmp_path: Path, algorithm: str) -> None:
    objectives = ["accuracy", "params"] if algorithm == "nsga2" else ["accuracy"]
    extra = LAMARCKIAN_CHILDREN if algorithm == "lamarckian children" else {"algorithm.name": algorithm}
    config = tiny_config(**{**extra, "training.objectives": objectives, "algorithm.generations": 3})
    EvolutionRun(config, tmp_path / "whole").run(report=False)

    crashing = EvolutionRun(config, tmp_path / "crashed")

    def crash(run: EvolutionRun) -> None:
        if run.generation == 1:
            raise _Crash

    crashing.on_generation = crash
    with pytest.raises(_Crash):
        crashing.run(report=False)
    resumed = EvolutionRun.resume(tmp_path / "crashed")
    assert resumed.generation == 1
    resumed.run(report=False)
    assert _final(tmp_path / "crashed") == _final(tmp_path / "whole")
    # nothing was trained twice: every key is journalled once, and the resumed part re-trained nothing old
    keys = [r["key"] for r in read_journal(tmp_path / "crashed" / "journal.jsonl")]
    assert len(keys) == len(set(keys))
    assert _final(tmp_path / "whole")["evaluations"] == len(keys)


def test_isomorphic_genomes_are_not_trained_twice(tmp_path: Path) -> None:
    from deepstruct.evo.algorithms import Individual
    from deepstruct.evo.driver import Driver
    from deepstruct.evo.evaluators import SerialEvaluator
    from deepstruct.evo.protocol import EvaluationResult
    from deepstruct.genomes import Genome

    run = EvolutionRun(tiny_config(), tmp_path / "run")
    a = Genome(64, 10, edges=[(0, 1), (0, 2)])
    b = Genome(64, 10, edges=[(7, 3), (7, 5)])  # the same DAG, other ids
    calls: list[int] = []

    def counting(requests: list, data: dict, batched: bool) -> list:
        calls.extend(r.seed for r in requests)
        return [EvaluationResult(r.key, (0.5,)) for r in requests]

    driver = Driver(run.config, run.store, SerialEvaluator(run.task.arrays(), counting))
    with run.store.open(run.config):
        individuals = [Individual(a, run.objectives), Individual(b, run.objectives)]
        counts = driver.evaluate(individuals, 0)
        assert len(calls) == 1 and counts["nevals"] == 1
        counts = driver.evaluate([Individual(b.copy(), run.objectives)], 1)
        assert len(calls) == 1 and counts == {"nevals": 0, "cached": 1, "penalties": 0}


def test_a_run_writes_its_report(tmp_path: Path) -> None:
    run = EvolutionRun(tiny_config(**{"algorithm.generations": 1}), tmp_path / "run").run()
    names = {p.name for p in run.run_dir.iterdir()}
    assert {"config.json", "config.toml", "checkpoint.json", "journal.jsonl", "logbook.csv", "best", "fitness.png",
            "best_network.png", "best_model.pt"} <= names
    assert "pareto.png" not in names  # one objective: no front to draw
    assert (run.run_dir / "best" / "genome_00.graphml").is_file()
    rows = (run.run_dir / "logbook.csv").read_text().splitlines()
    assert rows[0].startswith("gen,nevals") and len(rows) == 3


def _wait_for_lines(path: Path, n: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if path.exists() and path.read_bytes().count(b"\n") >= n:
            return
        time.sleep(0.005)
    raise AssertionError(f"the run ended or stalled before journalling {n} evaluations")


def test_a_sigkilled_run_resumes_to_the_uninterrupted_result(tmp_path: Path) -> None:
    args = ["--evaluator", "serial", "--population", "6", "--generations", "3", "--epochs", "4",
            "--set", "task.max_samples=600", "--set", "training.seeds=1", "--no-progress"]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "deepstruct.cli", "evolve", *args, "--out",
                             str(tmp_path / "killed")], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_lines(tmp_path / "killed" / "journal.jsonl", 8, proc)  # in the middle of generation 1
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    from deepstruct.cli import main

    assert main(["resume", str(tmp_path / "killed"), "--no-progress"]) == 0
    assert main(["evolve", *args, "--out", str(tmp_path / "whole")]) == 0
    killed, whole = _final(tmp_path / "killed"), _final(tmp_path / "whole")
    assert killed == whole and killed["finished"]


def test_a_run_directory_is_locked_while_it_runs(tmp_path: Path) -> None:
    from deepstruct.evo.config import ConfigError

    run = EvolutionRun(tiny_config(**{"algorithm.generations": 1}), tmp_path / "run")
    seen: list[str] = []

    def second_process(current: EvolutionRun) -> None:
        if not seen:
            with pytest.raises(ConfigError, match="in use") as info:
                EvolutionRun.resume(current.run_dir).run(report=False)
            seen.append(str(info.value))

    run.on_generation = second_process
    run.run(report=False)
    assert seen


def test_the_saved_best_model_of_a_lamarckian_run_is_a_trained_network(tmp_path: Path) -> None:
    import torch
    from sklearn.datasets import load_digits

    from deepstruct.genomes import Genome
    from deepstruct.genomes.phenotype import decode

    config = tiny_config(**{"training.mode": "lamarckian", "training.epochs": 15, "task.max_samples": 600,
                            "algorithm.generations": 1})
    run = EvolutionRun(config, tmp_path / "run").run()
    saved = torch.load(run.run_dir / "best_model.pt", weights_only=True)
    model = decode(Genome.from_dict(json.loads(saved["genome"])), load_weights=False,
                   generator=torch.Generator().manual_seed(0))
    model.load_state_dict(saved["state_dict"])
    digits = load_digits()
    x = torch.tensor(digits.data / 16.0, dtype=torch.float32)
    accuracy = float((model.eval()(x).argmax(1) == torch.tensor(digits.target)).float().mean())
    assert accuracy > 0.6


@pytest.mark.parametrize("asynchronous", [False, True])
def test_a_run_stops_after_the_generation_that_passes_its_time_limit(tmp_path: Path, asynchronous: bool) -> None:
    changes = {"algorithm.max_seconds": 1e-3, "algorithm.generations": 50}
    if asynchronous:
        changes.update({"algorithm.name": "aging", "algorithm.asynchronous": True, "algorithm.offspring": 4})
    run = EvolutionRun(tiny_config(**changes), tmp_path / "run").run(report=False)
    data = json.loads((tmp_path / "run" / "checkpoint.json").read_text())
    assert data["finished"] and data["seconds"] >= 1e-3
    assert run.generation <= 1 < 50  # the initial generation passes the limit; asynchronously, one part-cycle
    assert EvolutionRun.resume(tmp_path / "run").run(report=False).generation == run.generation  # nothing left


def test_the_population_shares_one_innovation_registry_kept_in_the_checkpoint(tmp_path: Path) -> None:
    from deepstruct.genomes import InnovationRegistry

    run = EvolutionRun(tiny_config(**{"algorithm.generations": 2}), tmp_path / "run").run(report=False)
    saved = json.loads((tmp_path / "run" / "checkpoint.json").read_text())["innovations"]
    assert InnovationRegistry.from_dict(saved) == run.registry and len(run.registry) > 0
    ids = {v for ind in run.strategy.population for v in ind.genome.graph.nodes}
    assert max(ids) < run.registry.next_id  # every vertex id of the population came from the registry
    resumed = EvolutionRun.resume(tmp_path / "run")
    assert resumed.registry == run.registry and resumed.strategy.variation.registry is resumed.registry


def test_a_population_larger_than_the_start_space_is_a_warning(tmp_path: Path) -> None:
    narrow = tiny_config(**{"genome.init": "random_layered", "genome.params": {"num_layers": 1},
                            "genome.num_vertices": 2, "genome.min_vertices": 0, "algorithm.population": 6})
    with pytest.warns(UserWarning, match="drew only 1 distinct genomes"):
        genomes = EvolutionRun(narrow, tmp_path / "narrow").initial_genomes()
    assert len(genomes) == 6
    wide = EvolutionRun(tiny_config(**{"genome.num_vertices": 12, "genome.min_vertices": 4}), tmp_path / "wide")
    keys = {genome_key(g) for g in wide.initial_genomes()}
    assert len(keys) == 6  # duplicates are drawn again
