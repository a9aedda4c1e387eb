"""Training repeats of one individual: how they average, how later ones merge in, and who gets one more.

An individual's fitness is the mean over its training repeats (repeat ``r`` trains the same genome with the seed
:func:`~deepstruct.evo.protocol.repeat_seed` ``(seed, r)``). ``training.seeds = n`` trains ``n`` repeats of every
candidate at once; ``algorithm.reevaluate = k`` trains one (``training.seeds``) and lets the survivors accumulate
more: after every generation the ``k`` best individuals of the population with fewer than
``algorithm.max_repeats`` repeats get the next repeat in the next generation's batches (:func:`ranked` orders them),
and the driver merges each such result into the individual's (:func:`merge`). One rule averages both ways
(:func:`combine`), so repeats ``{0}``, then ``{1}``, then ``{2}`` give exactly the statistics of ``seeds = 3``:

- ``stats`` are repeat 0's (the structure; in Lamarckian mode the re-encoded genome is repeat 0's too), with
  :data:`AVERAGED` replaced by their mean over the repeats (in repeat order) and ``accuracy_spread`` (max - min
  validation accuracy) added when there are several;
- the values are the objectives read from those statistics;
- a repeat that failed fails the individual (its penalty and reason), as one failing member of a request does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from deap import tools

from deepstruct.evo.protocol import EvaluationResult

__all__ = ["AVERAGED", "repeat_stats", "per_repeat", "combine", "merge", "ranked"]

#: Statistics averaged over the training repeats (the rest describe the structure: repeat 0's).
AVERAGED = ("accuracy", "loss", "test_accuracy", "trained_accuracy")


def repeat_stats(stats: dict[str, Any]) -> dict[str, float]:
    """The part of one repeat's statistics that is averaged (:data:`AVERAGED`)."""
    return {name: float(stats[name]) for name in AVERAGED if name in stats}


def per_repeat(result: EvaluationResult) -> tuple[dict[str, float], ...]:
    """The averaged statistics of each repeat of ``result`` (in the order of ``result.repeats``); a one-repeat
    result without them (a journal from before re-evaluation, a user's fitness function) has its own."""
    if result.repeat_stats:
        return result.repeat_stats
    if len(result.repeats) == 1:
        return (repeat_stats(result.stats),)
    raise ValueError(f"result {result.key}: {len(result.repeats)} repeats without their statistics cannot be merged")


def combine(base: dict[str, Any], repeats: Sequence[dict[str, float]]) -> dict[str, Any]:
    """The statistics of an individual from repeat 0's ``base`` and every repeat's averaged statistics (in repeat
    order): :data:`AVERAGED` are the means, ``accuracy_spread`` the max - min validation accuracy."""
    if len(repeats) < 2:
        return dict(base)
    accuracies = [run["accuracy"] for run in repeats]
    return dict(base, **{name: float(np.mean([run[name] for run in repeats])) for name in AVERAGED},
                accuracy_spread=float(max(accuracies) - min(accuracies)))


def merge(parts: Sequence[EvaluationResult], objectives: Sequence[str]) -> EvaluationResult:
    """One result of the results of disjoint repeats of one key (the first evaluation and its re-evaluations, in
    any order): the statistics :func:`combine` gives, the genomes of the part that holds repeat 0 (the first
    evaluation), the summed seconds; the penalty of the first failed part if one failed."""
    if len(parts) == 1:
        return parts[0]
    parts = sorted(parts, key=lambda part: part.repeats)
    first = parts[0]
    repeats = tuple(sorted(r for part in parts for r in part.repeats))
    if len(set(repeats)) != len(repeats):
        raise ValueError(f"result {first.key}: a repeat is merged twice ({list(repeats)})")
    seconds = float(sum(part.seconds for part in parts))
    failed = next((part for part in parts if part.reason is not None), None)
    if failed is not None:
        return EvaluationResult(first.key, failed.values, failed.reason, None, {}, seconds, first.evaluated, repeats)
    runs = sorted(((r, run) for part in parts for r, run in zip(part.repeats, per_repeat(part), strict=True)),
                  key=lambda pair: pair[0])
    stats = combine(first.stats, [run for _, run in runs])
    values = tuple(float(stats[name]) for name in objectives)
    return EvaluationResult(first.key, values, None, first.genome, stats, seconds, first.evaluated, repeats,
                            tuple(run for _, run in runs))


def ranked(population: Sequence[Any], objectives: Sequence[str]) -> list[Any]:
    """The individuals best first: by fitness with one objective (ties keep their order), else by Pareto front,
    then by crowding distance within a front (NSGA-II's order)."""
    if len(objectives) == 1:
        return sorted(population, key=lambda ind: ind.fitness, reverse=True)
    order = []
    for front in tools.sortNondominated(list(population), len(population)):
        tools.emo.assignCrowdingDist(front)
        order += sorted(front, key=lambda ind: -ind.fitness.crowding_dist)
    return order
