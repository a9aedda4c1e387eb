"""Reports of a run directory: ``logbook.csv``, the best genomes (JSON, GraphML), a trained best model and PNG plots.

Everything is computed from ``checkpoint.json`` (so ``deepstruct report RUN_DIR`` works on any run, finished or
not). Plots use matplotlib's Agg backend.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from deepstruct.evo import persistence as files
from deepstruct.evo.config import ConfigError, RunConfig
from deepstruct.evo.fitness import decode_member, train_genome
from deepstruct.evo.protocol import individual_seed
from deepstruct.evo.store import validate_checkpoint
from deepstruct.evo.tasks import load_task
from deepstruct.genomes import Genome, save_graphml, save_json

__all__ = ["write_report", "summary_lines", "MODEL_FORMAT"]

MODEL_FORMAT = "deepstruct.model"


def _load(run_dir: Path) -> dict[str, Any]:
    if not (run_dir / files.CHECKPOINT).is_file():
        raise ConfigError(f"{run_dir} has no {files.CHECKPOINT} (not a run directory, or no generation finished)")
    try:
        data = files.read_json(run_dir / files.CHECKPOINT)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return validate_checkpoint(data, run_dir / files.CHECKPOINT)


def _write_logbook(run_dir: Path, logbook: list[dict[str, Any]], objectives: list[str]) -> None:
    columns = ["gen", "nevals", "cached", "penalties"]
    with open(run_dir / "logbook.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns + [f"{s}_{o}" for o in objectives for s in ("best", "mean", "min", "max")])
        for r in logbook:
            row = [r.get(c) for c in columns]
            for i in range(len(objectives)):
                row.extend(r[s][i] for s in ("best", "mean", "min", "max"))
            writer.writerow(row)


def _ranked(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The hall of fame (best first; for several objectives, the Pareto front sorted by the first objective)."""
    return list(data["hall_of_fame"])


def _save_best(run_dir: Path, data: dict[str, Any]) -> list[Path]:
    best_dir = run_dir / "best"
    best_dir.mkdir(exist_ok=True)
    written = []
    for rank, entry in enumerate(_ranked(data)):
        genome = Genome.from_dict(entry["genome"])
        stem = best_dir / f"genome_{rank:02d}"
        save_json(genome, stem.with_suffix(".json"))
        save_graphml(genome, stem.with_suffix(".graphml"))
        written.append(stem.with_suffix(".json"))
    return written


def _save_model(run_dir: Path, data: dict[str, Any], task: Any = None, allow_import: bool = False) -> Path | None:
    """Save the model of the best genome's fitness for ``extract``.

    The best genome of a Lamarckian run is the trained, pruned network of its evaluation re-encoded: decoding
    it gives that network (the same function), so it is saved as it is, and its extracted graph is the
    genome's graph. Otherwise the genome holds no weights: it is retrained with its own seed (the result equals
    its evaluation), pruned as the run prunes.
    """
    import json

    import torch

    best = _ranked(data)[0]
    if best.get("reason") is not None or best.get("key") is None:
        return None
    config = RunConfig.from_dict(data["config"])
    seed = individual_seed(config.seed, best["key"])
    if config.training.mode == "lamarckian":
        model = decode_member(Genome.from_dict(best["genome"], limits=config.genome.limits()), seed, config.training)
    else:
        if task is None:
            task = load_task(config.task, seed=config.seed, allow_import=allow_import)
        model, _ = train_genome(best["genome"], seed, task.arrays(), config.training, config.genome.limits())
    path = run_dir / "best_model.pt"
    torch.save({"format": MODEL_FORMAT, "version": 1, "genome": json.dumps(best["genome"]),
                "phenotype": config.training.phenotype, "state_dict": model.state_dict()}, path)
    return path


