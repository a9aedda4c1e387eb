"""Reports of a run directory: ``logbook.csv``, the best genomes (JSON, GraphML), a trained best model and PNG plots.

Everything is computed from ``checkpoint.json`` (so ``deepstruct report RUN_DIR`` works on any run, finished or
not). A report holds the run directory's lock (it never writes beside a live run or another report), writes
every file with :func:`deepstruct.safe_files.write_inside` (never through a symlink) and checks the checkpoint's
genomes with the strict loader first. ``best_model.pt`` is reused when it holds the best genome already (training
it again only when asked). Statistics: :mod:`deepstruct.evo.logbook`; plots: :mod:`deepstruct.evo.plots`; sizes:
:mod:`deepstruct.genomes.size`.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from deepstruct.evo import persistence as files
from deepstruct.evo.config import ConfigError, RunConfig
from deepstruct.evo.extract import MODEL_FORMAT, load_model_file
from deepstruct.evo.fitness import decode_member, train_genome
from deepstruct.evo.logbook import logbook_csv
from deepstruct.evo.protocol import individual_seed
from deepstruct.evo.store import lock_run_dir, validate_checkpoint
from deepstruct.evo.tasks import load_task
from deepstruct.genomes import Genome
from deepstruct.safe_files import UnsafeFileError, write_inside

__all__ = ["write_report", "summary_lines", "MODEL_FORMAT"]



def _load(run_dir: Path) -> dict[str, Any]:
    if not (run_dir / files.CHECKPOINT).is_file():
        raise ConfigError(f"{run_dir} has no {files.CHECKPOINT} (not a run directory, or no generation finished)")
    try:
        data = files.read_json(run_dir / files.CHECKPOINT)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    data = validate_checkpoint(data, run_dir / files.CHECKPOINT)
    _check_genomes(data, run_dir / files.CHECKPOINT)
    return data


def _check_genomes(data: dict[str, Any], where: Path) -> None:
    """Refuse a checkpoint whose config or hall of fame does not load (a genome with a cycle, ids out of range):
    a resealed checkpoint is as untrusted as any file."""
    from deepstruct.genomes import Genome, GenomeError

    try:
        limits = RunConfig.from_dict(data["config"]).genome.limits()
        if not data["hall_of_fame"]:
            raise ValueError("its hall of fame is empty")
        for entry in data["hall_of_fame"]:
            Genome.from_dict(entry["genome"], limits=limits)
            if not isinstance(entry.get("values"), list) or len(entry["values"]) != len(data["objectives"]):
                raise ValueError("a hall-of-fame entry does not have one value per objective")
    except (GenomeError, ValueError, TypeError, KeyError) as exc:
        raise ConfigError(f"{where} is damaged: {type(exc).__name__}: {str(exc)[:300]}") from None


def _ranked(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The hall of fame (best first; for several objectives, the Pareto front sorted by the first objective)."""
    return list(data["hall_of_fame"])


def _save_best(run_dir: Path, data: dict[str, Any]) -> int:
    from deepstruct.genomes import Genome, to_graphml, to_json

    for rank, entry in enumerate(_ranked(data)):
        genome = Genome.from_dict(entry["genome"])
        write_inside(run_dir, f"best/genome_{rank:02d}.json", to_json(genome, indent=1).encode("utf-8"))
        write_inside(run_dir, f"best/genome_{rank:02d}.graphml", to_graphml(genome).encode("utf-8"))
    return len(data["hall_of_fame"])


def _saved_model_holds(path: Path, best: dict[str, Any], phenotype: str) -> bool:
    """Whether ``best_model.pt`` is a sound model file of ``best``'s genome (so it need not be made again)."""
    if not path.is_file() or path.is_symlink():
        return False
    try:
        import torch

        from deepstruct.evo.extract import MAX_MODEL_BYTES
        from deepstruct.safe_files import read_regular

        raw = read_regular(path, MAX_MODEL_BYTES, what="model file")
        saved = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
        if saved.get("genome") != json.dumps(best["genome"]) or saved.get("phenotype") != phenotype:
            return False
        load_model_file(path)
    except Exception:  # noqa: BLE001 - anything wrong with the old file: make it again
        return False
    return True


def _save_model(run_dir: Path, data: dict[str, Any], task: Any = None, allow_import: bool = False, *,
                retrain: bool = False, log: Callable[[str], None] = lambda line: None) -> Path | None:
    """Save the model of the best genome's fitness for ``extract`` (reused when it is there already).

    The best genome of a Lamarckian run is the trained, pruned network of its evaluation re-encoded: decoding
    it gives that network (the same function), so it is saved as it is, and its extracted graph is the
    genome's graph. Otherwise the genome holds no weights: it is retrained with its own seed (the result equals
    its evaluation), pruned as the run prunes; an existing ``best_model.pt`` of the same genome is kept unless
    ``retrain``.
    """
    import torch

    best = _ranked(data)[0]
    if best.get("reason") is not None or best.get("key") is None:
        return None
    config = RunConfig.from_dict(data["config"])
    path = run_dir / "best_model.pt"
    seed = individual_seed(config.seed, best["key"])
    if config.training.mode == "lamarckian":
        model = decode_member(Genome.from_dict(best["genome"], limits=config.genome.limits()), seed, config.training)
    elif not retrain and _saved_model_holds(path, best, config.training.phenotype):
        log(f"best_model.pt holds the best genome already: kept (`deepstruct report {run_dir} --retrain` trains it "
            "again)")
        return path
    else:
        if task is None:
            task = load_task(config.task, seed=config.seed, allow_import=allow_import)
        t = config.training
        log(f"training the best genome again for best_model.pt ({t.epochs} epochs, its seed; the run kept no "
            "weights)")
        model, _ = train_genome(best["genome"], seed, task.arrays(), config.training, config.genome.limits())
    buffer = io.BytesIO()
    torch.save({"format": MODEL_FORMAT, "version": 1, "genome": json.dumps(best["genome"]),
                "phenotype": config.training.phenotype, "state_dict": model.state_dict()}, buffer)
    return write_inside(run_dir, "best_model.pt", buffer.getvalue())


