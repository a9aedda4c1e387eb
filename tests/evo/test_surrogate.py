"""The surrogate: structural descriptors, held-out R^2, and screening that keeps a run reproducible."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from deepstruct.evo.run import EvolutionRun
from deepstruct.evo.surrogate import DESCRIPTORS, Surrogate, descriptors, held_out_r2
from deepstruct.genomes import Genome, init_local
from tests.evo.conftest import Killed, killed_after_generation, tiny_config


def test_descriptors_count_the_structure() -> None:
    g = Genome(10, 3, edges=[(0, 2), (1, 2)], input_edges=[(0, 0), (1, 0), (2, 0), (5, 1)],
               output_edges=[(2, 0), (2, 1)], direct_edges=[(9, 2)])
    named = dict(zip(DESCRIPTORS, descriptors(g).tolist(), strict=True))
    assert named["vertices"] == 3 and named["hidden_edges"] == 2 and named["input_edges"] == 4
    assert named["output_edges"] == 2 and named["direct_edges"] == 1 and named["depth"] == 2
    assert named["max_width"] == 2 and named["inputs_read"] == 4 and named["mean_input_span"] == 2.0


def test_the_surrogate_explains_a_structural_fitness_and_not_noise() -> None:
    rng = np.random.default_rng(0)
    genomes = [init_local(20, 3, int(rng.integers(4, 40)), rng=rng) for _ in range(120)]
    structural = [0.4 + 0.005 * g.num_vertices + 0.01 * len(g.input_edges[min(g.input_edges)]) for g in genomes]
    assert held_out_r2(genomes, structural, seed=0) > 0.8
    assert held_out_r2(genomes, rng.random(len(genomes)).tolist(), seed=0) < 0.3
    model = Surrogate(seed=1).fit(genomes, structural)
    ranked = model.predict(genomes)
    assert np.corrcoef(ranked, structural)[0, 1] > 0.9
    with pytest.raises(ValueError, match="two or more"):
        Surrogate().fit(genomes[:1], structural[:1])


def test_a_screened_run_is_reproducible_and_resumes_exactly(tmp_path: Path) -> None:
    config = tiny_config(**{"algorithm.screen": 4, "algorithm.population": 8, "algorithm.generations": 4})
    whole = EvolutionRun(config, tmp_path / "whole").run(report=False)
    assert whole.surrogate is not None and whole.surrogate.surrogate is not None  # it did screen
    crashing = EvolutionRun(config, tmp_path / "crashed")
    crashing.on_generation = killed_after_generation(3)
    with pytest.raises(Killed):
        crashing.run(report=False)
    EvolutionRun.resume(tmp_path / "crashed").run(report=False)

    def final(name: str) -> dict:
        data = json.loads((tmp_path / name / "checkpoint.json").read_text())
        return {k: v for k, v in data.items() if k not in ("config", "seconds", "checksum")}

    assert final("crashed") == final("whole")
    unscreened = EvolutionRun(tiny_config(**{"algorithm.population": 8, "algorithm.generations": 4}),
                              tmp_path / "plain").run(report=False)
    assert final("plain")["strategy"] != final("whole")["strategy"]  # screening chose other children
    assert unscreened.surrogate is None


def test_the_run_surrogate_learns_a_re_evaluated_survivor_s_mean(monkeypatch: pytest.MonkeyPatch) -> None:
    """A survivor's later repeats (``algorithm.reevaluate``) count in what the surrogate learns, as they count in
    its fitness: the mean over the repeats journalled up to the generation it refits after."""
    from types import SimpleNamespace

    from deepstruct.evo import surrogate as module
    from deepstruct.evo.protocol import EvaluationResult
    from deepstruct.evo.store import CachedResult
    from deepstruct.genomes import GenomeLimits

    rng = np.random.default_rng(0)
    cache = {}
    for k in range(16):
        genome = init_local(20, 3, 4 + k, rng=rng).to_dict()
        stats = {"accuracy": 0.5, "loss": 1.0, "test_accuracy": 0.5, "trained_accuracy": 0.5}
        first = EvaluationResult(f"k{k:02d}", (0.5,), None, None, stats, 0.0, genome, (0,))
        cache[first.key] = CachedResult(first, 1)
    later = EvaluationResult("k00", (0.1,), None, None, dict(stats, accuracy=0.1), 0.0, None, (1,))
    cache["k00"] = cache["k00"].adding(3, later)
    learned: list[list[float]] = []
    monkeypatch.setattr(module.Surrogate, "fit_features", lambda self, x, values: learned.append(list(values)))
    store = SimpleNamespace(cache=cache, objectives=lambda: ("accuracy",))
    surrogate = module.JournalSurrogate(0, store, GenomeLimits())
    surrogate.refit(2)  # before the re-evaluation: the first repeat only
    surrogate.refit(3)
    assert learned[0][0] == pytest.approx(0.5) and learned[1][0] == pytest.approx(0.3)
    assert learned[0][1:] == learned[1][1:] == [0.5] * 15
