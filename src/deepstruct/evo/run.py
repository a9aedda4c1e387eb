"""An evolutionary run: task + strategy + evaluator + config, with journal, checkpoints and resume.

Every result is journalled as it arrives; after every generation the whole state (population, hall of fame,
logbook, RNG state, config) is checkpointed atomically. Results depend only on a genome and its seed (derived
from the run seed and the genome's canonical hash), and the fitness cache is rebuilt from the journal on resume,
so a resumed run ends exactly as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from deap import tools

from deepstruct.evo import persistence as files
from deepstruct.evo._adapters import genome_key
from deepstruct.evo.algorithms import (
    Individual,
    Strategy,
    Variation,
    make_hall_of_fame,
    make_strategy,
    restore_hall_of_fame,
)
from deepstruct.evo.config import ConfigError, RunConfig, config_to_toml
from deepstruct.evo.evaluators import Evaluator, FitnessFunction, RayEvaluator, SerialEvaluator
from deepstruct.evo.fitness import evaluate_genome
from deepstruct.evo.tasks import Task, load_task
from deepstruct.genomes import Genome, GenomeLimits

__all__ = ["EvolutionRun", "individual_seed", "default_run_dir", "generation_line", "LineProgress", "CHECKPOINT_SCHEMA"]

CHECKPOINT_SCHEMA = "deepstruct.evo.checkpoint"


def individual_seed(run_seed: int, key: str) -> int:
    """The training seed of a genome: a function of the run seed and its canonical hash only."""
    return int.from_bytes(hashlib.sha256(f"{run_seed}/{key}".encode()).digest()[:4], "big") & 0x7FFFFFFF


def default_run_dir(config: RunConfig) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    name = config.task.name.replace(":", "_").replace("/", "_")
    return Path("runs") / f"{name}-{config.algorithm.name}-s{config.seed}-{stamp}"


class EvolutionRun:
    """One run in one directory. ``EvolutionRun(config).run()`` evolves; ``EvolutionRun.resume(dir).run()`` goes on.

    Parameters
    ----------
    config : RunConfig
        The resolved configuration (saved as ``config.json`` and ``config.toml`` in the run directory).
    run_dir : path, optional
        Where everything goes (default ``config.out`` or ``runs/<task>-<algorithm>-s<seed>-<time>``).
    task : Task, optional
        A task object instead of ``config.task`` (user-defined tasks built in code).
    fitness_fn : callable, optional
        The worker-side fitness function (default :func:`deepstruct.evo.fitness.evaluate_genome`).
    evaluator : Evaluator, optional
        An evaluator to use (and not close) instead of the one the config names.
    progress : bool
        Show a tqdm progress bar on stderr.
    """

    def __init__(self, config: RunConfig, run_dir: str | Path | None = None, *, task: Task | None = None,
                 fitness_fn: FitnessFunction = evaluate_genome, evaluator: Evaluator | None = None,
                 progress: bool = False) -> None:
        self.config = config
        self.run_dir = Path(run_dir or config.out or default_run_dir(config))
        self.objectives = config.training.objectives
        self.limits = GenomeLimits(max_vertices=config.genome.max_vertices, max_edges=config.genome.max_edges)
        self.task = task if task is not None else load_task(config.task, seed=config.seed)
        self.fitness_fn = fitness_fn
        self._evaluator = evaluator
        self.progress = progress
        from deepstruct.genomes import INITIALISERS

        if config.genome.init not in INITIALISERS:
            raise ConfigError(f"genome.init must be one of {', '.join(INITIALISERS)}; got {config.genome.init!r}")
        self.strategy: Strategy = make_strategy(config.algorithm, self.objectives, Variation(config.algorithm))
        self.hall_of_fame = make_hall_of_fame(config.algorithm, self.objectives)
        self.logbook = tools.Logbook()
        self.logbook.header = ["gen", "nevals", "cached", "penalties", "best", "mean"]
        self.rng = np.random.default_rng(config.seed)
        self.generation = -1  # last completed generation
        self.evaluations = 0
        self.cache: dict[str, tuple[dict[str, Any], int]] = {}
        self.on_generation: Callable[[EvolutionRun], None] | None = None
        self._writer = files.BackgroundWriter()

    # -- construction ---------------------------------------------------------------------------------------
    @classmethod
    def resume(cls, run_dir: str | Path, *, evaluator_overrides: dict[str, Any] | None = None,
               **kwargs: Any) -> EvolutionRun:
        """The run saved in ``run_dir``, at its last checkpoint, with the journalled evaluations cached.

        ``evaluator_overrides`` (``{"evaluator.kind": "serial"}``, workers, address) change only where the rest
        runs: results do not depend on the evaluator.
        """
        run_dir = Path(run_dir)
        if not (run_dir / files.CONFIG).is_file():
            raise ConfigError(f"{run_dir} is not a run directory (no {files.CONFIG})")
        config = RunConfig.from_dict(files.read_json(run_dir / files.CONFIG))
        if evaluator_overrides:
            if any(not key.startswith("evaluator.") for key in evaluator_overrides):
                raise ConfigError("resume may only change evaluator.* fields")
            config = config.override(evaluator_overrides)
        run = cls(config, run_dir, **kwargs)
        if (run_dir / files.CHECKPOINT).is_file():
            run.load_checkpoint(files.read_json(run_dir / files.CHECKPOINT))
        return run

    def training_settings(self) -> dict[str, Any]:
        settings = self.config.to_dict()["training"]
        settings.update(max_vertices=self.limits.max_vertices, max_edges=self.limits.max_edges)
        return settings

    def make_evaluator(self) -> Evaluator:
        ev = self.config.evaluator
        data, training = self.task.arrays(), self.training_settings()
        if ev.kind == "ray":
            return RayEvaluator(data, training, self.fitness_fn, workers=ev.workers, address=ev.address,
                                max_retries=ev.max_retries)
        return SerialEvaluator(data, training, self.fitness_fn)

    def initial_genomes(self) -> list[Genome]:
        from deepstruct.genomes import INITIALISERS

        g = self.config.genome
        genomes = []
        for _ in range(self.config.algorithm.population):
            low = min(g.min_vertices, g.num_vertices)
            size = int(self.rng.integers(low, g.num_vertices + 1)) if g.min_vertices else g.num_vertices
            genome = INITIALISERS[g.init](self.task.num_inputs, self.task.num_classes, size,
                                          rng=self.rng, **g.params)
            genome.limits = self.limits
            genomes.append(genome)
        return genomes

    # -- evaluation -----------------------------------------------------------------------------------------
    def _assign(self, ind: Individual, result: dict[str, Any]) -> None:
        ind.fitness.values = tuple(float(v) for v in result["values"])
        ind.reason = result.get("reason")
        ind.stats = dict(result.get("stats") or {})
        if result.get("genome") is not None:
            ind.genome = Genome.from_dict(result["genome"], limits=self.limits)

    def evaluate(self, individuals: Sequence[Individual], evaluator: Evaluator, journal: files.Journal,
                 bar: Any = None) -> dict[str, int]:
        """Evaluate the individuals without a valid fitness (cache first); journal each new result."""
        gen = self.generation + 1
        todo = [ind for ind in individuals if not ind.fitness.valid]
        jobs: dict[str, tuple[str, dict[str, Any], int]] = {}
        counts = {"nevals": 0, "cached": 0}
        for ind in todo:
            ind.key = genome_key(ind.genome)
            hit = self.cache.get(ind.key)
            if hit is not None and hit[1] < gen:
                counts["cached"] += 1
            elif ind.key not in jobs and hit is None:
                jobs[ind.key] = (ind.key, ind.genome.to_dict(), individual_seed(self.config.seed, ind.key))
        counts["nevals"] = len({ind.key for ind in todo}) - len(
            {ind.key for ind in todo if ind.key in self.cache and self.cache[ind.key][1] < gen})
        if bar is not None:
            bar.set_postfix_str(f"evaluating {len(jobs)} (cached {len(todo) - len(jobs)})", refresh=False)

        def arrived(key: str, result: dict[str, Any]) -> None:
            seconds = result.pop("seconds", None)
            journal.append({"gen": gen, "key": key, "seed": jobs[key][2], "seconds": seconds, "result": result})
            self.cache[key] = (result, gen)
            done.append(key)
            if bar is not None:
                # redrawn at most twice a second (a redraw per result floods a log)
                bar.set_postfix_str(f"gen {gen}: {len(done)}/{len(jobs)} evaluated, {len(todo) - len(jobs)} cached",
                                    refresh=False)
                if time.monotonic() - redrawn[0] >= 0.5:
                    redrawn[0] = time.monotonic()
                    bar.refresh()

        done: list[str] = []
        redrawn = [time.monotonic()]

        evaluator.evaluate(list(jobs.values()), arrived)
        for ind in todo:
            self._assign(ind, self.cache[ind.key][0])
        self.evaluations += counts["nevals"]
        counts["penalties"] = sum(ind.reason is not None for ind in individuals)
        return counts

    def _known(self, genome: Genome) -> bool:
        """Whether an isomorphic genome was evaluated in a completed generation (journal entries of a generation
        cut short by a crash do not count, so a resumed run asks for the same offspring)."""
        hit = self.cache.get(genome_key(genome))
        return hit is not None and hit[1] <= self.generation

    # -- the loop -------------------------------------------------------------------------------------------
    def _record(self, counts: dict[str, int]) -> dict[str, Any]:
        values = np.array([ind.fitness.values for ind in self.strategy.population], dtype=float)
        best = max(self.strategy.population, key=lambda ind: ind.fitness).fitness.values
        record = {"gen": self.generation, **counts, "best": [float(v) for v in best],
                  "mean": [float(v) for v in values.mean(axis=0)], "min": [float(v) for v in values.min(axis=0)],
                  "max": [float(v) for v in values.max(axis=0)]}
        self.logbook.record(**record)
        return record

    def _prepare_dir(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.run_dir.glob(".*.tmp"):  # a checkpoint write cut short by a kill
            stale.unlink(missing_ok=True)
        config_file = self.run_dir / files.CONFIG
        if not config_file.exists():
            files.write_json_atomic(config_file, self.config.to_dict())
            (self.run_dir / "config.toml").write_text(config_to_toml(self.config), encoding="utf-8")
        if not self.cache:
            for record in files.read_journal(self.run_dir / files.JOURNAL):
                self.cache[record["key"]] = (record["result"], int(record["gen"]))

    def run(self, *, report: bool = True) -> EvolutionRun:
        """Evolve until ``algorithm.generations`` generations after the initial one are done."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        lock = _lock(self.run_dir)  # before anything in the directory changes: a live run keeps its files
        try:
            self._prepare_dir()
            return self._run(report)
        finally:
            lock.close()

    def _run(self, report: bool) -> EvolutionRun:
        total = self.config.algorithm.generations
        evaluator = self._evaluator or self.make_evaluator()
        bar = _progress(total + 1, self.generation + 1, self.progress)
        started = time.monotonic()
        try:
            with files.Journal(self.run_dir / files.JOURNAL) as journal:
                while self.generation < total:
                    if self.generation < 0:
                        individuals = self.strategy.initial(self.initial_genomes())
                    else:
                        self.strategy.known = self._known
                        individuals = self.strategy.ask(self.rng)
                    counts = self.evaluate(individuals, evaluator, journal, bar)
                    self.strategy.tell(individuals)
                    self.hall_of_fame.update(self.strategy.population)
                    self.generation += 1
                    record = self._record(counts)
                    self.save_checkpoint(finished=self.generation >= total)
                    if bar is not None:
                        bar.set_postfix_str(generation_line(record, self.objectives, self.evaluations))
                        bar.update(1)
                    if self.on_generation is not None:
                        self.on_generation(self)
        finally:
            self._writer.wait()
            if bar is not None:
                bar.close()
            if self._evaluator is None:
                evaluator.close()
        self.elapsed_s = time.monotonic() - started
        if report:
            from deepstruct.evo.report import write_report

            write_report(self.run_dir)
        return self

    # -- checkpoints ----------------------------------------------------------------------------------------
    def checkpoint(self, *, finished: bool = False) -> dict[str, Any]:
        return {
            "schema": CHECKPOINT_SCHEMA, "version": 1, "generation": self.generation, "finished": finished,
            "evaluations": self.evaluations, "config": self.config.to_dict(),
            "rng": self.rng.bit_generator.state, "strategy": self.strategy.state_dict(),
            "hall_of_fame": [ind.to_dict() for ind in self.hall_of_fame],
            "logbook": [dict(r) for r in self.logbook], "objectives": list(self.objectives),
        }

    def save_checkpoint(self, *, finished: bool = False) -> None:
        """Write the checkpoint atomically, on a background thread (the next generation does not wait for it)."""
        self._writer.submit(self.run_dir / files.CHECKPOINT, self.checkpoint(finished=finished))

    def load_checkpoint(self, data: dict[str, Any]) -> None:
        if not isinstance(data, dict) or data.get("schema") != CHECKPOINT_SCHEMA or data.get("version") != 1:
            raise ConfigError(f"{self.run_dir / files.CHECKPOINT} is not a deepstruct checkpoint (version 1)")
        self.generation = int(data["generation"])
        self.evaluations = int(data["evaluations"])
        self.rng.bit_generator.state = data["rng"]
        self.strategy.load_state_dict(data["strategy"], self.limits)
        restore_hall_of_fame(self.hall_of_fame, [Individual.from_dict(d, self.objectives, self.limits)
                                                 for d in data["hall_of_fame"]])
        for record in data["logbook"]:
            self.logbook.record(**record)


