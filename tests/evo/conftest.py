"""Shared fixtures of the evo tests: tiny configurations and one session-wide local Ray instance."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from deepstruct.evo.config import RunConfig


def tiny_config(**overrides: Any) -> RunConfig:
    """A run that takes about a second: 400 digits, 2 epochs, 6 individuals, 2 generations, serial."""
    base: dict[str, Any] = {
        "task.max_samples": 400, "training.epochs": 2, "training.seeds": 1, "genome.num_vertices": 12,
        "algorithm.population": 6, "algorithm.generations": 2, "evaluator.kind": "serial",
    }
    base.update(overrides)
    return RunConfig().override(base)


class Killed(BaseException):
    """Raised from inside a fitness function: the run dies between two checkpoints, as on a kill."""


def dying_after(calls: int, evaluate: Any = None) -> Any:
    """A fitness function that evaluates as usual (``evaluate``, default the real one) for ``calls`` calls and
    raises :class:`Killed` on the next."""
    from deepstruct.evo.fitness import evaluate_requests

    evaluate = evaluate or evaluate_requests
    seen = [0]

    def fitness(requests: list, data: dict, batched: bool) -> list:
        seen[0] += 1
        if seen[0] > calls:
            raise Killed
        return evaluate(requests, data, batched=batched)

    return fitness


def killed_after_generation(generation: int) -> Any:
    """An ``EvolutionRun.on_generation`` callback that raises :class:`Killed` once ``generation`` has ended."""

    def callback(run: Any) -> None:
        if run.generation == generation:
            raise Killed

    return callback


@pytest.fixture(scope="session")
def ray_session() -> Iterator[Any]:
    """One local Ray instance (2 CPUs, no dashboard) for every Ray test of the session."""
    ray = pytest.importorskip("ray")
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    yield ray
    ray.shutdown()
