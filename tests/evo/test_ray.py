"""The Ray evaluator (one session-wide local instance): same fitnesses as serial; a killed worker loses nothing."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from deepstruct.evo.evaluators import RayEvaluator, SerialEvaluator
from deepstruct.evo.fitness import evaluate_requests
from deepstruct.evo.protocol import EvaluationRequest, EvaluationResult
from deepstruct.evo.run import EvolutionRun
from deepstruct.evo.tasks import load_task
from deepstruct.genomes import init_random_layered
from tests.evo.conftest import tiny_config

pytestmark = pytest.mark.ray


def _batches(n: int, per_batch: int = 2) -> list[list[EvaluationRequest]]:
    rng = np.random.default_rng(5)
    config = tiny_config()
    requests = [EvaluationRequest.of(init_random_layered(64, 10, 12, rng=rng, num_layers=2), 0, config.training,
                                     config.genome.limits()) for _ in range(n)]
    return [requests[i:i + per_batch] for i in range(0, n, per_batch)]


def _without_seconds(results: dict[str, EvaluationResult]) -> dict[str, dict[str, Any]]:
    return {k: {**r.to_dict(), "seconds": None} for k, r in results.items()}


def test_ray_and_serial_give_the_same_fitnesses(ray_session: Any) -> None:
    config = tiny_config()
    data = load_task(config.task, seed=0).arrays()
    batches = _batches(6)
    serial = SerialEvaluator(data).evaluate(batches)
    arrived: list[str] = []
    ray_results = RayEvaluator(data).evaluate(batches, lambda result: arrived.append(result.key))
    assert sorted(arrived) == sorted(serial) and len(serial) == 6
    assert _without_seconds(serial) == _without_seconds(ray_results)


def _die_once(requests: list[EvaluationRequest], data: dict[str, Any], batched: bool, *,
              marker: Path) -> list[EvaluationResult]:
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return evaluate_requests(requests, data, batched=batched)
    os.close(fd)
    os.kill(os.getpid(), signal.SIGKILL)  # the worker dies in the middle of the run
    raise AssertionError("unreachable")


def test_a_killed_worker_loses_nothing(ray_session: Any, tmp_path: Path) -> None:
    import functools

    import cloudpickle

    import tests.evo.test_ray as this

    cloudpickle.register_pickle_by_value(this)
    config = tiny_config()
    whole = EvolutionRun(config, tmp_path / "serial").run(report=False)

    fitness = functools.partial(_die_once, marker=tmp_path / "died")
    run = EvolutionRun(config, tmp_path / "ray", fitness_fn=fitness)
    run._evaluator = RayEvaluator(run.task.arrays(), fitness, max_retries=3)
    run.run(report=False)
    assert (tmp_path / "died").exists()
    assert [i.to_dict() for i in run.strategy.population] == [i.to_dict() for i in whole.strategy.population]
    assert all(i.reason is None for i in run.strategy.population)
    assert run.evaluations == whole.evaluations


def _hang(requests: list[EvaluationRequest], data: dict[str, Any], batched: bool) -> list[EvaluationResult]:
    import time

    time.sleep(60)
    raise AssertionError("unreachable")


def _always_die(requests: list[EvaluationRequest], data: dict[str, Any], batched: bool) -> list[EvaluationResult]:
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable")


def _raise(requests: list[EvaluationRequest], data: dict[str, Any], batched: bool) -> list[EvaluationResult]:
    raise RuntimeError("user code failed")


def test_hung_dying_and_raising_tasks_become_penalties_of_their_batch(ray_session: Any) -> None:
    import cloudpickle

    import tests.evo.test_ray as this

    cloudpickle.register_pickle_by_value(this)
    data = {"x": np.zeros((2, 2), dtype=np.float32)}
    (batch,) = _batches(2)
    hung = RayEvaluator(data, _hang, hard_deadline_s=1.0).evaluate([batch])
    dead = RayEvaluator(data, _always_die, max_retries=1).evaluate([batch])
    raised = RayEvaluator(data, _raise).evaluate([batch])
    for results in (hung, dead, raised):
        assert sorted(results) == sorted(r.key for r in batch)
        assert all(r.values == (0.0,) for r in results.values())
    assert all(r.reason.startswith("deadline") for r in hung.values())
    assert all("worker failed after 1 retries" in r.reason for r in dead.values())
    assert all(r.reason == "RuntimeError: user code failed" for r in raised.values())


def test_ray_tasks_ask_for_a_gpu_share_only_where_the_cluster_has_one(ray_session: Any) -> None:
    from deepstruct.evo.config import ConfigError

    data = {"x": np.zeros((2, 2), dtype=np.float32)}
    has_gpu = float(ray_session.cluster_resources().get("GPU", 0)) > 0
    evaluator = RayEvaluator(data, gpus=0.25)
    assert evaluator.gpus == (0.25 if has_gpu else 0.0)
    if not has_gpu:
        with pytest.raises(ConfigError, match="no GPU"):
            RayEvaluator(data, gpus=0.25, require_gpu=True)
