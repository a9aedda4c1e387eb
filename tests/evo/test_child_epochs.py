"""Lamarckian children train ``training.child_epochs``; founders and random samples train ``training.epochs``."""

from __future__ import annotations

import numpy as np
import pytest

from deepstruct.evo.batching import plan_batches
from deepstruct.evo.config import TrainingConfig
from deepstruct.evo.protocol import EvaluationRequest, inherits_training
from deepstruct.genomes import Genome


def _weighted() -> Genome:
    return Genome(3, 2, vertices=[0], input_edges=[(0, 0, {"weight": 0.5})], output_edges=[(0, 1, {"weight": 1.0})])


def test_only_a_lamarckian_child_with_inherited_weights_gets_the_child_schedule() -> None:
    lamarckian = TrainingConfig(mode="lamarckian", epochs=20, child_epochs=4, child_learning_rate=0.005)
    assert inherits_training(_weighted(), lamarckian)
    assert not inherits_training(Genome(3, 2, vertices=[0]), lamarckian)
    assert not inherits_training(_weighted(), TrainingConfig(mode="baldwinian", child_epochs=4))
    assert EvaluationRequest.of(_weighted(), 0, lamarckian).schedule == (4, 0.005, 0.001)
    assert EvaluationRequest.of(Genome(3, 2, vertices=[0]), 0, lamarckian).schedule == (20, 0.02, 0.0)
    unset = TrainingConfig(mode="lamarckian", child_epochs=0, child_learning_rate=0.0)
    assert unset.schedule(True) == (20, 0.02, 0.001)  # unset child epochs and step: the founders'; a child's decay


def test_requests_of_different_schedules_never_share_a_batch() -> None:
    training = TrainingConfig(mode="lamarckian", epochs=20, child_epochs=4, child_learning_rate=0.005, seeds=1)
    genomes = []
    for k in range(12):
        g = _weighted() if k % 2 else Genome(3, 2, vertices=range(k // 2 + 1))  # distinct genomes
        if k % 2:
            g.graph.nodes[0]["bias"] = 0.1 * k
        genomes.append(g)
    requests = [EvaluationRequest.of(g, k, training) for k, g in enumerate(genomes)]
    batches = plan_batches(requests, members=24, max_weights=10**6)
    assert sorted(i for b in batches for i in b) == list(range(len(requests)))
    assert all(len({requests[i].schedule for i in b}) == 1 for b in batches)
    assert {requests[i].schedule for b in batches for i in b} == {(4, 0.005, 0.001), (20, 0.02, 0.0)}


def test_a_batch_of_founders_and_children_scores_as_one_by_one() -> None:
    from deepstruct.evo.fitness import evaluate_requests
    from deepstruct.genomes import init_local

    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 12)).astype(np.float32)
    y = (x[:, :4].sum(axis=1) > 0).astype(np.int64)
    data = {"x_train": x[:64], "y_train": y[:64], "x_val": x[64:], "y_val": y[64:], "x_test": x[64:], "y_test": y[64:]}
    training = TrainingConfig(mode="lamarckian", epochs=3, child_epochs=1, child_learning_rate=0.005, seeds=2,
                              batch_size=16)
    founders = [EvaluationRequest.of(init_local(12, 2, 6 + k, rng=rng, width=3), k, training) for k in range(3)]
    trained = evaluate_requests(founders, data, batched=False)
    children = [EvaluationRequest.of(Genome.from_dict(r.genome), 7, training) for r in trained]
    assert all(c.inherits for c in children) and not any(f.inherits for f in founders)
    mixed = founders + children
    batched, alone = evaluate_requests(mixed, data, batched=True), evaluate_requests(mixed, data, batched=False)
    for a, b in zip(batched, alone, strict=True):
        assert a.reason is None and b.reason is None
        assert a.stats["loss"] == pytest.approx(b.stats["loss"], abs=1e-5)
    assert [r.stats["loss"] for r in batched[:3]] == pytest.approx([r.stats["loss"] for r in trained], abs=1e-5)


@pytest.mark.parametrize("batched", [True, False])
def test_child_weight_decay_reaches_children_only(batched: bool) -> None:
    """``training.child_weight_decay`` is the L2 term of a child's training and of nothing else: founders train
    the same with any value of it, children shrink their weights more with a larger one."""
    from deepstruct.evo.fitness import evaluate_requests
    from deepstruct.genomes import init_local

    rng = np.random.default_rng(1)
    x = rng.normal(size=(96, 12)).astype(np.float32)
    y = (x[:, :4].sum(axis=1) > 0).astype(np.int64)
    data = {"x_train": x[:64], "y_train": y[:64], "x_val": x[64:], "y_val": y[64:], "x_test": x[64:], "y_test": y[64:]}

    def norms(child_weight_decay: float) -> tuple[list[float], list[float]]:
        training = TrainingConfig(mode="lamarckian", epochs=3, child_epochs=3, child_learning_rate=0.01,
                                  child_weight_decay=child_weight_decay, batch_size=16)
        founders = [EvaluationRequest.of(init_local(12, 2, 6 + k, rng=np.random.default_rng(k), width=3), k,
                                         training) for k in range(2)]
        trained = evaluate_requests(founders, data, batched=batched)
        children = evaluate_requests([EvaluationRequest.of(Genome.from_dict(r.genome), 5, training)
                                      for r in trained], data, batched=batched)

        def norm(result) -> float:  # the sum of squared weights of the trained network
            g = Genome.from_dict(result.genome)
            tables = [dict(g.graph.edges)] + [{(a, b): d for a, inner in t.items() for b, d in inner.items()}
                                              for t in (g.input_edges, g.output_edges, g.direct_edges)]
            return sum(d.get("weight", 0.0) ** 2 for table in tables for d in table.values())

        return [norm(r) for r in trained], [norm(r) for r in children]

    founders_off, children_off = norms(0.0)
    founders_on, children_on = norms(0.5)
    assert founders_on == pytest.approx(founders_off)
    assert all(on < off for on, off in zip(children_on, children_off, strict=True))
