"""An evolutionary run: task + strategy + evaluator + config, over a :class:`~deepstruct.evo.store.RunStore`.

:class:`EvolutionRun` is the façade: it checks the configuration, builds the collaborators and wires them into
the loops of :mod:`deepstruct.evo.loop` (the strategy, the :class:`~deepstruct.evo.driver.Driver` of its
evaluations, the :class:`~deepstruct.evo.state.RunState` and the listeners of
:mod:`deepstruct.evo.listeners`: checkpoints, progress, the time budget, the ``on_generation`` hook).

Results depend only on a genome, its seed (from the run seed and the genome's canonical hash) and the batch plan
(from the generation's requests), and the cache is rebuilt from the journal on resume, so a resumed run ends
exactly as an uninterrupted one.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from deap import tools

from deepstruct.evo import loop
from deepstruct.evo.algorithms import Strategy, Variation, make_strategy
from deepstruct.evo.config import ConfigError, RunConfig
from deepstruct.evo.driver import Driver
from deepstruct.evo.evaluators import BatchFitness, Evaluator, RayEvaluator, SerialEvaluator
from deepstruct.evo.fitness import evaluate_requests
from deepstruct.evo.listeners import Budget, Checkpointer, ProgressListener
from deepstruct.evo.progress import make_progress
from deepstruct.evo.protocol import genome_key, individual_seed
from deepstruct.evo.report import write_report
from deepstruct.evo.state import RunState
from deepstruct.evo.store import RunStore, read_config
from deepstruct.evo.surrogate import JournalSurrogate
from deepstruct.evo.tasks import Task, load_task
from deepstruct.genomes import INITIALISERS, Genome, InnovationRegistry

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
    allow_import : bool
        Whether a user task (``module:function``) may be imported.
    """

    def __init__(self, config: RunConfig, run_dir: str | Path | None = None, *, task: Task | None = None,
                 fitness_fn: BatchFitness = evaluate_requests, evaluator: Evaluator | None = None,
                 progress: bool = False, allow_import: bool = True) -> None:
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
        self.state = RunState.new(config)
        self.strategy: Strategy = make_strategy(config.algorithm, self.objectives,
                                                Variation(config.algorithm, self.state.registry), self.sample_genome)
        self.store = RunStore(self.run_dir)
        self.surrogate = JournalSurrogate(config.seed, self.store, self.limits) if config.algorithm.screen > 1 \
            else None
        if self.surrogate is not None:
            self.strategy.screen = self.surrogate.screen
        self.on_generation: Callable[[EvolutionRun], None] | None = None
        self.resumed: dict[str, Any] | None = None  # the checkpoint a resumed run starts from

    # -- the state, as attributes ------------------------------------------------------------------------------
    @property
    def generation(self) -> int:
        """The last completed generation (or asynchronous cycle); -1 before the initial one."""
        return self.state.generation

    @property
    def evaluations(self) -> int:
        """Evaluations so far (cache hits not counted)."""
        return self.state.evaluations

    @property
    def registry(self) -> InnovationRegistry:
        """The population's innovation registry."""
        return self.state.registry

    @property
    def rng(self) -> np.random.Generator:
        """The run's random generator (variation and selection)."""
        return self.state.rng

    @property
    def hall_of_fame(self) -> tools.HallOfFame:
        """The best individuals (a Pareto front with several objectives)."""
        return self.state.hall_of_fame

    @property
    def logbook(self) -> tools.Logbook:
        """One line per generation."""
        return self.state.logbook

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
            run.state = RunState.from_json(checkpoint, config, run.strategy, run.run_dir / "checkpoint.json")
            run.resumed = checkpoint
        return run

    def _check_initialiser(self) -> None:
        """Draw a throwaway genome of the smallest and the largest initial size (with an RNG of its own), so that
        ``genome.params`` the initialiser cannot take fail here with a :class:`ConfigError`, before the run
        directory, the evaluator or any training exists."""
        g = self.config.genome
        for size in sorted({g.num_vertices, min(g.min_vertices, g.num_vertices) if g.min_vertices else g.num_vertices}):
            try:
                INITIALISERS[g.init](self.task.num_inputs, self.task.num_classes, size,
                                     rng=np.random.default_rng(0), **g.params)
            except Exception as exc:  # noqa: BLE001 - whatever the initialiser raises, the params are unusable
                raise ConfigError(f"genome.params {str(g.params)[:80]}: {g.init} cannot draw a genome of {size} "
                                  f"vertices ({type(exc).__name__}: {str(exc)[:200]})") from None

    def make_evaluator(self) -> Evaluator:
        """The evaluator the config names, over the task's arrays."""
        ev, device = self.config.evaluator, self.config.training.device
        data, batched = self.task.arrays(), ev.batch != 1
        if ev.kind == "ray":
            return RayEvaluator(data, self.fitness_fn, batched=batched, workers=ev.workers, address=ev.address,
                                max_retries=ev.max_retries, gpus=0.0 if device == "cpu" else ev.gpus_per_task,
                                require_gpu=device == "cuda")
        return SerialEvaluator(data, self.fitness_fn, batched=batched)

    def sample_genome(self, rng: np.random.Generator) -> Genome:
        """One genome of the initialiser (``genome.init``), its size drawn between ``min_vertices`` and
        ``num_vertices``; random search samples with it too."""
        g = self.config.genome
        low = min(g.min_vertices, g.num_vertices)
        size = int(rng.integers(low, g.num_vertices + 1)) if g.min_vertices else g.num_vertices
        genome = INITIALISERS[g.init](self.task.num_inputs, self.task.num_classes, size,
                                      rng=rng, registry=self.registry, **g.params)
        genome.limits = self.limits
        return genome

    def initial_genomes(self, key: Callable[[Genome], str] = genome_key) -> list[Genome]:
        """``algorithm.population`` distinct genomes of the initialiser (a duplicate is drawn again, up to ten
        draws per member); when the start space holds fewer, a warning says so and the population repeats them.
        ``key`` tells duplicates apart (the run passes its driver's, so that each genome is hashed once)."""
        size = self.config.algorithm.population
        genomes: dict[str, Genome] = {}
        for _ in range(10 * size):
            genome = self.sample_genome(self.rng)
            genomes.setdefault(key(genome), genome)
            if len(genomes) == size:
                return list(genomes.values())
        distinct = list(genomes.values())
        warnings.warn(f"genome.init {self.config.genome.init!r} drew only {len(distinct)} distinct genomes in "
                      f"{10 * size} draws for a population of {size}: the initial population repeats them; widen the "
                      "start space (genome.min_vertices, genome.num_vertices, genome.params)", stacklevel=2)
        return [distinct[i % len(distinct)] for i in range(size)]

    def listeners(self, bar: Any) -> list[loop.Listener]:
        """What happens at the end of every generation: the checkpoint, the progress bar, the ``on_generation``
        hook (in that order)."""
        listeners: list[loop.Listener] = [Checkpointer(self.store, self.config, self.strategy)]
        if self.surrogate is not None:
            listeners.insert(0, self.surrogate)  # refitted before the next generation is asked for
        if bar is not None:
            listeners.append(ProgressListener(bar, self.objectives))
        if self.on_generation is not None:
            hook = self.on_generation
            listeners.append(lambda state, record: hook(self))
        return listeners

    def run(self, *, report: bool = True) -> EvolutionRun:
        """Evolve until ``algorithm.generations`` generations (cycles) after the initial one are done, or until
        the generation that ends past ``algorithm.max_seconds`` of run time; then write the report."""
        algorithm, state = self.config.algorithm, self.state
        done = Budget(algorithm.generations, algorithm.max_seconds)
        state.started = time.monotonic()
        with self.store.open(self.config, self.resumed):
            if self.surrogate is not None and state.generation >= 0:  # resumed: as fitted after that generation
                self.surrogate.refit(state.generation)
            evaluator = self._evaluator or self.make_evaluator()
            bar = make_progress(algorithm.generations + 1, state.generation + 1, self.progress)
            driver, listeners = Driver(self.config, self.store, evaluator), self.listeners(bar)
            try:
                if state.generation < 0:
                    initial = self.strategy.initial(self.initial_genomes(driver.key))
                    loop.generation(self.strategy, driver, state, initial, listeners, done)
                if algorithm.asynchronous:
                    loop.steady_state(self.strategy, driver, state, listeners, done)
                loop.generational(self.strategy, driver, state, listeners, done)
            finally:
                if bar is not None:
                    bar.close()
                if self._evaluator is None:
                    evaluator.close()
        state.elapsed_s, state.started = state.seconds(), 0.0
        if report:  # after the store is closed: the last checkpoint is on disk
            write_report(self.run_dir, task=self.task, log=_stderr_line if self.progress else None)
        return self
