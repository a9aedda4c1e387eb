"""The fitness function: deterministic per seed; failures become penalties with a reason; Lamarckian shrinking."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from deepstruct.evo.config import TaskConfig, TrainingConfig
from deepstruct.evo.fitness import PENALTY, evaluate_genome, repeat_seed
from deepstruct.evo.tasks import load_task, split_task
from deepstruct.genomes import Genome, init_random_layered


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    return load_task(TaskConfig(max_samples=400), seed=0).arrays()


def _genome(seed: int = 0) -> Genome:
    return init_random_layered(64, 10, 16, rng=np.random.default_rng(seed), num_layers=2)


def _training(**changes: Any) -> dict[str, Any]:
    changes.setdefault("seeds", 1)
    return dataclasses.asdict(TrainingConfig(epochs=2, **changes))


def test_same_seed_same_result_other_seed_other_weights(data: dict[str, np.ndarray]) -> None:
    genome = _genome().to_dict()
    a = evaluate_genome(genome, 7, data, _training())
    b = evaluate_genome(genome, 7, data, _training())
    c = evaluate_genome(genome, 8, data, _training())
    assert a["reason"] is None and a["values"] == b["values"] and a["stats"] == b["stats"]
    assert c["stats"]["loss"] != a["stats"]["loss"]
    assert 0.0 <= a["values"][0] <= 1.0


def test_objectives_include_graph_properties(data: dict[str, np.ndarray]) -> None:
    genome = _genome()
    result = evaluate_genome(genome.to_dict(), 1, data, _training(objectives=("accuracy", "edges", "depth")))
    assert result["values"][1:] == [float(genome.num_edges), 2.0]


def test_nan_inputs_give_a_nan_loss_penalty() -> None:
    x = np.random.default_rng(0).normal(size=(60, 64)).astype(np.float32)
    x[5, 3] = np.nan
    y = np.arange(60) % 10
    task = split_task("nan", x, y, TaskConfig(), seed=0)
    result = evaluate_genome(_genome().to_dict(), 1, task.arrays(), _training(objectives=("accuracy", "params")))
    assert result["values"] == [0.0, PENALTY]
    assert "non-finite loss" in result["reason"]


def test_an_exception_becomes_a_penalty(data: dict[str, np.ndarray]) -> None:
    broken = _genome().to_dict()
    broken["edges"].append({"source": 0, "target": 999})
    result = evaluate_genome(broken, 1, data, _training())
    assert result["values"] == [0.0]
    assert "GenomeError" in result["reason"] and "999" in result["reason"]


def test_the_deadline_becomes_a_penalty(data: dict[str, np.ndarray]) -> None:
    result = evaluate_genome(_genome().to_dict(), 1, data, _training(deadline_s=1e-6))
    assert result["values"] == [0.0] and result["reason"].startswith("deadline")


@pytest.mark.parametrize("amount", [0.3, 0.6])
def test_lamarckian_pruning_shrinks_the_genome_and_keeps_ids(data: dict[str, np.ndarray], amount: float) -> None:
    genome = _genome(3)
    result = evaluate_genome(genome.to_dict(), 1, data, _training(mode="lamarckian", prune_amount=amount))
    assert result["reason"] is None
    child = Genome.from_dict(result["genome"])
    assert child.num_edges < genome.num_edges
    assert set(child.vertices) <= set(genome.vertices)
    assert child.has_weights
    baldwin = evaluate_genome(genome.to_dict(), 1, data, _training(mode="baldwinian", prune_amount=amount))
    assert baldwin["genome"] is None and baldwin["values"] == result["values"]


def test_several_training_seeds_average_the_single_runs(data: dict[str, np.ndarray]) -> None:
    genome = _genome(5).to_dict()
    assert repeat_seed(7, 0) == 7 and len({repeat_seed(7, r) for r in range(4)}) == 4
    runs = [evaluate_genome(genome, repeat_seed(7, r), data, _training())["stats"] for r in range(3)]
    mean = evaluate_genome(genome, 7, data, _training(seeds=3))
    assert mean["reason"] is None
    for name in ("accuracy", "loss", "test_accuracy", "trained_accuracy"):
        assert mean["stats"][name] == pytest.approx(np.mean([r[name] for r in runs]), abs=1e-12)
    accuracies = [r["accuracy"] for r in runs]
    assert mean["stats"]["accuracy_spread"] == pytest.approx(max(accuracies) - min(accuracies))
    assert mean["values"] == [mean["stats"]["accuracy"]]
    assert mean["stats"]["params"] == runs[0]["params"]