def _lock(run_dir: Path) -> Any:
    """An exclusive lock on the run directory (released when the returned file is closed)."""
    import fcntl

    handle = open(run_dir / ".lock", "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise ConfigError(f"{run_dir} is in use by another deepstruct process") from None
    return handle


def generation_line(record: dict[str, Any], objectives: Sequence[str], evaluations: int) -> str:
    """One generation in a few words: ``best accuracy 0.9652 params 2784 | mean accuracy 0.951 | evals 218``."""
    best = " ".join(f"{name} {value:.4g}" for name, value in zip(objectives, record["best"], strict=True))
    return f"best {best} | mean {objectives[0]} {record['mean'][0]:.4g} | evals {evaluations}"


class LineProgress:
    """The progress bar's stand-in when stderr is not a terminal: one line per generation, nothing in between.

    tqdm redraws with a carriage return, which a log file or a CI console turns into one line per update.
    """

    def __init__(self, total: int, done: int, stream: Any) -> None:
        self.total, self.n, self.stream, self.postfix = total, done, stream, ""
        self.started = time.monotonic()

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        self.postfix = text

    def update(self, n: int = 1) -> None:
        self.n += n
        seconds = time.monotonic() - self.started
        print(f"generation {self.n - 1}/{self.total - 1} ({seconds:.0f} s): {self.postfix}", file=self.stream,
              flush=True)

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, done: int, enabled: bool, stream: Any = None) -> Any:
    """A tqdm bar on a terminal (redrawn at most twice a second), else a :class:`LineProgress`."""
    if not enabled:
        return None
    stream = stream if stream is not None else sys.stderr
    isatty = getattr(stream, "isatty", None)
    if not (callable(isatty) and isatty()):
        return LineProgress(total, done, stream)
    from tqdm import tqdm

    return tqdm(total=total, initial=done, desc="generations", unit="gen", file=stream, dynamic_ncols=True,
                mininterval=0.5)
