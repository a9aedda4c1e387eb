"""Evaluators: run the fitness function on batches of requests, in this process or on Ray workers.

An evaluator takes batches (lists of :class:`~deepstruct.evo.protocol.EvaluationRequest`, one tensor program
each) with :meth:`Evaluator.submit` and hands back the results of finished batches with
:meth:`Evaluator.collect`, in whatever order they finish; :meth:`Evaluator.evaluate` does both for a whole
generation and calls ``on_result`` for every result as its batch returns (the run journals it there). Results
depend only on the requests and the batch plan, so the serial evaluator, and Ray with any number of workers,
give the same fitnesses. A failure is never an exception here: a lost worker (retried ``max_retries`` times),
a hung task (cancelled past ``hard_deadline_s``) or a fitness function that raises become penalties of the
batch's requests, with the reason.
"""

from __future__ import annotations

import os
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from deepstruct.evo.config import ConfigError
from deepstruct.evo.fitness import evaluate_requests
from deepstruct.evo.protocol import EvaluationRequest, EvaluationResult

__all__ = ["Evaluator", "SerialEvaluator", "RayEvaluator", "BatchFitness", "Batch", "gpus_for_tasks"]

Batch = Sequence[EvaluationRequest]
#: ``fn(requests, data, batched=...) -> results``, one result per request in order (default
#: :func:`deepstruct.evo.fitness.evaluate_requests`).
BatchFitness = Callable[..., list[EvaluationResult]]
ResultCallback = Callable[[EvaluationResult], None]


def _checked(batch: Batch, results: Any, seconds: float) -> list[EvaluationResult]:
    """The fitness function's results, or penalties that say what it returned instead."""
    if (isinstance(results, list) and len(results) == len(batch)
            and all(isinstance(r, EvaluationResult) and r.key == q.key for r, q in zip(results, batch, strict=True))):
        return results
    return _penalties(batch, f"the fitness function returned {type(results).__name__} instead of one "
                             f"EvaluationResult per request", seconds)


def _penalties(batch: Batch, reason: str, seconds: float = 0.0) -> list[EvaluationResult]:
    share = seconds / max(1, len(batch))
    return [EvaluationResult.penalty(r, r.training.objectives, reason, share) for r in batch]


class Evaluator(ABC):
    """Base class. ``submit(batch)`` queues a batch; ``collect()`` waits for finished batches and returns their
    results; ``in_flight`` counts submitted batches not collected yet; ``capacity`` is how many batches keep the
    workers busy; ``close()`` frees resources.
    """

    capacity: int = 1

    def __init__(self, data: dict[str, np.ndarray], fn: BatchFitness = evaluate_requests, *,
                 batched: bool = True) -> None:
        self.data = data
        self.fn = fn
        self.batched = batched

    @property
    @abstractmethod
    def in_flight(self) -> int:
        """Batches submitted and not yet collected."""

    @abstractmethod
    def submit(self, batch: Batch) -> None:
        """Queue one batch (non-empty, all requests with the same training settings)."""

    @abstractmethod
    def collect(self) -> list[EvaluationResult]:
        """Wait until at least one batch has finished and return the results of the finished batches."""

    def evaluate(self, batches: Sequence[Batch],
                 on_result: ResultCallback | None = None) -> dict[str, EvaluationResult]:
        """Evaluate every batch (at most ``capacity`` in flight); ``{key: result}``."""
        pending = deque(b for b in batches if b)
        results: dict[str, EvaluationResult] = {}
        while pending or self.in_flight:
            while pending and self.in_flight < self.capacity:
                self.submit(pending.popleft())
            for result in self.collect():
                results[result.key] = result
                if on_result is not None:
                    on_result(result)
        return results

    def close(self) -> None:
        """Release workers (no-op for the serial evaluator)."""
        return None

    def __enter__(self) -> Evaluator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SerialEvaluator(Evaluator):
    """Evaluates in this process, one batch after the other in the order submitted (debugging, tests, small runs)."""

    def __init__(self, data: dict[str, np.ndarray], fn: BatchFitness = evaluate_requests, *,
                 batched: bool = True) -> None:
        super().__init__(data, fn, batched=batched)
        self._queue: deque[list[EvaluationRequest]] = deque()

    @property
    def in_flight(self) -> int:
        return len(self._queue)

    def submit(self, batch: Batch) -> None:
        self._queue.append(list(batch))

    def collect(self) -> list[EvaluationResult]:
        if not self._queue:
            return []
        batch = self._queue.popleft()
        started = time.monotonic()
        try:
            results = self.fn(batch, self.data, batched=self.batched)
        except Exception as exc:  # noqa: BLE001 - a user fitness function may raise
            return _penalties(batch, f"{type(exc).__name__}: {exc}", time.monotonic() - started)
        return _checked(batch, results, time.monotonic() - started)


