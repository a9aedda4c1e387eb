"""Evaluators: run the fitness function on a batch of genomes, serially or on Ray workers.

An evaluator gets jobs ``(key, genome_dict, seed)`` and calls ``on_result(key, result)`` as each result arrives
(the run journals it there), in whatever order they finish. Results depend only on the genome and its seed, so
the serial evaluator, and Ray with any number of workers, give the same fitnesses.
"""

from __future__ import annotations

import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from deepstruct.evo.fitness import evaluate_genome, penalty_result

__all__ = ["Evaluator", "SerialEvaluator", "RayEvaluator", "Job", "FitnessFunction"]

Job = tuple[str, dict[str, Any], int]
FitnessFunction = Callable[[dict[str, Any], int, dict[str, np.ndarray], dict[str, Any]], dict[str, Any]]
ResultCallback = Callable[[str, dict[str, Any]], None]


class Evaluator(ABC):
    """Base class: ``evaluate(jobs, on_result)`` returns ``{key: result}``; ``close()`` frees resources."""

    def __init__(self, data: dict[str, np.ndarray], training: dict[str, Any],
                 fn: FitnessFunction = evaluate_genome) -> None:
        self.data = data
        self.training = training
        self.fn = fn
        self.objectives = tuple(training.get("objectives", ("accuracy",)))

    @abstractmethod
    def evaluate(self, jobs: Sequence[Job], on_result: ResultCallback | None = None) -> dict[str, dict[str, Any]]:
        """Implemented by every subclass."""

    def close(self) -> None:
        """Release workers (no-op for the serial evaluator)."""
        return None

    def __enter__(self) -> Evaluator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SerialEvaluator(Evaluator):
    """Evaluates in this process, one job after the other (debugging, tests, small runs)."""

    def evaluate(self, jobs: Sequence[Job], on_result: ResultCallback | None = None) -> dict[str, dict[str, Any]]:
        results = {}
        for key, genome, seed in jobs:
            try:
                result = self.fn(genome, seed, self.data, self.training)
            except Exception as exc:  # noqa: BLE001 - a user fitness function may raise
                result = penalty_result(self.objectives, f"{type(exc).__name__}: {exc}")
            results[key] = result
            if on_result is not None:
                on_result(key, result)
        return results


def _remote_evaluate(fn: FitnessFunction, data: dict[str, np.ndarray], training: dict[str, Any],
                     genome: dict[str, Any], seed: int) -> dict[str, Any]:
    return fn(genome, seed, data, training)


class RayEvaluator(Evaluator):
    """One Ray task per individual (one CPU, one torch thread each); the data set goes to the object store once.

    Parameters
    ----------
    data, training, fn
        As for :class:`SerialEvaluator`.
    workers : int
        CPUs of the local instance this evaluator starts when Ray is not running and no address is given.
    address : str
        A cluster to join (else ``RAY_ADDRESS``, else a local instance).
    max_retries : int
        Retries of a task whose worker died (segfault, OOM kill, killed process).
    hard_deadline_s : float
        A task not done this long after its submission is cancelled (its worker killed) and gets a penalty
        (default: twice ``training.deadline_s`` plus 30 s; at most two tasks per CPU are in flight).
    """

    def __init__(self, data: dict[str, np.ndarray], training: dict[str, Any], fn: FitnessFunction = evaluate_genome,
                 *, workers: int = 2, address: str = "", max_retries: int = 3,
                 hard_deadline_s: float | None = None) -> None:
        super().__init__(data, training, fn)
        import ray

        self._ray = ray
        self._owns_ray = False
        self.startup_s = 0.0
        if not ray.is_initialized():
            started = time.perf_counter()
            address = address or os.environ.get("RAY_ADDRESS", "")
            if address:
                ray.init(address=address, log_to_driver=False, logging_level="ERROR")
            else:
                ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
                         configure_logging=True)
            self._owns_ray = True
            self.startup_s = time.perf_counter() - started
        total_cpus = int(ray.cluster_resources().get("CPU", 0) or 0)
        self.capacity = max(1, workers if self._owns_ray and not address else total_cpus or workers)
        self.max_retries = max_retries
        deadline = float(training.get("deadline_s", 120.0))
        # measured from submission, and a task may wait behind one other (each ends by its own deadline)
        self.hard_deadline_s = hard_deadline_s if hard_deadline_s is not None else 2.0 * deadline + 30.0
        self._task = ray.remote(num_cpus=1, max_retries=max_retries)(_remote_evaluate)
        self._data_ref = ray.put(data)  # once; workers read it zero-copy from the object store
        self._training_ref = ray.put(training)
        self._fn_ref = ray.put(fn)

    def evaluate(self, jobs: Sequence[Job], on_result: ResultCallback | None = None) -> dict[str, dict[str, Any]]:
        ray = self._ray
        pending = list(jobs)[::-1]
        running: dict[Any, tuple[str, float]] = {}
        results: dict[str, dict[str, Any]] = {}

        def finish(key: str, result: dict[str, Any]) -> None:
            results[key] = result
            if on_result is not None:
                on_result(key, result)

        while pending or running:
            while pending and len(running) < 2 * self.capacity:  # one queued per CPU hides the dispatch latency
                key, genome, seed = pending.pop()
                ref = self._task.remote(self._fn_ref, self._data_ref, self._training_ref, genome, int(seed))
                running[ref] = (key, time.monotonic())
            done, _ = ray.wait(list(running), num_returns=1, timeout=1.0)
            for ref in done:
                key, _ = running.pop(ref)
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayError as exc:
                    result = penalty_result(self.objectives, f"worker failed after {self.max_retries} retries: "
                                                             f"{type(exc).__name__}")
                finish(key, result)
            now = time.monotonic()
            for ref, (key, started) in list(running.items()):
                if now - started > self.hard_deadline_s:
                    ray.cancel(ref, force=True)
                    running.pop(ref)
                    finish(key, penalty_result(self.objectives, f"deadline: cancelled after {self.hard_deadline_s} s"))
        return results

    def close(self) -> None:
        if self._owns_ray and self._ray.is_initialized():
            self._ray.shutdown()
        self._owns_ray = False
