"""Search quality at equal wall time: every search method against random search of the same space.

    python benchmarks/bench_search_quality.py [--tasks digits mnist1d] [--compare search]
        [--seconds 120] [--seeds 0 1 2 3 4] [--jobs 2] [--plot search.png] [--set key=value ...]

Every run gets the same time (``--seconds``, one CPU thread, the serial evaluator with batched training,
``algorithm.max_seconds``; ``--clock cpu``, the default, counts the run's own CPU time, which is its wall time on an
idle machine and stays fair when other jobs share the cores) and does as many evaluations as it manages in it, from
the run's defaults (``--set`` overrides them for every method). A method is selected by validation accuracy; the
table shows the *test* accuracy and parameters of the selected network, mean ± standard deviation over the run
seeds, the evaluations, and the difference to random search of the same space with its spread (a method wins only
when the difference is beyond one standard deviation of the per-seed differences). A run stops after the
generation that passes the budget, so a method of long generations (random search: founders that train the full
schedule) gets more time than one of short generations; a second line shows every method as of the budget (the
best of the generations that ended by then), and a third what selection could have picked: the best test accuracy
of any evaluated network, the mean test accuracy of the ten best by validation, the validation-test correlation.
For NSGA-II (accuracy, parameters), the hypervolume of its Pareto front measured in (test accuracy,
1 - parameters / reference) against random search with the same two objectives, seed by seed. A dense MLP (two
hidden layers of 100) trained with the run's recipe is printed as the reference line, and ``--plot`` saves the
best-so-far validation and test accuracy against time per method (mean over seeds).

Comparisons (``--compare``):

- ``search``: GA, aging, asynchronous aging, NSGA-II and random search, all from the defaults.
- ``default``: the default search against random search (for the long runs the issue asks for), and against
  random search that samples 8 networks per generation instead of 24 (its generations end closer to the budget,
  at some cost in batching).
- ``stall``: the default search (GA), aging evolution and the GA re-evaluating its two best survivors, against
  random search (which of them keeps improving in long runs, where the GA's lucky elite stops it).
- ``pareto``: NSGA-II on (accuracy, parameters), with and without magnitude pruning of a random share of a
  trained parent's connections as a mutation (``mut_prune_fraction``), against random search, by hypervolume;
  and the GA with that mutation.
- ``recipe``: the default search and random search, and random search without weight decay (whether the
  training recipe favours one method).
- ``modes``: the default search in Lamarckian (children go on training), Baldwinian and no-inheritance mode.
- ``noise``: fitness noise control: one training seed per candidate against three, and against one seed whose
  two best survivors get one more training repeat per generation (``algorithm.reevaluate = 2``, up to
  ``algorithm.max_repeats`` repeats each: the elites' fitness becomes a mean while children cost one training).
- ``options``: the default search against itself with three training seeds, with the surrogate screening four
  mutants per child, and with successive halving at epoch 5 (and random search).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from bench_surrogate import journal_data

from deepstruct.evo.config import RunConfig
from deepstruct.evo.persistence import read_journal
from deepstruct.evo.run import EvolutionRun
from deepstruct.evo.surrogate import held_out_r2

NSGA = {"algorithm.name": "nsga2", "training.objectives": ["accuracy", "params"]}
PRUNE = {"algorithm.mutations.mut_prune_fraction": 1.0}
COMPARISONS: dict[str, dict[str, dict[str, Any]]] = {
    "search": {
        "GA": {"algorithm.name": "ga"},
        "aging": {"algorithm.name": "aging"},
        "aging, asynchronous": {"algorithm.name": "aging", "algorithm.asynchronous": True},
        "NSGA-II": NSGA,
        "random": {"algorithm.name": "random"},
        "random, 2 objectives": {"algorithm.name": "random", "training.objectives": ["accuracy", "params"]},
    },
    "default": {"default search": {}, "random": {"algorithm.name": "random"},
                "random, 8 per generation": {"algorithm.name": "random", "algorithm.offspring": 8}},
    "stall": {"default search": {}, "aging": {"algorithm.name": "aging"},
              "re-evaluate 2 survivors": {"algorithm.reevaluate": 2}, "random": {"algorithm.name": "random"}},
    "pareto": {"NSGA-II": NSGA, "NSGA-II, prune fraction": {**NSGA, **PRUNE},
               "GA, prune fraction": PRUNE,
               "random, 2 objectives": {"algorithm.name": "random", "training.objectives": ["accuracy", "params"]}},
    "recipe": {"default search": {}, "random": {"algorithm.name": "random"},
               "random, no weight decay": {"algorithm.name": "random", "training.weight_decay": 0.0}},
    "modes": {"lamarckian": {"training.mode": "lamarckian"}, "baldwinian": {"training.mode": "baldwinian"},
              "none": {"training.mode": "none"}, "random": {"algorithm.name": "random"}},
    "noise": {"1 training seed": {"training.seeds": 1}, "3 training seeds": {"training.seeds": 3},
              "re-evaluate 2 survivors": {"algorithm.reevaluate": 2}, "random": {"algorithm.name": "random"}},
    "options": {"default search": {}, "3 training seeds": {"training.seeds": 3},
                "surrogate screen 4": {"algorithm.screen": 4},
                "halving at epoch 5": {"training.halving_epoch": 5}, "random": {"algorithm.name": "random"}},
}
#: the baseline of each method (same space, same objectives)
#: (random search's best by validation accuracy is the same network whether it keeps one objective or two: the
#: most accurate network is on the Pareto front, and the samples do not depend on the objectives)
BASELINE = {"NSGA-II": "random, 2 objectives", "NSGA-II, prune fraction": "random, 2 objectives",
            "GA, prune fraction": "random, 2 objectives"}


def evolve(config: RunConfig) -> dict[str, Any]:
    """One run; its best-by-validation network, its evaluations and a trace of the best so far."""
    start = time.perf_counter()
    trace: list[tuple[float, float, float, int]] = []

    def record(run: EvolutionRun) -> None:
        best = max(run.hall_of_fame, key=lambda ind: ind.fitness.values[0]).stats
        trace.append((time.perf_counter() - start, float(best["accuracy"]), float(best["test_accuracy"]),
                      run.evaluations))

    with tempfile.TemporaryDirectory() as tmp:
        run = EvolutionRun(config, Path(tmp) / "run")
        run.on_generation = record
        run.run(report=False)
        seconds = time.perf_counter() - start
        genomes, values = journal_data(Path(tmp) / "run")
        scores = journal_scores(Path(tmp) / "run")
    r2 = held_out_r2(genomes, values, seed=config.seed) if len(genomes) >= 20 else float("nan")
    members = list(run.hall_of_fame)
    best = max(members, key=lambda ind: ind.fitness.values[0]).stats
    front = [(float(ind.stats["test_accuracy"]), float(ind.stats["params"])) for ind in members if ind.stats]
    return {"accuracy": float(best["accuracy"]), "test_accuracy": float(best["test_accuracy"]),
            "params": float(best["params"]), "evals": run.evaluations, "seconds": seconds,
            "trace": trace, "front": front, "surrogate_r2": r2, **ceiling(scores)}


def journal_scores(run_dir: Path) -> list[tuple[float, float]]:
    """(validation, test) accuracy of every journalled training (each repeat of a re-evaluated one apart)."""
    scores = []
    for record in read_journal(run_dir / "journal.jsonl"):
        stats = record.get("result", {}).get("stats") if record.get("type") == "result" else None
        if stats and "test_accuracy" in stats:
            scores.append((float(stats["accuracy"]), float(stats["test_accuracy"])))
    return scores


def ceiling(scores: list[tuple[float, float]]) -> dict[str, float]:
    """What selection by validation could have picked: the best test accuracy among all evaluated networks, the
    mean test accuracy of the 10 best by validation and the validation-test correlation."""
    if len(scores) < 3:
        return {"best_test_seen": float("nan"), "top10_test": float("nan"), "val_test_r": float("nan")}
    val, test = np.array(scores).T
    top = np.argsort(-val, kind="stable")[:10]
    return {"best_test_seen": float(test.max()), "top10_test": float(test[top].mean()),
            "val_test_r": float(np.corrcoef(val, test)[0, 1])}


def dense_reference(task: str, overrides: dict[str, Any]) -> dict[str, float]:
    """A dense MLP (two hidden layers of 100) trained with the run's recipe: mean test accuracy over 3 seeds."""
    from deepstruct.evo.fitness import evaluate_requests
    from deepstruct.evo.protocol import EvaluationRequest
    from deepstruct.evo.tasks import load_task
    from deepstruct.genomes import Genome, GenomeLimits

    config = RunConfig().override({**overrides, "task.name": task})
    data_task = load_task(config.task, seed=0)
    widths = [100, 100]
    edges = [(a, 100 + b) for a in range(100) for b in range(100)]
    limits = GenomeLimits(max_vertices=1000, max_edges=100_000)
    genome = Genome(data_task.num_inputs, data_task.num_classes, vertices=range(sum(widths)), edges=edges,
                    limits=limits)
    training = dataclasses.replace(config.training, seeds=3, mode="baldwinian", prune_amount=0.0,
                                   objectives=("accuracy",))
    result = evaluate_requests([EvaluationRequest("mlp", genome.to_dict(), 0, training, limits)],
                               data_task.arrays())[0]
    return {"test_accuracy": float(result.stats["test_accuracy"]), "params": float(result.stats["params"])}


