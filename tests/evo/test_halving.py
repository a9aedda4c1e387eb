"""Successive halving in a batch: the worse half stops at the rung and scores as if trained that long alone."""

from __future__ import annotations

import math

import numpy as np
import pytest

from deepstruct.evo.config import TrainingConfig
from deepstruct.evo.fitness import evaluate_requests
from deepstruct.evo.protocol import EvaluationRequest
from deepstruct.genomes import init_local


def _data() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 12)).astype(np.float32)
    y = (x[:, :3].sum(axis=1) > 0).astype(np.int64) + (x[:, 5] > 1)
    return {"x_train": x[:80], "y_train": y[:80], "x_val": x[80:], "y_val": y[80:], "x_test": x[80:],
            "y_test": y[80:]}


@pytest.mark.parametrize("keep", [0.5, 0.25])
def test_the_worse_requests_stop_at_the_rung_and_the_others_train_as_alone(keep: float) -> None:
    data = _data()
    rng = np.random.default_rng(1)
    genomes = [init_local(12, 3, int(rng.integers(3, 12)), rng=rng, width=(2, 6)) for _ in range(7)]
    halving = TrainingConfig(epochs=4, seeds=2, batch_size=16, halving_epoch=1, halving_keep=keep)
    requests = [EvaluationRequest.of(g, k, halving) for k, g in enumerate(genomes)]
    batched = evaluate_requests(requests, data, batched=True)
    stopped = [k for k, r in enumerate(batched) if r.stats["epochs"] == 1]
    assert len(stopped) == len(requests) - math.ceil(len(requests) * keep)
    assert all(batched[k].stats["epochs"] == 4 for k in range(len(requests)) if k not in stopped)
    short = TrainingConfig(epochs=1, seeds=2, batch_size=16)
    full = TrainingConfig(epochs=4, seeds=2, batch_size=16)
    for k, request in enumerate(requests):
        schedule = short if k in stopped else full
        alone = evaluate_requests([EvaluationRequest(request.key, request.genome, request.seed, schedule)], data,
                                  batched=False)[0]
        assert batched[k].stats["loss"] == pytest.approx(alone.stats["loss"], abs=1e-5), k
    at_rung = {k: evaluate_requests([EvaluationRequest(r.key, r.genome, r.seed, short)], data)[0].stats["accuracy"]
               for k, r in enumerate(requests)}
    assert max(at_rung[k] for k in stopped) <= min(at_rung[k] for k in at_rung if k not in stopped)


def test_a_request_alone_in_its_batch_is_never_stopped() -> None:
    genome = init_local(12, 3, 6, rng=np.random.default_rng(2))
    config = TrainingConfig(epochs=3, seeds=1, halving_epoch=1)
    result = evaluate_requests([EvaluationRequest.of(genome, 0, config)], _data(), batched=True)[0]
    assert result.stats["epochs"] == 3