def gpus_for_tasks(share: float, cluster_gpus: float, required: bool) -> float:
    """The GPU share a Ray task asks for: ``share`` where the cluster has GPUs, else 0 (or an error if required).

    >>> gpus_for_tasks(0.25, 0.0, False), gpus_for_tasks(0.25, 1.0, False)
    (0.0, 0.25)
    """
    if share > 0 and cluster_gpus <= 0:
        if required:
            raise ConfigError("training.device = 'cuda' but the Ray cluster has no GPU")
        return 0.0
    return share


def _remote_evaluate(fn: BatchFitness, data: dict[str, np.ndarray], batch: list[EvaluationRequest],
                     batched: bool) -> list[EvaluationResult]:
    started = time.monotonic()
    try:
        return fn(batch, data, batched=batched)
    except Exception as exc:  # noqa: BLE001 - a raising fitness function is the batch's penalty, not a lost worker
        return _penalties(batch, f"{type(exc).__name__}: {exc}", time.monotonic() - started)


class RayEvaluator(Evaluator):
    """Evaluates on Ray workers, one task per batch: a local instance, or a cluster (``address``/``RAY_ADDRESS``).

    Parameters
    ----------
    data : dict of numpy arrays
        Put into the object store once; workers read it zero-copy.
    fn : callable
        The batch fitness function (it must be importable by the workers).
    batched : bool
        Passed to ``fn``: train a batch's members in one tensor program.
    workers : int
        CPUs of the local instance (ignored when joining a cluster: its CPUs count).
    address : str
        A cluster to join; ``""`` starts a lean local instance (no dashboard) unless ``RAY_ADDRESS`` is set.
    max_retries : int
        Resubmissions of a task whose worker died (segfault, OOM kill, killed process, lost node).
    hard_deadline_s : float
        A task not done this long after its submission is cancelled (its worker killed) and its requests get
        a penalty (default: twice the batch's training deadline plus 30 s).
    gpus : float
        The GPU share each task asks for (training on CUDA); it asks for none when the cluster has no GPU,
        unless ``require_gpu`` (``training.device = "cuda"``), which then raises a ``ConfigError``.
    """

    def __init__(self, data: dict[str, np.ndarray], fn: BatchFitness = evaluate_requests, *, batched: bool = True,
                 workers: int = 2, address: str = "", max_retries: int = 3, hard_deadline_s: float | None = None,
                 gpus: float = 0.0, require_gpu: bool = False) -> None:
        super().__init__(data, fn, batched=batched)
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
        cpus = max(1, workers if self._owns_ray and not address else total_cpus or workers)
        self.capacity = 2 * cpus  # one queued per CPU hides the dispatch latency
        self.max_retries = max_retries
        self.hard_deadline_s = hard_deadline_s
        options: dict[str, Any] = {"num_cpus": 1, "max_retries": max_retries}
        self.gpus = gpus_for_tasks(gpus, float(ray.cluster_resources().get("GPU", 0) or 0), require_gpu)
        if self.gpus > 0:
            options["num_gpus"] = self.gpus
        self._task = ray.remote(**options)(_remote_evaluate)
        self._data_ref = ray.put(data)  # once; workers read it zero-copy from the object store
        self._fn_ref = ray.put(fn)
        self._running: dict[Any, tuple[list[EvaluationRequest], float, float]] = {}

    @property
    def in_flight(self) -> int:
        return len(self._running)

    def submit(self, batch: Batch) -> None:
        batch = list(batch)
        limit = self.hard_deadline_s
        if limit is None:
            limit = 2.0 * batch[0].training.deadline_s * len(batch) + 30.0
        ref = self._task.remote(self._fn_ref, self._data_ref, batch, self.batched)
        self._running[ref] = (batch, time.monotonic(), limit)

    def collect(self) -> list[EvaluationResult]:
        ray = self._ray
        out: list[EvaluationResult] = []
        while self._running and not out:
            done, _ = ray.wait(list(self._running), num_returns=1, timeout=1.0)
            for ref in done:
                batch, started, _ = self._running.pop(ref)
                seconds = time.monotonic() - started
                try:
                    out.extend(_checked(batch, ray.get(ref), seconds))
                except ray.exceptions.RayError as exc:
                    out.extend(_penalties(batch, f"worker failed after {self.max_retries} retries: "
                                                 f"{type(exc).__name__}", seconds))
            now = time.monotonic()
            for ref, (batch, started, limit) in list(self._running.items()):
                if now - started > limit:
                    ray.cancel(ref, force=True)
                    self._running.pop(ref)
                    out.extend(_penalties(batch, f"deadline: cancelled after {limit:.0f} s", now - started))
        return out

    def close(self) -> None:
        for ref in list(self._running):
            self._ray.cancel(ref, force=True)
        self._running.clear()
        if self._owns_ray and self._ray.is_initialized():
            self._ray.shutdown()
        self._owns_ray = False