def _plots(run_dir: Path, data: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    objectives = data["objectives"]
    logbook = data["logbook"]
    gens = [r["gen"] for r in logbook]
    fig, axes = plt.subplots(1, len(objectives), figsize=(5 * len(objectives), 3.6), squeeze=False)
    for i, name in enumerate(objectives):
        ax = axes[0][i]
        ax.plot(gens, [r["best"][i] for r in logbook], label="best individual", marker="o", ms=3)
        ax.plot(gens, [r["mean"][i] for r in logbook], label="mean")
        ax.fill_between(gens, [r["min"][i] for r in logbook], [r["max"][i] for r in logbook], alpha=0.15)
        ax.set_xlabel("generation")
        ax.set_ylabel(name)
        ax.legend()
    fig.tight_layout()
    fig.savefig(run_dir / "fitness.png", dpi=110)
    plt.close(fig)

    population = [d for d in data["strategy"]["population"] if d.get("reason") is None]
    front = [d for d in data["hall_of_fame"] if d.get("reason") is None]
    x_name, y_name = (objectives[1], objectives[0]) if len(objectives) > 1 else ("params", "accuracy")

    def point(d: dict[str, Any], name: str) -> float:
        return float(d["values"][objectives.index(name)]) if name in objectives else float(d["stats"].get(name, 0))

    fig, ax = plt.subplots(figsize=(5, 4))
    ax.scatter([point(d, x_name) for d in population], [point(d, y_name) for d in population], s=14, alpha=0.5,
               label="population")
    pts = sorted((point(d, x_name), point(d, y_name)) for d in front)
    if pts:
        ax.plot(*zip(*pts, strict=True), "r-o", ms=4, label="hall of fame" if len(objectives) == 1 else "Pareto front")
    ax.set_xlabel(x_name)
    ax.set_ylabel(y_name)
    ax.legend()
    fig.tight_layout()
    fig.savefig(run_dir / "pareto.png", dpi=110)
    plt.close(fig)

    _draw_best(run_dir, data, plt)


def _draw_best(run_dir: Path, data: dict[str, Any], plt: Any) -> None:
    import networkx as nx

    genome = Genome.from_dict(_ranked(data)[0]["genome"])
    g = nx.DiGraph(genome.graph.edges)
    g.add_nodes_from(genome.graph.nodes)
    layers: dict[Any, int] = {}
    for v in nx.topological_sort(g):
        layers[v] = max((layers[u] + 1 for u in g.predecessors(v)), default=0)
    ins, outs = min(genome.num_inputs, 16), min(genome.num_outputs, 16)
    for i in range(ins):
        g.add_node(("in", i))
    for o in range(outs):
        g.add_node(("out", o))
    depth = max(layers.values(), default=0) + 1
    for v in genome.sources():
        g.add_edges_from((("in", i), v) for i in range(ins))
    for v in genome.sinks():
        g.add_edges_from((v, ("out", o)) for o in range(outs))
    subset = {v: (0 if isinstance(v, tuple) and v[0] == "in" else depth + 1 if isinstance(v, tuple)
                  else layers[v] + 1) for v in g.nodes}
    nx.set_node_attributes(g, subset, "subset")
    pos = nx.multipartite_layout(g, subset_key="subset")
    fig, ax = plt.subplots(figsize=(8, 5))
    colours = ["#9ecae1" if isinstance(v, tuple) and v[0] == "in" else "#fdae6b" if isinstance(v, tuple)
               else "#74c476" for v in g.nodes]
    nx.draw_networkx(g, pos, ax=ax, node_size=60, node_color=colours, with_labels=False, width=0.3, arrowsize=5,
                     alpha=0.9)
    ax.set_title(f"best network: {genome.num_vertices} vertices, {genome.num_edges} edges "
                 f"(inputs/outputs shown up to 16)")
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(run_dir / "best_network.png", dpi=110)
    plt.close(fig)


def summary_lines(run_dir: str | Path) -> list[str]:
    """A few lines describing a run (from its checkpoint)."""
    run_dir = Path(run_dir)
    data = _load(run_dir)
    objectives = data["objectives"]
    best = _ranked(data)[0]
    values = ", ".join(f"{n}={v:.4g}" for n, v in zip(objectives, best["values"], strict=True))
    stats = best.get("stats") or {}
    state = "finished" if data.get("finished") else "in progress"
    lines = [f"run {run_dir} ({state}): generation {data['generation']}, {data['evaluations']} evaluations",
             f"best: {values}"]
    if stats:
        lines.append(f"best: test accuracy {stats.get('test_accuracy', float('nan')):.4f}, "
                     f"{int(stats.get('params', 0))} parameters, {int(stats.get('edges', 0))} edges, "
                     f"depth {int(stats.get('depth', 0))}")
    penalties = [d for d in data["strategy"]["population"] if d.get("reason")]
    if penalties:
        lines.append(f"{len(penalties)} of the population have penalties, e.g. {penalties[0]['reason']}")
    return lines


def write_report(run_dir: str | Path, *, model: bool = True, task: Any = None,
                 allow_import: bool = False) -> list[str]:
    """Write ``logbook.csv``, ``best/genome_XX.{json,graphml}``, ``best_model.pt`` and the plots; return a summary.

    ``best_model.pt`` needs the task's data: ``task`` (a :class:`deepstruct.evo.tasks.Task`), else the task the
    run's config names — a user task (``module:function``) only with ``allow_import=True`` (a run directory
    never makes deepstruct import code by itself).
    """
    run_dir = Path(run_dir)
    data = _load(run_dir)
    _write_logbook(run_dir, data["logbook"], data["objectives"])
    _save_best(run_dir, data)
    if model:
        _save_model(run_dir, data, task, allow_import)
    _plots(run_dir, data)
    return summary_lines(run_dir)