def _plots(run_dir: Path, data: dict[str, Any]) -> list[str]:
    """Write the plots; return their names (``pareto.png`` only for two or more objectives; an old one of a
    single-objective run is left as it is)."""
    from deepstruct.evo.config import OBJECTIVES
    from deepstruct.evo.plots import fitness_png, network_png, pareto_png
    from deepstruct.genomes import Genome

    objectives = data["objectives"]
    written = ["fitness.png"]
    write_inside(run_dir, "fitness.png", fitness_png(data["logbook"], objectives))
    entries = [*data["strategy"]["population"], *data["hall_of_fame"]]
    pareto = pareto_png(entries, objectives, [OBJECTIVES.get(o, 1.0) for o in objectives])
    if pareto is not None:
        write_inside(run_dir, "pareto.png", pareto)
        written.append("pareto.png")
    write_inside(run_dir, "best_network.png", network_png(Genome.from_dict(_ranked(data)[0]["genome"])))
    written.append("best_network.png")
    return written


def best_size(data: dict[str, Any]) -> Any:
    """The :class:`~deepstruct.genomes.size.NetworkSize` of the best network (what ``best_model.pt`` holds): its
    genome's in a Lamarckian run (the trained, pruned network re-encoded), else its evaluated model's (the
    statistics of its evaluation; a run of an older version without them: its genome's)."""
    from deepstruct.genomes import Genome
    from deepstruct.genomes.size import NetworkSize, genome_size

    best = _ranked(data)[0]
    stats = best.get("stats") or {}
    mode = (data.get("config") or {}).get("training", {}).get("mode")
    if mode != "lamarckian" and all(k in stats for k in ("vertices", "hidden_edges", "interface_edges", "params")):
        return NetworkSize(int(stats["vertices"]), int(stats["hidden_edges"]), int(stats["interface_edges"]),
                           int(stats["params"]), int(stats.get("depth", 0)))
    return genome_size(Genome.from_dict(best["genome"]))


def summary_lines(run_dir: str | Path, data: dict[str, Any] | None = None) -> list[str]:
    """A few lines describing a run (from its checkpoint, read unless ``data`` is given)."""
    run_dir = Path(run_dir)
    data = _load(run_dir) if data is None else data
    objectives = data["objectives"]
    best = _ranked(data)[0]
    values = ", ".join(f"{n}={v:.4g}" for n, v in zip(objectives, best["values"], strict=True))
    stats = best.get("stats") or {}
    state = "finished" if data.get("finished") else "in progress"
    total = (data.get("config") or {}).get("algorithm", {}).get("generations", "?")
    lines = [f"run {run_dir} ({state}): generation {data['generation']} of {total}, {data['evaluations']} "
             "evaluations", f"best (validation split): {values}"]
    if best.get("reason") is None:
        size = best_size(data)
        test = f"test accuracy {stats['test_accuracy']:.4f}; " if "test_accuracy" in stats else ""
        lines.append(f"best network: {test}{size.describe()}, depth {size.depth}")
    penalties = [d for d in data["strategy"]["population"] if d.get("reason")]
    if penalties:
        lines.append(f"{len(penalties)} of the population have penalties, e.g. {str(penalties[0]['reason'])[:200]}")
    return lines


def write_report(run_dir: str | Path, *, model: bool = True, task: Any = None, allow_import: bool = False,
                 retrain: bool = False, log: Callable[[str], None] | None = None) -> list[str]:
    """Write ``logbook.csv``, ``best/genome_XX.{json,graphml}``, ``best_model.pt`` and the plots; return a summary.

    The run directory's lock is held throughout (a live run or another report gets a :class:`ConfigError`).
    ``best_model.pt`` needs the task's data when it is trained again: ``task`` (a
    :class:`deepstruct.evo.tasks.Task`), else the task the run's config names — a user task (``module:function``)
    only with ``allow_import=True`` (a run directory never makes deepstruct import code by itself). It is kept
    when it holds the best genome already, unless ``retrain``. ``log`` gets a line per step (with its time).
    """
    run_dir = Path(run_dir)
    started = time.monotonic()

    def step(text: str) -> None:
        if log is not None:
            log(f"report ({time.monotonic() - started:.0f} s): {text}")

    lock = lock_run_dir(run_dir)
    try:
        data = _load(run_dir)
        write_inside(run_dir, "logbook.csv", logbook_csv(data["logbook"], data["objectives"]).encode("utf-8"))
        step(f"logbook.csv ({len(data['logbook'])} generations); best genomes")
        _save_best(run_dir, data)
        if model:
            step("best_model.pt")
            _save_model(run_dir, data, task, allow_import, retrain=retrain, log=step)
        step("plots")
        written = _plots(run_dir, data)
        step(f"wrote logbook.csv, best/, {'best_model.pt, ' if model else ''}{', '.join(written)}")
    except UnsafeFileError as exc:
        raise ConfigError(f"{run_dir}: {exc}") from None
    finally:
        lock.close()
    return summary_lines(run_dir, data)
