"""How much of a run's fitness the surrogate's graph descriptors explain: held-out R^2 on journalled genomes.

    python benchmarks/bench_surrogate.py RUN_DIR [RUN_DIR ...]
    python benchmarks/bench_surrogate.py --task mnist1d --seconds 120 [--seeds 0 1 2]   (fresh default runs)

For every run directory (or fresh default run) the journal's evaluated genomes and their validation accuracy
(penalties left out) are the data; the R^2 of :class:`deepstruct.evo.surrogate.Surrogate` is measured by 5-fold
cross validation (:func:`deepstruct.evo.surrogate.held_out_r2`). In a Lamarckian run a child's accuracy depends on
its parent's training as much as on its structure, so the descriptors alone explain less there; the R^2 of a
Baldwinian run (``--set training.mode="baldwinian"``) is printed for comparison when runs are made fresh.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from deepstruct.evo.config import RunConfig
from deepstruct.evo.journal_codec import unpack_result
from deepstruct.evo.persistence import read_journal
from deepstruct.evo.run import EvolutionRun
from deepstruct.evo.surrogate import held_out_r2
from deepstruct.genomes import Genome, GenomeLimits


def journal_data(run_dir: Path) -> tuple[list[Genome], list[float]]:
    """The evaluated genomes of a run directory's journal and their first objective (penalties left out)."""
    limits = GenomeLimits(max_vertices=100_000, max_edges=10_000_000)
    genomes, values = [], []
    for record in read_journal(run_dir / "journal.jsonl"):
        if record.get("type") != "result":
            continue
        result = unpack_result(record["result"])
        if result.get("reason") is None and result.get("evaluated") is not None:
            genomes.append(Genome.from_dict(result["evaluated"], limits=limits))
            values.append(float(result["values"][0]))
    return genomes, values


def fresh(task: str, seconds: float, seed: int, overrides: dict) -> tuple[list[Genome], list[float]]:
    config = RunConfig().override({**overrides, "task.name": task, "seed": seed, "evaluator.kind": "serial",
                                   "algorithm.generations": 100_000, "algorithm.max_seconds": seconds})
    with tempfile.TemporaryDirectory() as tmp:
        EvolutionRun(config, Path(tmp) / "run").run(report=False)
        return journal_data(Path(tmp) / "run")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", nargs="*", type=Path)
    parser.add_argument("--task", default="mnist1d")
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args()
    if args.runs:
        for run_dir in args.runs:
            genomes, values = journal_data(run_dir)
            print(f"{run_dir}: {len(genomes)} genomes, R^2 {held_out_r2(genomes, values):.3f}")
        return
    for mode in ("lamarckian", "baldwinian"):
        scores = []
        for seed in args.seeds:
            start = time.perf_counter()
            genomes, values = fresh(args.task, args.seconds, seed, {"training.mode": mode})
            scores.append(held_out_r2(genomes, values, seed=seed))
            print(json.dumps({"mode": mode, "seed": seed, "genomes": len(genomes), "r2": round(scores[-1], 3),
                              "spread": round(float(np.std(values)), 4),
                              "seconds": round(time.perf_counter() - start, 1)}), flush=True)
        print(f"{args.task}, {mode}, {args.seconds:.0f} s runs: held-out R^2 {np.mean(scores):.3f} "
              f"± {np.std(scores):.3f} over seeds {args.seeds}")


if __name__ == "__main__":
    main()
