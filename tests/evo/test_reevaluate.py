"""Re-evaluation of survivors (``algorithm.reevaluate``): repeats added one by one equal the repeats trained at
once, the best survivors accumulate repeats up to ``algorithm.max_repeats``, a crashed run resumes exactly, and old
journals (results without ``repeats``) still load."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepstruct.evo.batching import plan_batches
from deepstruct.evo.config import ConfigError, TaskConfig, TrainingConfig
from deepstruct.evo.fitness import evaluate_requests
from deepstruct.evo.individual import Individual
from deepstruct.evo.logbook import logbook_csv
from deepstruct.evo.persistence import Journal, read_journal
from deepstruct.evo.protocol import EvaluationRequest, EvaluationResult, individual_seed, repeat_seed
from deepstruct.evo.repeats import AVERAGED, combine, merge, ranked
from deepstruct.evo.run import EvolutionRun
from deepstruct.evo.tasks import load_task
from deepstruct.genomes import GenomeLimits, init_random_layered
from tests.evo.conftest import Killed, dying_after, tiny_config

REEVALUATE = {"algorithm.reevaluate": 2, "algorithm.max_repeats": 3}


# -- repeats one by one equal repeats at once ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    return load_task(TaskConfig(max_samples=300), seed=0).arrays()


@pytest.mark.parametrize("mode", ["lamarckian", "baldwinian"])
def test_repeats_added_one_by_one_give_exactly_the_result_of_the_seeds_trained_at_once(
        data: dict[str, np.ndarray], mode: str) -> None:
    genome = init_random_layered(64, 10, 8, rng=np.random.default_rng(0), num_layers=2)
    one, three = (TrainingConfig(epochs=2, seeds=s, mode=mode, prune_amount=0.2) for s in (1, 3))
    at_once = EvaluationRequest.of(genome, 5, three, GenomeLimits())
    assert at_once.repeats == (0, 1, 2) and not at_once.reevaluates
    parts = [evaluate_requests([EvaluationRequest(at_once.key, at_once.genome, at_once.seed, one, GenomeLimits(),
                                                  repeats=(r,))], data, batched=False)[0] for r in (2, 0, 1)]
    assert [p.repeats for p in parts] == [(2,), (0,), (1,)]
    assert parts[0].genome is None and (parts[1].genome is not None) == (mode == "lamarckian")  # repeat 0's only
    whole = evaluate_requests([at_once], data, batched=False)[0]
    merged = merge(parts, three.objectives)
    assert merged.values == whole.values and merged.stats == whole.stats and merged.genome == whole.genome
    assert merged.repeats == whole.repeats == (0, 1, 2) and merged.repeat_stats == whole.repeat_stats
    assert "accuracy_spread" in merged.stats and merged.evaluated == at_once.genome
    assert merged.values[0] == pytest.approx(np.mean([p.values[0] for p in parts]))


def _result(repeats: tuple[int, ...], accuracies: list[float], base: dict[str, float]) -> EvaluationResult:
    per = tuple({name: a + i / 10 for i, name in enumerate(AVERAGED)} for a in accuracies)
    stats = combine(dict(base, **per[0]), per)
    return EvaluationResult("k", (stats["accuracy"], stats["params"]), None, None, stats, 1.0, None, repeats, per)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=8), st.data())
def test_a_merge_of_repeats_depends_on_the_repeats_only(accuracies: list[float], draw: Any) -> None:
    """Cut into parts of consecutive repeats, merged in any order: the result of all the repeats at once."""
    n = len(accuracies)
    cuts = sorted(draw.draw(st.sets(st.integers(1, n - 1), max_size=n - 1))) if n > 1 else []
    bounds = [0, *cuts, n]
    base = {"params": 7.0}
    parts = [_result(tuple(range(a, b)), accuracies[a:b], base if a == 0 else {"params": 99.0})
             for a, b in zip(bounds, bounds[1:], strict=False)]
    order = draw.draw(st.permutations(parts))
    merged, whole = merge(order, ("accuracy", "params")), _result(tuple(range(n)), accuracies, base)
    assert merged.values == whole.values and merged.stats == whole.stats and merged.repeats == whole.repeats
    assert merged.stats["params"] == 7.0 and merged.seconds == len(parts)  # structure: repeat 0's


def test_a_failed_repeat_fails_the_individual() -> None:
    first = _result((0,), [0.5], {"params": 7.0})
    failed = EvaluationResult("k", (0.0, 1e9), "a NaN loss", repeats=(1,))
    merged = merge([first, failed], ("accuracy", "params"))
    assert merged.reason == "a NaN loss" and merged.values == (0.0, 1e9) and merged.repeats == (0, 1)
    with pytest.raises(ValueError, match="merged twice"):
        merge([first, _result((0,), [0.3], {"params": 1.0})], ("accuracy", "params"))


# -- the run: the best survivors accumulate repeats --------------------------------------------------------------
def _noise(key: str, seed: int) -> float:
    return int(hashlib.sha256(f"{key}/{seed}".encode()).hexdigest()[:8], 16) / 2**32


def noisy_fitness(requests: list[EvaluationRequest], data: dict, *, batched: bool) -> list[EvaluationResult]:
    """A cheap fitness with training noise: a repeat's accuracy is the genome's own plus noise of its seed."""
    out = []
    for request in requests:
        per = [{name: 0.5 * _noise(request.key, 0) + 0.5 * _noise(request.key, seed) for name in AVERAGED}
               for seed in request.repeat_seeds()]
        stats = combine({**per[0], "params": float(int(_noise(request.key, 1) * 50))}, per)
        values = tuple(stats[name] for name in request.training.objectives)
        several = len(per) > 1  # one repeat: a result that names neither its repeat nor its statistics
        out.append(EvaluationResult(request.key, values, None, None, stats, 0.0, request.genome,
                                    request.repeats if several else (), tuple(per) if several else ()))
    return out


def test_the_best_survivors_accumulate_repeats_up_to_the_cap(tmp_path: Path) -> None:
    config = tiny_config(**{"algorithm.reevaluate": 2, "algorithm.max_repeats": 2, "algorithm.generations": 6,
                            "algorithm.population": 4, "algorithm.elites": 1})
    run = EvolutionRun(config, tmp_path / "run", fitness_fn=noisy_fitness)
    seen: list[tuple[list[Individual], dict[str, tuple[int, ...]]]] = []
    skipped_at_cap = []

    def check(run: EvolutionRun) -> None:
        cache = run.store.cache
        counts = {key: hit.repeats() for key, hit in cache.items()}
        if seen:
            before, old = seen[-1]
            expected, capped = [], False
            for ind in ranked(before, config.training.objectives):
                if len(expected) < 2 and ind.key not in expected:
                    if len(old[ind.key]) < 2:
                        expected.append(ind.key)
                    else:
                        capped = True
            skipped_at_cap.append(capped)
            assert run.logbook[-1]["reevals"] == len(expected)
            for key in old:
                assert counts[key] == (old[key] + (len(old[key]),) if key in expected else old[key])
        for ind in run.strategy.population:  # the fitness is the mean over every repeat journalled
            hit, seed = cache[ind.key], individual_seed(config.seed, ind.key)
            accuracies = [0.5 * _noise(ind.key, 0) + 0.5 * _noise(ind.key, repeat_seed(seed, r))
                          for r in hit.repeats()]
            assert ind.fitness.values[0] == pytest.approx(np.mean(accuracies), abs=1e-12)
            assert len(hit.repeats()) <= 2
        seen.append(([ind.clone() for ind in run.strategy.population], counts))

    run.on_generation = check
    run.run(report=False)
    assert len(seen) == 7 and any(skipped_at_cap)  # an individual at the cap was passed over for the next one
    assert max(len(c) for c in seen[-1][1].values()) == 2
    records = read_journal(tmp_path / "run" / "journal.jsonl")
    assert run.evaluations == len(records) == sum(r["nevals"] + r["reevals"] for r in run.logbook)
    assert "reevals" in logbook_csv(run.logbook, config.training.objectives).splitlines()[0].split(",")


# -- exact resume ---------------------------------------------------------------------------------------------------
def _final(run_dir: Path) -> dict[str, Any]:
    data = json.loads((run_dir / "checkpoint.json").read_text())
    for name in ("config", "seconds", "checksum"):
        data.pop(name)
    return data


ALGORITHMS = {"ga": {}, "mu_plus_lambda": {"algorithm.name": "mu_plus_lambda"},
              "nsga2": {"algorithm.name": "nsga2", "training.objectives": ["accuracy", "params"]},
              "random": {"algorithm.name": "random"}, "aging": {"algorithm.name": "aging"}}


@pytest.mark.parametrize(("algorithm", "calls"), [("ga", 7), ("ga", 9), ("ga", 12), ("ga", 15), ("ga", 20),
                                                  *((name, 12) for name in ALGORITHMS if name != "ga")])
def test_a_run_killed_between_any_two_batches_resumes_to_the_uninterrupted_result(tmp_path: Path, algorithm: str,
                                                                                  calls: int) -> None:
    config = tiny_config(**REEVALUATE, **ALGORITHMS[algorithm], **{"algorithm.generations": 4,
                                                                   "evaluator.batch": 1})
    whole = EvolutionRun(config, tmp_path / "whole", fitness_fn=noisy_fitness).run(report=False)
    with pytest.raises(Killed):
        EvolutionRun(config, tmp_path / "cut", fitness_fn=dying_after(calls, noisy_fitness)).run(report=False)
    resumed = EvolutionRun.resume(tmp_path / "cut", fitness_fn=noisy_fitness).run(report=False)
    assert _final(tmp_path / "cut") == _final(tmp_path / "whole") and resumed.evaluations == whole.evaluations
    assert sum(r["reevals"] for r in whole.logbook) > 0
    parts = [(r["key"], tuple(r["result"]["repeats"])) for r in read_journal(tmp_path / "cut" / "journal.jsonl")]
    assert len(parts) == len(set(parts)) == whole.evaluations  # nothing trained twice


def test_a_generation_replayed_after_a_lost_checkpoint_sees_only_the_repeats_of_its_time(tmp_path: Path) -> None:
    """The checkpoint of generation 1 is lost and the run killed once a re-evaluation of generation 2 is
    journalled: the resumed run replays generation 1 with the journal holding repeats of generation 2 already."""
    config = tiny_config(**REEVALUATE, **{"algorithm.generations": 4, "evaluator.batch": 1})
    whole = EvolutionRun(config, tmp_path / "whole", fitness_fn=noisy_fitness).run(report=False)
    holder: list[EvolutionRun] = []

    def fitness(requests: list, data: dict, *, batched: bool) -> list:
        if any(gen == 2 for hit in holder[0].store.cache.values() for gen, _ in hit.parts):
            raise Killed
        return noisy_fitness(requests, data, batched=batched)

    run = EvolutionRun(config, tmp_path / "cut", fitness_fn=fitness)
    holder.append(run)
    save = run.store.save_checkpoint
    run.store.save_checkpoint = lambda data: None if data["generation"] == 1 else save(data)  # type: ignore[method-assign]
    with pytest.raises(Killed):
        run.run(report=False)
    resumed = EvolutionRun.resume(tmp_path / "cut", fitness_fn=noisy_fitness)
    assert resumed.generation == 0
    resumed.run(report=False)
    assert _final(tmp_path / "cut") == _final(tmp_path / "whole")
    assert [r["key"] for r in read_journal(tmp_path / "cut" / "journal.jsonl")] == [
        r["key"] for r in read_journal(whole.run_dir / "journal.jsonl")]


def test_a_crashed_lamarckian_run_with_real_training_resumes_to_the_uninterrupted_result(tmp_path: Path) -> None:
    config = tiny_config(**REEVALUATE, **{"training.mode": "lamarckian", "training.child_epochs": 1,
                                          "training.prune_amount": 0.1, "algorithm.generations": 3,
                                          "evaluator.batch": 1})
    whole = EvolutionRun(config, tmp_path / "whole").run(report=False)
    from deepstruct.evo.fitness import evaluate_requests as real

    with pytest.raises(Killed):
        EvolutionRun(config, tmp_path / "cut", fitness_fn=dying_after(17, real)).run(report=False)  # in generation 2
    EvolutionRun.resume(tmp_path / "cut").run(report=False)
    assert _final(tmp_path / "cut") == _final(tmp_path / "whole")
    assert any(len(r["result"]["repeats"]) == 1 and r["result"]["repeats"][0] > 0
               for r in read_journal(tmp_path / "cut" / "journal.jsonl"))
    assert any("accuracy_spread" in ind.stats for ind in whole.strategy.population)  # a mean over repeats


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 3), st.integers(0, 6), st.integers(1, 8), st.randoms(use_true_random=False))
def test_re_evaluations_are_planned_with_the_offspring_by_the_requests_alone(seeds: int, again: int, members: int,
                                                                              shuffle: Any) -> None:
    training = TrainingConfig(seeds=seeds)
    genomes = [init_random_layered(8, 3, 4 + i % 5, rng=np.random.default_rng(i), num_layers=1 + i % 2)
               for i in range(10)]
    first = [EvaluationRequest.of(g, 0, training) for g in genomes[: 10 - again]]
    later = [dataclasses.replace(r, repeats=(seeds,)) for r in
             (EvaluationRequest.of(g, 0, training) for g in genomes[10 - again:])]
    requests = first + later
    plan = [sorted((requests[i].key, requests[i].repeats) for i in b) for b in plan_batches(requests, members, 10**6)]
    mixed = list(requests)
    shuffle.shuffle(mixed)
    assert sorted(plan) == sorted(sorted((mixed[i].key, mixed[i].repeats) for i in b)
                                  for b in plan_batches(mixed, members, 10**6))
    assert sorted(p for b in plan for p in b) == sorted((r.key, r.repeats) for r in requests)
    for batch in plan:
        assert len({len(repeats) for _, repeats in batch}) == 1  # one number of repeats per batch
        assert len(batch) * len(batch[0][1]) <= members or len(batch) == 1


# -- configuration and old journals -----------------------------------------------------------------------------
@pytest.mark.parametrize(("changes", "knob"), [
    ({"algorithm.reevaluate": -1}, "algorithm.reevaluate"),
    ({"algorithm.reevaluate": 1.5}, "algorithm.reevaluate"),
    ({"algorithm.max_repeats": 0}, "algorithm.max_repeats"),
    ({"algorithm.max_repeats": -2}, "algorithm.max_repeats"),
    ({"algorithm.reevaluate": 2, "algorithm.name": "aging", "algorithm.asynchronous": True}, "algorithm.reevaluate"),
])
def test_a_wrong_reevaluation_setting_is_refused_naming_its_knob(changes: dict[str, Any], knob: str) -> None:
    with pytest.raises(ConfigError, match=knob.replace(".", r"\.")):
        tiny_config(**changes)


@pytest.mark.parametrize("repeats", [(1, 1), (2, 1), (-1,), ("0",), (True,), "01", (100,)])
def test_a_request_refuses_repeats_that_are_not_increasing_indices(repeats: Any) -> None:
    with pytest.raises(ConfigError, match="EvaluationRequest.repeats"):
        EvaluationRequest("k", {}, 0, repeats=repeats)


def test_results_of_a_journal_without_repeats_load_as_every_training_seed(tmp_path: Path) -> None:
    old = {"key": "k", "values": [0.5], "stats": {"accuracy": 0.5}}
    assert EvaluationResult.from_dict(old, seeds=3).repeats == (0, 1, 2)
    assert EvaluationResult.from_dict(old).repeats == ()
    config = tiny_config(**{"training.seeds": 2, "algorithm.generations": 1})
    run = EvolutionRun(config, tmp_path / "run", fitness_fn=noisy_fitness).run(report=False)
    path = tmp_path / "run" / "journal.jsonl"
    records = read_journal(path, sealed=True)
    path.unlink()
    with Journal(path, seal=True) as journal:  # the journal of a deepstruct before re-evaluation
        for record in records:
            record["result"] = {k: v for k, v in record["result"].items() if k not in ("repeats", "repeat_stats")}
            journal.append(record)
    resumed = EvolutionRun.resume(tmp_path / "run", fitness_fn=noisy_fitness)
    resumed.store.open(resumed.config, resumed.resumed).close()
    assert {hit.result.repeats for hit in resumed.store.cache.values()} == {(0, 1)}
    assert {k: hit.result.values for k, hit in resumed.store.cache.items()} == {
        k: hit.result.values for k, hit in run.store.cache.items()}
