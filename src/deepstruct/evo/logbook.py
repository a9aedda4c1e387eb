"""The statistics of a generation and ``logbook.csv``.

A generation's record holds DEAP's statistics of every objective over the population (``avg``, ``std``, ``min``,
``max``; ``mean`` is kept as a synonym of ``avg`` for older readers), the fitness of the generation's best
individual (``best``, used by the progress line), and the size statistics of the evaluated networks
(:mod:`deepstruct.genomes.size`: ``size_vertices``, ``size_hidden_edges``, ``size_interface_edges``,
``size_connections``, ``size_params``, ``size_depth``, each ``[avg, min, max]``; individuals with a penalty have
no size and are left out).

``logbook.csv`` has one row per generation: ``gen``, ``nevals`` (new evaluations: a child isomorphic to an
individual evaluated in an earlier generation is ``cached``, not evaluated again), ``cached``, ``penalties``,
``reevals`` (in a run with ``algorithm.reevaluate``: survivors given one more training repeat), then
``avg_/std_/min_/max_<objective>`` for every objective and ``avg_/min_/max_<size>`` for every size count.
Values are rounded for reading (four significant digits past the decimal point for fractions, one decimal for
averages of counts); the checkpoint keeps them exact.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from deepstruct.genomes.size import SIZE_FIELDS

__all__ = ["generation_record", "logbook_csv", "STATISTICS", "SIZE_STATISTICS"]

#: The statistics of every objective, as DEAP's ``tools.Statistics`` names them.
STATISTICS = ("avg", "std", "min", "max")
#: The statistics of every size count.
SIZE_STATISTICS = ("avg", "min", "max")


def generation_record(generation: int, counts: dict[str, int], population: Sequence[Any]) -> dict[str, Any]:
    """The logbook record of a generation just completed.

    Parameters
    ----------
    generation : int
        Its number (0 for the initial population).
    counts : dict
        ``nevals``, ``cached`` and ``penalties`` of the generation (and ``reevals``, if the run re-evaluates).
    population : sequence of Individual
        The population after selection (each with ``fitness`` and ``stats``).
    """
    values = np.array([ind.fitness.values for ind in population], dtype=float)
    best = max(population, key=lambda ind: ind.fitness).fitness.values
    record: dict[str, Any] = {"gen": generation, **counts, "best": [float(v) for v in best]}
    for name, fn in (("avg", np.mean), ("std", np.std), ("min", np.min), ("max", np.max)):
        record[name] = [float(v) for v in fn(values, axis=0)]
    record["mean"] = record["avg"]
    sized = [ind.stats for ind in population if getattr(ind, "reason", None) is None and ind.stats]
    for name in SIZE_FIELDS:  # flat keys: DEAP's Logbook moves a dict value into a chapter of its own
        column = [float(s[name]) for s in sized if name in s]
        if column:
            record[f"size_{name}"] = [float(np.mean(column)), float(min(column)), float(max(column))]
    return record


def _rounded(value: Any, *, count: bool = False) -> Any:
    """A value as a reader wants it: an int stays an int, a count's average gets one decimal, a fraction four."""
    if value is None or isinstance(value, str):
        return "" if value is None else value
    value = float(value)
    if not math.isfinite(value):
        return str(value)
    if value == int(value) and abs(value) < 2**53:
        return int(value)
    if count or abs(value) >= 100:
        return round(value, 1)
    return float(f"{value:.4f}") if abs(value) >= 1e-4 else float(f"{value:.4g}")


def logbook_csv(logbook: Sequence[dict[str, Any]], objectives: Sequence[str]) -> str:
    """``logbook.csv``'s text for a run's logbook (records of :func:`generation_record` or of older runs, which
    have ``mean`` instead of ``avg`` and no ``std`` or sizes: those cells stay empty)."""
    counts = ["gen", "nevals", "cached", "penalties"] + (["reevals"] if any("reevals" in r for r in logbook) else [])
    sizes = [name for name in SIZE_FIELDS  # a size that is an objective has its statistics there already
             if name not in objectives and any(f"size_{name}" in r for r in logbook)]
    header = counts + [f"{s}_{o}" for o in objectives for s in STATISTICS]
    header += [f"{s}_{name}" for name in sizes for s in SIZE_STATISTICS]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for record in logbook:
        row = [_rounded(record.get(c)) for c in counts]
        for i in range(len(objectives)):
            for stat in STATISTICS:
                column = record.get(stat, record.get("mean") if stat == "avg" else None)
                row.append(_rounded(column[i] if isinstance(column, list) and i < len(column) else None))
        for name in sizes:
            triple = record.get(f"size_{name}") or [None] * len(SIZE_STATISTICS)
            row.extend(_rounded(v, count=True) for v in triple)
        writer.writerow(row)
    return out.getvalue()
