"""The plots of a run, as PNG bytes: fitness over generations, the Pareto front, the best network.

Every function returns the bytes of a PNG (matplotlib's Agg backend, no metadata that changes from run to run), so
the same run gives the same files, and the caller writes them where it wants (:func:`deepstruct.safe_files.
write_inside` in a run directory).

- :func:`fitness_png`: one panel per objective; the generation's best individual, the population's mean and a band
  from its minimum to its maximum, labelled; generations are integers; the split (validation) is named.
- :func:`pareto_png`: for two or more objectives only; the population as points and its non-dominated front (under
  the first two objectives) as a step line.
- :func:`network_png`: the network drawn from its real edges, layered by longest path; inputs (outputs) are one
  box each when there are more than ``max_units`` of them, with a line per hidden vertex whose width grows with
  the number of connections it stands for; a legend; the title gives the size (:mod:`deepstruct.genomes.size`).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

__all__ = ["fitness_png", "pareto_png", "network_png", "non_dominated", "axis_label"]

_DPI = 120
_COLOURS = {"input": "#6baed6", "hidden": "#74c476", "output": "#fd8d3c", "direct": "#9e9ac8"}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI, metadata={"Software": None})
    _pyplot().close(fig)
    return buffer.getvalue()


def axis_label(objective: str) -> str:
    """An axis label that says what an objective measures (the fitness is measured on the validation split)."""
    return {"accuracy": "validation accuracy", "loss": "validation loss", "params": "parameters",
            "edges": "hidden edges", "connections": "connections (hidden + interface edges)",
            "interface_edges": "interface edges", "vertices": "hidden vertices", "depth": "depth (hidden layers)",
            "density": "density"}.get(objective, objective)


def fitness_png(logbook: Sequence[dict[str, Any]], objectives: Sequence[str]) -> bytes:
    """Fitness over generations: best individual, population mean and a labelled min-max band per objective."""
    from matplotlib.ticker import MaxNLocator

    plt = _pyplot()
    fig, axes = plt.subplots(1, len(objectives), figsize=(5.2 * len(objectives), 3.8), squeeze=False)
    gens = [r["gen"] for r in logbook]
    for i, name in enumerate(objectives):
        ax = axes[0][i]
        mean = [r.get("avg", r.get("mean"))[i] for r in logbook]
        ax.fill_between(gens, [r["min"][i] for r in logbook], [r["max"][i] for r in logbook], alpha=0.18,
                        color="#3182bd", linewidth=0, label="population min-max")
        ax.plot(gens, mean, color="#3182bd", label="population mean")
        ax.plot(gens, [r["best"][i] for r in logbook], color="#e6550d", marker="o", ms=3,
                label="best individual" if len(objectives) == 1 else "best individual (first objective first)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("generation")
        ax.set_ylabel(axis_label(name))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("fitness on the validation split" if any(o in ("accuracy", "loss") for o in objectives)
                 else "fitness", fontsize=10)
    fig.tight_layout()
    return _png(fig)


def non_dominated(points: Sequence[tuple[float, float]], weights: tuple[float, float]) -> list[tuple[float, float]]:
    """The points no other point dominates (``weights`` +1 maximise, -1 minimise), sorted by the first value."""
    signed = sorted({(p[0] * weights[0], p[1] * weights[1]) for p in points}, key=lambda p: (-p[0], -p[1]))
    front, best_second = [], float("-inf")
    for a, b in signed:  # by the first value, best first: a point is on the front when its second beats all before
        if b > best_second:
            front.append((a * weights[0], b * weights[1]))
            best_second = b
    return sorted(front)


def pareto_png(entries: Sequence[dict[str, Any]], objectives: Sequence[str],
               weights: Sequence[float]) -> bytes | None:
    """The population and its non-dominated front under the first two objectives; ``None`` for one objective."""
    if len(objectives) < 2:
        return None
    plt = _pyplot()
    xi, yi = 1, 0  # the second objective (a size, usually) across, the first (accuracy) up
    points = [(float(d["values"][xi]), float(d["values"][yi])) for d in entries if d.get("reason") is None]
    front = non_dominated(points, (weights[xi], weights[yi]))
    fig, ax = plt.subplots(figsize=(5.4, 4.2))
    ax.scatter(*zip(*points, strict=True) if points else ([], []), s=14, alpha=0.45, color="#3182bd",
               label="evaluated individuals")
    if front:
        ax.step(*zip(*front, strict=True), where="post", color="#e6550d", marker="o", ms=4,
                label="non-dominated front")
    ax.set_xlabel(axis_label(objectives[xi]))
    ax.set_ylabel(axis_label(objectives[yi]))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def _spread(count: int) -> list[float]:
    return [0.5] if count == 1 else [0.05 + 0.9 * k / (count - 1) for k in range(count)]


def _positions(genome: Any, max_units: int) -> tuple[dict[Any, tuple[float, float]], int, bool, bool]:
    """x (layer) and y of every vertex, input unit ``("input", i)`` and output unit ``("output", j)``; the input
    and output columns collapse to one box (``("input", -1)``) when there are more than ``max_units``."""
    from deepstruct.graph.layering import compute_layers

    layers = compute_layers(genome.graph) if genome.num_vertices else {}
    depth = max(layers.values(), default=-1) + 1
    pos: dict[Any, tuple[float, float]] = {}
    by_layer: dict[int, list[Any]] = {}
    for v in sorted(layers):
        by_layer.setdefault(layers[v], []).append(v)
    for t, vs in by_layer.items():
        pos.update({v: (t + 1.0, y) for v, y in zip(vs, _spread(len(vs)), strict=True)})
    fold_in, fold_out = genome.num_inputs > max_units, genome.num_outputs > max_units
    for kind, n, x, fold in (("input", genome.num_inputs, 0.0, fold_in),
                             ("output", genome.num_outputs, depth + 1.0, fold_out)):
        if fold:
            pos[(kind, -1)] = (x, 0.5)
        else:
            pos.update({(kind, k): (x, y) for k, y in zip(range(n), _spread(n), strict=True)})
    return pos, depth, fold_in, fold_out


def _edges(genome: Any, fold_in: bool, fold_out: bool) -> dict[str, dict[tuple[Any, Any], int]]:
    """The edges to draw by kind, each with the number of connections it stands for."""
    drawn: dict[str, dict[tuple[Any, Any], int]] = {"hidden": {}, "input": {}, "output": {}, "direct": {}}
    for u, v in sorted(genome.graph.edges):
        drawn["hidden"][(u, v)] = 1
    for kind, table in (("input", genome.input_edges), ("output", genome.output_edges),
                        ("direct", genome.direct_edges)):
        for a in sorted(table):
            for b in sorted(table[a]):
                if kind == "input":  # input_edges[v][i]
                    edge = (("input", -1 if fold_in else b), a)
                elif kind == "output":  # output_edges[v][j]
                    edge = (a, ("output", -1 if fold_out else b))
                else:  # direct_edges[i][j]
                    edge = (("input", -1 if fold_in else a), ("output", -1 if fold_out else b))
                drawn[kind][edge] = drawn[kind].get(edge, 0) + 1
    return drawn


def network_png(genome: Any, *, title: str = "best network", max_units: int = 12) -> bytes:
    """The genome's network, drawn from its real edges (see the module docstring)."""
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    from deepstruct.genomes.size import genome_size

    plt = _pyplot()
    pos, depth, fold_in, fold_out = _positions(genome, max_units)
    edges = _edges(genome, fold_in, fold_out)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * (depth + 2)), 5.0))
    handles = []
    for kind in ("input", "direct", "output", "hidden"):
        if not edges[kind]:
            continue
        segments = [(pos[a], pos[b]) for a, b in edges[kind]]
        widths = [0.4 + 0.6 * min(count, 64) ** 0.5 for count in edges[kind].values()]
        ax.add_collection(LineCollection(segments, colors=_COLOURS[kind], linewidths=widths, alpha=0.55))
        handles.append(Line2D([], [], color=_COLOURS[kind], label=f"{kind} edges ({sum(edges[kind].values()):,})"))
    for kind, marker, size in (("input", "s", 40), ("hidden", "o", 36), ("output", "D", 40)):
        units = [p for v, p in sorted(pos.items(), key=str)
                 if (isinstance(v, tuple) and v[0] == kind) or (kind == "hidden" and not isinstance(v, tuple))]
        folded = (kind == "input" and fold_in) or (kind == "output" and fold_out)
        n = {"input": genome.num_inputs, "output": genome.num_outputs, "hidden": genome.num_vertices}[kind]
        if units:
            ax.scatter(*zip(*units, strict=True), s=size * (6 if folded else 1), marker=marker, zorder=3,
                       color=_COLOURS[kind], edgecolors="black", linewidths=0.4)
        if folded:
            x, y = pos[(kind, -1)]
            ax.annotate(f"{n} {kind}s", (x, y), xytext=(0, -16), textcoords="offset points", ha="center",
                        fontsize=8)
        handles.append(Line2D([], [], marker=marker, linestyle="", color=_COLOURS[kind], markeredgecolor="black",
                              label=f"{kind} {'units' if kind != 'hidden' else 'vertices'} ({n:,})"))
    ax.set_xlim(-0.5, depth + 1.5)
    ax.set_ylim(-0.08, 1.08)
    ax.axis("off")
    ax.legend(handles=handles, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.01), ncol=4, frameon=False)
    ax.set_title(f"{title}: {genome_size(genome).describe()}", fontsize=9)
    fig.tight_layout()
    return _png(fig)