def hypervolume(front: list[tuple[float, float]], reference_params: float) -> float:
    """Area dominated by ``(test accuracy, parameters)`` points in (accuracy, 1 - params / reference), from
    (0, 0): both maximised."""
    points = sorted({(a, max(0.0, 1.0 - p / reference_params)) for a, p in front}, reverse=True)
    area, best_y = 0.0, 0.0
    for a, y in points:  # by accuracy, highest first: each point adds the strip its y rises above the others
        if y > best_y:
            area += a * (y - best_y)
            best_y = y
    return area


def one(job: tuple[str, str, int, float, dict[str, Any], str]) -> tuple[str, str, int, dict[str, Any]]:
    import torch

    torch.set_num_threads(1)
    method, task, seed, seconds, overrides, clock = job
    if clock == "cpu":  # this process's CPU time: what one dedicated thread would have had, whatever else runs
        time.monotonic = time.perf_counter = time.process_time  # type: ignore[assignment]
    config = RunConfig().override({**overrides, "evaluator.kind": "serial", "seed": seed, "task.name": task,
                                   "algorithm.generations": 100_000, "algorithm.max_seconds": seconds})
    result = evolve(config)
    within = [point for point in result["trace"] if point[0] <= seconds]  # generations that ended in the budget
    result["test_in_budget"] = within[-1][2] if within else float("nan")
    result["evals_in_budget"] = within[-1][3] if within else 0
    return method, task, seed, result


