"""The engine's seam: typed requests and results, the batch plan, batched against one-by-one fitness, the store."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepstruct.batch_plan import padded_weights
from deepstruct.evo.batching import plan_batches
from deepstruct.evo.config import ConfigError, TaskConfig, TrainingConfig
from deepstruct.evo.evaluators import SerialEvaluator
from deepstruct.evo.fitness import evaluate_requests, train_genome
from deepstruct.evo.protocol import EvaluationRequest, EvaluationResult, individual_seed
from deepstruct.evo.run import EvolutionRun
from deepstruct.evo.tasks import load_task
from deepstruct.genomes import GenomeLimits, init_random_layered, member_shape
from deepstruct.operators import mut_add_vertex, mut_duplicate_vertex
from tests.evo.conftest import tiny_config


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    return load_task(TaskConfig(max_samples=300), seed=0).arrays()


def _genomes(n: int, seed: int = 0) -> list:
    """Genomes of different widths and depths (some grown by mutations, so not layered)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        genome = init_random_layered(64, 10, int(rng.integers(3, 14)), rng=rng, num_layers=1 + i % 3)
        for _ in range(i % 4):
            (genome,) = (mut_add_vertex if rng.random() < 0.5 else mut_duplicate_vertex)(genome, rng=rng)
        out.append(genome)
    return out


def _requests(n: int, training: TrainingConfig, seed: int = 0) -> list[EvaluationRequest]:
    return [EvaluationRequest.of(g, 3, training, GenomeLimits()) for g in _genomes(n, seed)]


def test_a_result_round_trips_through_json_and_refuses_non_finite_values() -> None:
    result = EvaluationResult("k", (0.5, 12.0), None, {"num_inputs": 2}, {"accuracy": 0.5}, 1.5, {"x": 1})
    assert EvaluationResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result
    with pytest.raises(ValueError, match="non-finite"):
        EvaluationResult("k", (math.nan,))
    penalty = EvaluationResult.penalty("k", ("accuracy", "params"), "why")
    assert penalty.values[0] == 0.0 and penalty.values[1] > 1e8 and penalty.reason == "why"


def test_a_request_derives_key_and_seed_from_the_genome_only() -> None:
    (genome,) = _genomes(1)
    a = EvaluationRequest.of(genome, 7, TrainingConfig(seeds=3))
    b = EvaluationRequest.of(genome.copy(), 7, TrainingConfig(seeds=3))
    assert a == b and a.seed == individual_seed(7, a.key)
    assert a.repeat_seeds()[0] == a.seed and len(set(a.repeat_seeds())) == 3
    with pytest.raises(ConfigError, match="TrainingConfig"):
        EvaluationRequest("k", genome.to_dict(), 1, training={"epochs": 1})  # type: ignore[arg-type]


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 14), members=st.sampled_from([0, 1, 2, 5, 9]), budget=st.integers(2_000, 200_000),
       seed=st.integers(0, 2**16), shuffle=st.integers(0, 2**16))
def test_the_batch_plan_depends_only_on_the_requests_and_keeps_its_bounds(n: int, members: int, budget: int,
                                                                         seed: int, shuffle: int) -> None:
    training = TrainingConfig(seeds=2)
    requests = _requests(n, training, seed)
    plan = plan_batches(requests, members, budget)
    assert sorted(i for batch in plan for i in batch) == list(range(n))
    order = np.random.default_rng(shuffle).permutation(n)
    shuffled = [requests[i] for i in order]
    by_keys = sorted(sorted(requests[i].key for i in b) for b in plan)
    assert by_keys == sorted(sorted(shuffled[i].key for i in b) for b in plan_batches(shuffled, members, budget))
    for batch in plan:
        if members == 1:
            assert len(batch) == 1
        assert len(batch) * training.seeds <= max(members or 24, training.seeds)
        if len(batch) > 1:  # exactly what the batch's PopulationDAN allocates
            shapes = [member_shape(requests[i].load_genome()) for i in batch for _ in range(training.seeds)]
            assert padded_weights(shapes) <= budget


def test_the_batch_plan_counts_what_the_population_allocates_and_places_invalid_genomes() -> None:
    from deepstruct.evo.fitness import decode_member
    from deepstruct.sparse.population import PopulationDAN

    training = TrainingConfig(seeds=2)
    requests = _requests(8, training, seed=3)
    broken = EvaluationRequest("broken", {"schema": "nonsense"}, 1, training)
    plan = plan_batches([*requests, broken], 6, 50_000)
    assert plan[0] == [8] and sorted(i for b in plan for i in b) == list(range(9))
    for batch in plan[1:]:
        models = [decode_member(requests[i].load_genome(), seed, training) for i in batch
                  for seed in requests[i].repeat_seeds()]
        allocated = PopulationDAN(models).padded_weights()
        assert allocated == padded_weights([member_shape(requests[i].load_genome()) for i in batch
                                            for _ in range(training.seeds)])
        assert len(batch) == 1 or allocated <= 50_000


