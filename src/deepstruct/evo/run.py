"""An evolutionary run: task + strategy + evaluator + config, over a :class:`~deepstruct.evo.store.RunStore`.

The loop stays thin (ask, evaluate, tell, record); persistence lives in the store, progress in
:mod:`deepstruct.evo.progress`, the batch plan in :mod:`deepstruct.evo.batching`, the asynchronous steady-state
loop in :mod:`deepstruct.evo.steady_state`. Results depend only on a genome, its seed (from the run seed and the
genome's canonical hash) and the batch plan (from the generation's requests), and the cache is rebuilt from the
journal on resume, so a resumed run ends exactly as an uninterrupted one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from deap import tools

from deepstruct.evo.algorithms import (
    Individual,
    Strategy,
    Variation,
    make_hall_of_fame,
    make_strategy,
    restore_hall_of_fame,
)
from deepstruct.evo.batching import plan_batches
from deepstruct.evo.config import ConfigError, RunConfig
from deepstruct.evo.evaluators import BatchFitness, Evaluator, RayEvaluator, SerialEvaluator
from deepstruct.evo.fitness import evaluate_requests
from deepstruct.evo.progress import generation_line, make_progress
from deepstruct.evo.protocol import EvaluationRequest, EvaluationResult, genome_key, individual_seed
from deepstruct.evo.store import RunStore, read_config
from deepstruct.evo.tasks import Task, load_task
from deepstruct.genomes import Genome

__all__ = ["EvolutionRun", "individual_seed", "default_run_dir"]


def _stderr_line(text: str) -> None:
    import sys

    print(text, file=sys.stderr, flush=True)


def default_run_dir(config: RunConfig) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    name = config.task.name.replace(":", "_").replace("/", "_")
    return Path("runs") / f"{name}-{config.algorithm.name}-s{config.seed}-{stamp}"


def _usable(run_dir: Path) -> Path:
    """``run_dir`` if it can be a run directory (a directory, or a path that can be made one); a
    :class:`ConfigError` naming it otherwise (a name too long for the file system, a file in the way)."""
    try:
        if run_dir.exists() and not run_dir.is_dir():
            raise ConfigError(f"out: {str(run_dir)[:200]!r} exists and is not a directory")
    except OSError as exc:
        raise ConfigError(f"out: {str(run_dir)[:200]!r} cannot be a run directory ({exc.strerror})") from None
    return run_dir


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
        The worker-side batch fitness ``fn(requests, data, batched=...) -> results`` (default
        :func:`deepstruct.evo.fitness.evaluate_requests`).
    evaluator : Evaluator, optional
        An evaluator to use (and not close) instead of the one the config names.
    progress : bool
        Show progress on stderr (a tqdm bar on a terminal, one line per generation otherwise).
    """

    def __init__(self, config: RunConfig, run_dir: str | Path | None = None, *, task: Task | None = None,
                 fitness_fn: BatchFitness = evaluate_requests, evaluator: Evaluator | None = None,
                 progress: bool = False, allow_import: bool = True) -> None:
        from deepstruct.genomes import INITIALISERS

        self.config = config
        self.run_dir = _usable(Path(run_dir or config.out or default_run_dir(config)))
        self.objectives = config.training.objectives
        self.limits = config.genome.limits()
        if config.genome.init not in INITIALISERS:
            raise ConfigError(f"genome.init must be one of {', '.join(INITIALISERS)}; got {config.genome.init!r}")
        self.task = task if task is not None else load_task(config.task, seed=config.seed, allow_import=allow_import)
        self._check_initialiser()
        self.fitness_fn = fitness_fn
        self._evaluator = evaluator
        self.progress = progress
        from deepstruct.genomes import InnovationRegistry

        self.registry = InnovationRegistry()  # one per population: homologous ids across lineages
        self.strategy: Strategy = make_strategy(config.algorithm, self.objectives,
                                                Variation(config.algorithm, self.registry))
        self.hall_of_fame = make_hall_of_fame(config.algorithm, self.objectives)
        self.logbook = tools.Logbook()
        self.logbook.header = ["gen", "nevals", "cached", "penalties", "best", "mean"]
        self.rng = np.random.default_rng(config.seed)
        self.generation = -1  # last completed generation (or asynchronous cycle)
        self.evaluations = 0
        self.store = RunStore(self.run_dir)
        self.on_generation: Callable[[EvolutionRun], None] | None = None
        self.elapsed_s = 0.0  # run time over every session of this run (a resumed run goes on counting)
        self._session_start = 0.0
        self.resumed: dict[str, Any] | None = None  # the checkpoint a resumed run starts from

    # -- construction ---------------------------------------------------------------------------------------
    @classmethod
    def resume(cls, run_dir: str | Path, *, evaluator_overrides: dict[str, Any] | None = None,
               **kwargs: Any) -> EvolutionRun:
        """The run saved in ``run_dir``, at its last checkpoint, with the journalled evaluations cached.

        ``evaluator_overrides`` (``{"evaluator.kind": "serial"}``, workers, address) change only where the rest
        runs: results do not depend on the evaluator. A user task (``module:function``) named in the run
        directory is not imported unless ``task=`` or ``allow_import=True`` is passed (the CLI: ``--task``).
        """
        run_dir = Path(run_dir)
        config = read_config(run_dir)
        if evaluator_overrides:
            if any(not key.startswith("evaluator.") for key in evaluator_overrides):
                raise ConfigError("resume may only change evaluator.* fields")
            config = config.override(evaluator_overrides)
        kwargs.setdefault("allow_import", False)
        run = cls(config, run_dir, **kwargs)
        checkpoint = run.store.read_checkpoint()
        if checkpoint is not None:
            run.load_checkpoint(checkpoint)
        return run

    def _check_initialiser(self) -> None:
        """Draw a throwaway genome of the smallest and the largest initial size (with an RNG of its own), so that
        ``genome.params`` the initialiser cannot take fail here with a :class:`ConfigError`, before the run
        directory, the evaluator or any training exists."""
        from deepstruct.genomes import INITIALISERS

        g = self.config.genome
        for size in sorted({g.num_vertices, min(g.min_vertices, g.num_vertices) if g.min_vertices else g.num_vertices}):
            try:
                INITIALISERS[g.init](self.task.num_inputs, self.task.num_classes, size,
                                     rng=np.random.default_rng(0), **g.params)
            except Exception as exc:  # noqa: BLE001 - whatever the initialiser raises, the params are unusable
                raise ConfigError(f"genome.params {str(g.params)[:80]}: {g.init} cannot draw a genome of {size} "
                                  f"vertices ({type(exc).__name__}: {str(exc)[:200]})") from None

    def make_evaluator(self) -> Evaluator:
        ev, device = self.config.evaluator, self.config.training.device
        data, batched = self.task.arrays(), ev.batch != 1
        if ev.kind == "ray":
            return RayEvaluator(data, self.fitness_fn, batched=batched, workers=ev.workers, address=ev.address,
                                max_retries=ev.max_retries, gpus=0.0 if device == "cpu" else ev.gpus_per_task,
                                require_gpu=device == "cuda")
        return SerialEvaluator(data, self.fitness_fn, batched=batched)

    def initial_genomes(self) -> list[Genome]:
        from deepstruct.genomes import INITIALISERS

        g = self.config.genome
        genomes = []
        for _ in range(self.config.algorithm.population):
            low = min(g.min_vertices, g.num_vertices)
            size = int(self.rng.integers(low, g.num_vertices + 1)) if g.min_vertices else g.num_vertices
            genome = INITIALISERS[g.init](self.task.num_inputs, self.task.num_classes, size,
                                          rng=self.rng, registry=self.registry, **g.params)
            genome.limits = self.limits
            genomes.append(genome)
        return genomes

    def request(self, ind: Individual) -> EvaluationRequest:
        """The evaluation request of an individual (its key set on the way)."""
        ind.key = genome_key(ind.genome)
        return EvaluationRequest(ind.key, ind.genome.to_dict(), individual_seed(self.config.seed, ind.key),
                                 self.config.training, self.limits)

    def plan(self, requests: Sequence[EvaluationRequest]) -> list[list[EvaluationRequest]]:
        """The batches of ``requests`` (:func:`deepstruct.evo.batching.plan_batches` with the evaluator config)."""
        ev = self.config.evaluator
        return [[requests[i] for i in batch] for batch in plan_batches(requests, ev.batch, ev.max_batch_weights)]

    # -- evaluation -----------------------------------------------------------------------------------------
    def assign(self, ind: Individual, result: EvaluationResult) -> None:
        ind.fitness.values = result.values
        ind.reason = result.reason
        ind.stats = dict(result.stats)
        if result.genome is not None:
            ind.genome = Genome.from_dict(result.genome, limits=self.limits)

    def evaluate(self, individuals: Sequence[Individual], evaluator: Evaluator, bar: Any = None) -> dict[str, int]:
        """Evaluate the individuals without a valid fitness (cache first); journal each new result as it arrives.

        The batch plan is made from every request of the generation that was not evaluated in an earlier
        generation, so a generation resumed after a crash trains the same batches; members journalled before
        the crash keep their journalled result.
        """
        gen = self.generation + 1
        todo = [ind for ind in individuals if not ind.fitness.valid]
        requests: dict[str, EvaluationRequest] = {}
        cached = 0
        for ind in todo:
            request = self.request(ind)
            if self.store.known_before(request.key, gen):
                cached += 1
            else:
                requests.setdefault(request.key, request)
        batches = [b for b in self.plan(list(requests.values()))
                   if any(r.key not in self.store.cache for r in b)]  # a batch wholly journalled is done
        if bar is not None:
            bar.set_postfix_str(f"evaluating {len(requests)} in {len(batches)} batches (cached {cached})",
                                refresh=False)

        def arrived(result: EvaluationResult) -> None:
            if result.key not in self.store.cache:
                self.store.record_result(gen, requests[result.key], result)

        evaluator.evaluate(batches, arrived)
        for ind in todo:
            self.assign(ind, self.store.result(ind.key))
        self.evaluations += len(requests)
        return {"nevals": len(requests), "cached": cached,
                "penalties": sum(ind.reason is not None for ind in individuals)}

    def journal_position(self) -> int:
        """Where the run stands in its journal after generation ``self.generation``: the leading records that are
        results of it or of a generation before it. That is every record in a run that was not interrupted, but a
        resumed run that replays a generation whose checkpoint was lost (killed while it was written in the
        background) has records of later generations (or asynchronous asks) loaded already."""
        records, cache = self.store.records, self.store.cache
        for index, record in enumerate(records):
            if record["type"] != "result" or cache[record["key"]].generation > self.generation:
                return index
        return len(records)

    def known(self, genome: Genome) -> bool:
        """Whether an isomorphic genome was evaluated in a completed generation."""
        return self.store.known_before(genome_key(genome), self.generation + 1)

    # -- the loop -------------------------------------------------------------------------------------------
    def record(self, counts: dict[str, int]) -> dict[str, Any]:
        """The logbook line of the generation just completed."""
        from deepstruct.evo.logbook import generation_record

        record = generation_record(self.generation, counts, self.strategy.population)
        self.logbook.record(**record)
        return record

    def end_generation(self, counts: dict[str, int], bar: Any, extra: dict[str, Any] | None = None) -> None:
        """Hall of fame, logbook, checkpoint, progress and the ``on_generation`` hook."""
        self.hall_of_fame.update(self.strategy.population)
        self.generation += 1
        record = self.record(counts)
        self.store.save_checkpoint(self.checkpoint(finished=self.done(), extra=extra))
        if bar is not None:
            bar.set_postfix_str(generation_line(record, self.objectives, self.evaluations))
            bar.update(1)
        if self.on_generation is not None:
            self.on_generation(self)

    def seconds(self) -> float:
        """Run time so far, over every session of the run."""
        return self.elapsed_s + (time.monotonic() - self._session_start if self._session_start else 0.0)

    def done(self) -> bool:
        """Whether the run is over: every generation done, or ``algorithm.max_seconds`` of run time spent."""
        limit = self.config.algorithm.max_seconds
        return self.generation >= self.config.algorithm.generations or (limit > 0 and self.seconds() >= limit)

    def run(self, *, report: bool = True) -> EvolutionRun:
        """Evolve until ``algorithm.generations`` generations (cycles) after the initial one are done, or until
        the generation that ends past ``algorithm.max_seconds`` of run time."""
        total = self.config.algorithm.generations
        self._session_start = time.monotonic()
        with self.store.open(self.config, self.resumed):
            evaluator = self._evaluator or self.make_evaluator()
            bar = make_progress(total + 1, self.generation + 1, self.progress)
            try:
                if self.generation < 0:
                    individuals = self.strategy.initial(self.initial_genomes())
                    counts = self.evaluate(individuals, evaluator, bar)
                    self.strategy.tell(individuals)
                    self.end_generation(counts, bar)
                if self.config.algorithm.asynchronous:
                    from deepstruct.evo.steady_state import SteadyState

                    SteadyState(self, evaluator, bar).run()
                while not self.done():
                    self.strategy.known = self.known
                    individuals = self.strategy.ask(self.rng)
                    counts = self.evaluate(individuals, evaluator, bar)
                    self.strategy.tell(individuals)
                    self.end_generation(counts, bar)
            finally:
                if bar is not None:
                    bar.close()
                if self._evaluator is None:
                    evaluator.close()
        self.elapsed_s, self._session_start = self.seconds(), 0.0
        if report:
            from deepstruct.evo.report import write_report

            write_report(self.run_dir, task=self.task, log=_stderr_line if self.progress else None)
        return self

    # -- checkpoints ----------------------------------------------------------------------------------------
    def checkpoint(self, *, finished: bool = False, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        data = {
            "generation": self.generation, "finished": finished, "evaluations": self.evaluations,
            "config": self.config.to_dict(), "rng": self.rng.bit_generator.state,
            "strategy": self.strategy.state_dict(), "hall_of_fame": [ind.to_dict() for ind in self.hall_of_fame],
            "logbook": [dict(r) for r in self.logbook], "objectives": list(self.objectives),
            "seconds": self.seconds(), "journal_position": self.journal_position(),
            "innovations": self.registry.to_dict(),
        }
        if extra:
            data.update(extra)
        return data

    def load_checkpoint(self, data: dict[str, Any]) -> None:
        """Restore the state of a validated checkpoint (:func:`deepstruct.evo.store.validate_checkpoint`)."""
        where = self.run_dir / "checkpoint.json"
        mine = {k: v for k, v in self.config.to_dict().items() if k != "evaluator"}
        if {k: v for k, v in data["config"].items() if k != "evaluator"} != mine:
            raise ConfigError(f"{where} was written by another configuration than {self.run_dir / 'config.json'}")
        if list(data["objectives"]) != list(self.objectives):
            raise ConfigError(f"{where}: objectives {data['objectives']} differ from the config's {self.objectives}")
        try:
            self.rng.bit_generator.state = data["rng"]
            self.strategy.load_state_dict(data["strategy"], self.limits)
            restore_hall_of_fame(self.hall_of_fame, [Individual.from_dict(d, self.objectives, self.limits)
                                                     for d in data["hall_of_fame"]])
            for record in data["logbook"]:
                self.logbook.record(**record)
            if "innovations" in data:  # checkpoints before genome v2 have none
                from deepstruct.genomes import InnovationRegistry

                self.registry = InnovationRegistry.from_dict(data["innovations"])
                self.strategy.variation.registry = self.registry
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{where} is damaged: {type(exc).__name__}: {exc}") from None
        self.generation = data["generation"]
        self.evaluations = data["evaluations"]
        self.elapsed_s = float(data.get("seconds", 0.0))
        self.resumed = data