def _stats(values: list[float]) -> str:
    return f"{np.mean(values):.4f} ± {np.std(values):.4f}"


def _versus(found: dict[int, Any], base: dict[int, Any], key: str) -> str:
    """The mean difference of ``key`` to a baseline, seed by seed, with its spread and whether it wins."""
    diff = [found[s][key] - base[s][key] for s in sorted(found) if s in base]
    if not diff:
        return ""
    wins = "" if len(diff) < 2 else (" (wins)" if np.mean(diff) > np.std(diff) else " (no win)")
    return f"{np.mean(diff):+.4f} ± {np.std(diff):.4f}{wins}"


def report(rows: list[tuple[str, str, int, dict[str, Any]]], methods: dict[str, Any], tasks: list[str],
           references: dict[str, dict[str, float]]) -> None:
    for task in tasks:
        ref = references[task]
        print(f"\n{task}: dense MLP 100-100 with the same recipe: test {ref['test_accuracy']:.4f} "
              f"({ref['params']:.0f} parameters)")
        print(f"  {'method':22s} {'test acc':>17s} {'vs random':>17s} {'params':>13s} {'evals':>11s}  surrogate "
              "R2 (held out)   per seed")
        runs = {method: {s: r for m, t, s, r in rows if (m, t) == (method, task)} for method in methods}
        for method in methods:
            report_method(method, runs, ref)


