"""The Ray evaluator (one session-wide local instance): same fitnesses as serial; a killed worker loses nothing."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from deepstruct.evo.evaluators import RayEvaluator, SerialEvaluator
from deepstruct.evo.fitness import evaluate_genome
from deepstruct.evo.run import EvolutionRun, individual_seed
from deepstruct.evo.tasks import load_task
from deepstruct.genomes import canonical_hash, init_random_layered
from tests.evo.conftest import tiny_config

pytestmark = pytest.mark.ray


def _jobs(n: int) -> list[tuple[str, dict[str, Any], int]]:
    rng = np.random.default_rng(5)
    genomes = [init_random_layered(64, 10, 12, rng=rng, num_layers=2) for _ in range(n)]
    return [(canonical_hash(g), g.to_dict(), individual_seed(0, canonical_hash(g))) for g in genomes]


def test_ray_and_serial_give_the_same_fitnesses(ray_session: Any) -> None:
    config = tiny_config()
    data = load_task(config.task, seed=0).arrays()
    training = config.to_dict()["training"]
    jobs = _jobs(6)
    serial = SerialEvaluator(data, training).evaluate(jobs)
    arrived: list[str] = []
    ray_results = RayEvaluator(data, training).evaluate(jobs, lambda key, result: arrived.append(key))
    assert sorted(arrived) == sorted(serial)
    for key in serial:
        serial[key].pop("seconds"), ray_results[key].pop("seconds")
        assert serial[key] == ray_results[key]


def _die_once(genome: dict[str, Any], seed: int, data: dict[str, Any], training: dict[str, Any]) -> dict[str, Any]:
    marker = Path(training["marker"])
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return evaluate_genome(genome, seed, data, {k: v for k, v in training.items() if k != "marker"})
    os.close(fd)
    os.kill(os.getpid(), signal.SIGKILL)  # the worker dies in the middle of the run
    raise AssertionError("unreachable")


def test_a_killed_worker_loses_nothing(ray_session: Any, tmp_path: Path) -> None:
    import cloudpickle

    import tests.evo.test_ray as this

    cloudpickle.register_pickle_by_value(this)
    config = tiny_config()
    whole = EvolutionRun(config, tmp_path / "serial").run(report=False)

    run = EvolutionRun(config, tmp_path / "ray", fitness_fn=_die_once)
    training = dict(run.training_settings(), marker=str(tmp_path / "died"))
    evaluator = RayEvaluator(run.task.arrays(), training, _die_once, max_retries=3)
    run._evaluator = evaluator
    run.run(report=False)
    assert (tmp_path / "died").exists()
    assert [i.to_dict() for i in run.strategy.population] == [i.to_dict() for i in whole.strategy.population]
    assert all(i.reason is None for i in run.strategy.population)
    assert run.evaluations == whole.evaluations


def _hang(genome: dict[str, Any], seed: int, data: dict[str, Any], training: dict[str, Any]) -> dict[str, Any]:
    import time

    time.sleep(60)
    raise AssertionError("unreachable")


def _always_die(genome: dict[str, Any], seed: int, data: dict[str, Any], training: dict[str, Any]) -> dict[str, Any]:
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable")


def test_hung_and_always_dying_tasks_become_penalties(ray_session: Any) -> None:
    import cloudpickle

    import tests.evo.test_ray as this

    cloudpickle.register_pickle_by_value(this)
    training = tiny_config().to_dict()["training"]
    data = {"x": np.zeros((2, 2), dtype=np.float32)}
    hung = RayEvaluator(data, training, _hang, hard_deadline_s=1.0).evaluate(_jobs(1))
    dead = RayEvaluator(data, training, _always_die, max_retries=1).evaluate(_jobs(1))
    (h,), (d,) = hung.values(), dead.values()
    assert h["values"] == [0.0] and h["reason"].startswith("deadline")
    assert d["values"] == [0.0] and "worker failed after 1 retries" in d["reason"]