def test_batched_training_gives_the_one_by_one_results(data: dict[str, np.ndarray]) -> None:
    training = TrainingConfig(epochs=3, seeds=2, batch_size=32)
    requests = _requests(24, training)
    alone = evaluate_requests(requests, data, batched=False)
    together = evaluate_requests(requests, data, batched=True)
    for a, b in zip(alone, together, strict=True):
        assert a.key == b.key and a.reason is None and b.reason is None
        assert a.stats["accuracy"] == b.stats["accuracy"] and a.stats["test_accuracy"] == b.stats["test_accuracy"]
        assert a.stats["loss"] == pytest.approx(b.stats["loss"], abs=1e-4)
        assert {k: v for k, v in a.stats.items() if k not in ("loss", "accuracy_spread")} == \
            {k: v for k, v in b.stats.items() if k not in ("loss", "accuracy_spread")}


def test_one_failing_member_fails_only_its_request(data: dict[str, np.ndarray]) -> None:
    training = TrainingConfig(epochs=2, seeds=2)
    good = _requests(3, training)
    broken = EvaluationRequest("broken", {"schema": "nonsense"}, 1, training)
    nan_data = dict(data)
    results = evaluate_requests([good[0], broken, good[1], good[2]], nan_data, batched=True)
    assert [r.key for r in results] == [good[0].key, "broken", good[1].key, good[2].key]
    assert results[1].reason is not None and results[1].values == (0.0,)
    assert all(r.reason is None for i, r in enumerate(results) if i != 1)
    reference = evaluate_requests([good[0]], data, batched=True)[0]
    assert results[0].stats["accuracy"] == reference.stats["accuracy"]


def test_a_lamarckian_child_starts_from_its_parents_trained_pruned_network(data: dict[str, np.ndarray]) -> None:
    import torch

    from deepstruct.genomes import Genome
    from deepstruct.genomes.phenotype import decode

    training = TrainingConfig(epochs=3, seeds=1, mode="lamarckian", prune_amount=0.5)
    (genome,) = _genomes(1, seed=4)
    model, result = train_genome(genome.to_dict(), 11, data, training)
    child = decode(Genome.from_dict(result.genome), load_weights=True)
    probe = torch.from_numpy(data["x_val"][:64])
    with torch.no_grad():
        assert float((child.eval()(probe) - model.eval()(probe)).abs().max()) <= 1e-5


def test_an_evaluator_turns_a_wrong_answer_of_the_fitness_function_into_penalties() -> None:
    requests = _requests(2, TrainingConfig())
    evaluator = SerialEvaluator({}, lambda batch, data, batched: [EvaluationResult("other", (1.0,))])
    results = evaluator.evaluate([requests])
    assert all(r.values == (0.0,) and "instead of one EvaluationResult" in r.reason for r in results.values())


def test_resume_refuses_a_hand_edited_checkpoint(tmp_path: Path) -> None:
    EvolutionRun(tiny_config(**{"algorithm.generations": 1}), tmp_path / "run").run(report=False)
    from deepstruct.evo.persistence import sealed_json

    path = tmp_path / "run" / "checkpoint.json"
    original = json.loads(path.read_text())
    seal = original.pop("checksum")
    path.write_text(json.dumps({**original, "evaluations": original["evaluations"] + 1, "checksum": seal}))
    with pytest.raises(ConfigError, match="checksum does not match"):  # an edit that keeps the old seal
        EvolutionRun.resume(tmp_path / "run")
    for field, value, message in [("generation", "3", "generation"), ("strategy", [], "strategy"),
                                  ("version", 99, "version"), ("version", True, "version"),
                                  ("version", 3.0, "version")]:
        path.write_text(sealed_json({**original, field: value}))  # edits sealed again: the checks behind the seal
        with pytest.raises(ConfigError, match=message):
            EvolutionRun.resume(tmp_path / "run")
    other = dict(original, config={**original["config"], "seed": 5})
    path.write_text(sealed_json(other))
    with pytest.raises(ConfigError, match="another configuration"):
        EvolutionRun.resume(tmp_path / "run")


def test_resume_refuses_a_journal_with_a_damaged_line(tmp_path: Path) -> None:
    EvolutionRun(tiny_config(**{"algorithm.generations": 1}), tmp_path / "run").run(report=False)
    journal = tmp_path / "run" / "journal.jsonl"
    lines = journal.read_text().splitlines()
    journal.write_text("\n".join([lines[0], '{"type": "result", "key": 3}', *lines[1:]]) + "\n")
    with pytest.raises(ConfigError, match="line 2"):
        EvolutionRun.resume(tmp_path / "run").run(report=False)


def test_a_batched_run_matches_the_one_by_one_run(tmp_path: Path) -> None:
    # Baldwinian: a Lamarckian genome carries its trained weights, whose float rounding differs between a batch
    # and training alone (within 1e-5, tests/evo/test_child_epochs.py), and with them its key
    config = tiny_config(**{"algorithm.generations": 1, "training.seeds": 2, "training.mode": "baldwinian"})
    one = EvolutionRun(config.override({"evaluator.batch": 1}), tmp_path / "one").run(report=False)
    batched = EvolutionRun(config.override({"evaluator.batch": 0}), tmp_path / "batched").run(report=False)
    assert [i.key for i in one.strategy.population] == [i.key for i in batched.strategy.population]
    for a, b in zip(one.strategy.population, batched.strategy.population, strict=True):
        assert a.fitness.values == b.fitness.values