def report_method(method: str, runs: dict[str, dict[int, Any]], ref: dict[str, float]) -> None:
    """A method's rows: as run, within the budget (against every random search of the same objectives), ceiling."""
    found, seeds = runs[method], sorted(runs[method])
    if method.startswith("random"):
        randoms = []
    elif method in BASELINE:
        randoms = [BASELINE[method]]
    else:  # every single-objective random search of the comparison
        randoms = [m for m in runs if m.startswith("random") and m not in BASELINE.values()]
    base = runs.get(randoms[0], {}) if randoms else {}
    test = [found[s]["test_accuracy"] for s in seeds]
    params = [found[s]["params"] for s in seeds]
    evals = [found[s]["evals"] for s in seeds]
    r2 = np.nanmean([found[s]["surrogate_r2"] for s in seeds])
    print(f"  {method:22s} {_stats(test)} {_versus(found, base, 'test_accuracy'):>26s} {np.mean(params):6.0f} ± "
          f"{np.std(params):5.0f} {np.mean(evals):5.0f} ± {np.std(evals):3.0f}  R2 {r2:5.2f}   "
          + " ".join(f"{v:.3f}" for v in test))
    versus = "".join(f", vs {m} {_versus(found, runs[m], 'test_in_budget')}" for m in randoms if runs.get(m))
    print(f"  {'':22s} within the budget (the best of the generations that ended by then): test "
          f"{_stats([found[s]['test_in_budget'] for s in seeds])}{versus}, "
          f"{np.mean([found[s]['evals_in_budget'] for s in seeds]):.0f} evaluations")
    print(f"  {'':22s} ceiling: best test among all evaluated {_stats([found[s]['best_test_seen'] for s in seeds])}, "
          f"test of the 10 best by validation {_stats([found[s]['top10_test'] for s in seeds])}, validation-test r "
          f"{np.nanmean([found[s]['val_test_r'] for s in seeds]):.2f}")
    if method.startswith("NSGA-II"):  # the two-objective searches
        reference = 2 * ref["params"]
        mine = [hypervolume(found[s]["front"], reference) for s in seeds]
        theirs = [hypervolume(base[s]["front"], reference) for s in seeds if s in base]
        better = sum(a > b for a, b in zip(mine, theirs, strict=False))
        print(f"  {'':22s} hypervolume (test accuracy, 1 - params/{reference:.0f}): {_stats(mine)} against "
              f"random {_stats(theirs)}; higher in {better} of {len(theirs)} seeds")


def plot(rows: list[tuple[str, str, int, dict[str, Any]]], methods: dict[str, Any], tasks: list[str],
         path: Path, clock: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(tasks), figsize=(6 * len(tasks), 4), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        for method in methods:
            traces = [r["trace"] for m, t, _, r in rows if (m, t) == (method, task) and r["trace"]]
            if not traces:
                continue
            grid = np.linspace(0, max(tr[-1][0] for tr in traces), 100)
            curves = np.array([np.interp(grid, [p[0] for p in tr], [p[2] for p in tr], left=np.nan) for tr in traces])
            started = ~np.isnan(curves).all(axis=0)  # before its first generation ends a method has no best yet
            ax.plot(grid[started], np.nanmean(curves[:, started], axis=0), label=method)
        ax.set_title(f"{task}: test accuracy of the best by validation")
        ax.set_xlabel(f"{clock} time (s, one thread)")
        ax.set_ylabel("test accuracy (mean over seeds)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"\nplot: {path}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", nargs="+", default=["digits", "mnist1d"])
    parser.add_argument("--compare", default="search", choices=list(COMPARISONS))
    parser.add_argument("--seconds", type=float, default=120.0, help="wall time of every run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--jobs", type=int, default=2, help="runs in parallel processes (one thread each)")
    parser.add_argument("--clock", choices=["cpu", "wall"], default="cpu",
                        help="what --seconds counts: each run's own CPU time (fair on shared cores; equal to wall "
                             "time on an idle machine) or wall time")
    parser.add_argument("--methods", nargs="+", help="only these methods of the comparison")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="overrides for every run (JSON)")
    parser.add_argument("--plot", type=Path, help="save best-so-far against wall time here")
    parser.add_argument("--json", type=Path, help="save every run's row here")
    args = parser.parse_args()
    common = {k: json.loads(v) for k, v in (item.split("=", 1) for item in args.set)}
    methods = {m: o for m, o in COMPARISONS[args.compare].items() if not args.methods or m in args.methods}
    jobs = [(m, t, s, args.seconds, {**common, **o}, args.clock)
            for t in args.tasks for s in args.seeds for m, o in methods.items()]
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        rows = list(pool.map(one, jobs))
        references = dict(zip(args.tasks, pool.map(dense_reference, args.tasks, [common] * len(args.tasks)),
                              strict=True))
    training = RunConfig().override(common).training
    print(f"{args.compare}: {args.seconds:.0f} s ({args.clock} time) per run, one thread each, {args.jobs} in "
          f"parallel, run seeds {args.seeds}; {training.epochs} epochs x {training.seeds} seeds per candidate "
          f"(mode {training.mode}, children {training.child_epochs or training.epochs} epochs); "
          f"overrides {common or 'none'}; "
          f"mean ± std over seeds; {time.perf_counter() - started:.0f} s in all")
    report(rows, methods, args.tasks, references)
    if args.json:
        args.json.write_text(json.dumps([{"method": m, "task": t, "seed": s, **r} for m, t, s, r in rows]))
    if args.plot:
        plot(rows, methods, args.tasks, args.plot, args.clock)


if __name__ == "__main__":
    main()
