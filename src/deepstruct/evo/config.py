"""Run configuration: frozen dataclasses, loadable from TOML and overridable field by field.

A :class:`RunConfig` has one section per concern (``task``, ``genome``, ``training``, ``algorithm``,
``evaluator``) plus the run-wide ``seed`` and ``out``. Every value is checked on construction; a bad value raises
:class:`ConfigError` whose message names the field (``training.epochs``) and what is wrong.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from deepstruct.evo.checks import MAX_CONFIG_BYTES, ConfigError, check_key_depth
from deepstruct.evo.checks import check_choice as _choice
from deepstruct.evo.checks import check_float as _float
from deepstruct.evo.checks import check_int as _int
from deepstruct.evo.checks import check_name as _name
from deepstruct.evo.checks import check_plain as _plain
from deepstruct.evo.checks import short_repr as _r
from deepstruct.evo.config_toml import config_to_toml

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the tomli backport (a dependency there)
    import tomli as tomllib

__all__ = [
    "ConfigError", "TaskConfig", "GenomeConfig", "TrainingConfig", "AlgorithmConfig", "EvaluatorConfig",
    "RunConfig", "OBJECTIVES", "ALGORITHMS", "MODES", "load_config", "config_to_toml",
]

#: Objective name -> DEAP weight (+1 maximise, -1 minimise).
OBJECTIVES: dict[str, float] = {
    "accuracy": 1.0, "loss": -1.0, "params": -1.0, "edges": -1.0, "vertices": -1.0, "depth": -1.0, "density": -1.0,
    "connections": -1.0, "interface_edges": -1.0,
}  # the sizes count as deepstruct.genomes.size defines them (edges: hidden-to-hidden only)
ALGORITHMS = ("ga", "mu_plus_lambda", "nsga2", "aging", "random")
# Realistic upper limits (a typo is refused before any memory is taken; deepstruct.evo.budget estimates the rest)
MAX_POPULATION = 100_000  # algorithm.population and algorithm.offspring
MAX_GENERATIONS = 1_000_000
MAX_EPOCHS = 100_000
MAX_SEEDS = 100  # training repeats per individual
MODES = ("lamarckian", "baldwinian", "none")
EVALUATORS = ("serial", "ray")
PHENOTYPES = ("dan", "ffn", "auto")  # = genomes.vocabulary.PHENOTYPE_KINDS minus "cell" (tests/test_registries.py)
PRUNE_SCOPES = ("layer", "global")  # = pruning.SCOPES (spelled out: this module imports the standard library only)
PRUNE_LAYERS = ("all", "hidden")
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class TaskConfig:
    """The data set: ``digits`` (default), ``mnist1d``, ``fashion-mnist``, or ``module:function`` (user task)."""

    name: str = "digits"
    validation_fraction: float = 0.2
    test_fraction: float = 0.2
    max_samples: int = 0  # 0: all samples
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"task.name must be a non-empty string, got {_r(self.name)}")
        _float("task.validation_fraction", self.validation_fraction, 0.0, 0.5, open_low=True)
        _float("task.test_fraction", self.test_fraction, 0.0, 0.5, open_low=True)
        _int("task.max_samples", self.max_samples, 0)
        if not isinstance(self.params, dict):
            raise ConfigError(f"task.params must be a table, got {_r(self.params)}")
        _plain("task.params", self.params)


@dataclass(frozen=True)
class GenomeConfig:
    """How the initial population is drawn: ``deepstruct.genomes.INITIALISERS[init](..., num_vertices, **params)``.

    With ``min_vertices`` > 0 every initial genome draws its size uniformly from
    ``min(min_vertices, num_vertices)..num_vertices`` (a varied start); 0 gives every one ``num_vertices``.
    The default draws two layers of 32-320 vertices whose first layer is locally connected (each vertex reads
    a window of 3-12 adjacent inputs: :func:`deepstruct.genomes.init_local`), and the limits leave room to grow
    past that (twice the vertices of the largest start, and twice the edges of a dense 200-200 layer pair).
    """

    init: str = "local"
    num_vertices: int = 320
    min_vertices: int = 32
    params: dict[str, Any] = field(default_factory=lambda: {"num_layers": 2})
    max_vertices: int = 1024
    max_edges: int = 80_000

    def __post_init__(self) -> None:
        _name("genome.init", self.init)
        _int("genome.num_vertices", self.num_vertices)
        _int("genome.max_vertices", self.max_vertices)
        _int("genome.max_edges", self.max_edges)
        _int("genome.min_vertices", self.min_vertices, 0)
        if self.num_vertices > self.max_vertices:
            raise ConfigError(f"genome.num_vertices={self.num_vertices} exceeds genome.max_vertices="
                              f"{self.max_vertices}")
        if not isinstance(self.params, dict):
            raise ConfigError(f"genome.params must be a table, got {_r(self.params)}")
        _plain("genome.params", self.params)

    def limits(self) -> Any:
        """The :class:`deepstruct.genomes.GenomeLimits` of the run (the one source of limits for loaders and
        workers)."""
        from deepstruct.genomes import GenomeLimits  # not at the top: the configuration needs no networkx

        return GenomeLimits(max_vertices=self.max_vertices, max_edges=self.max_edges)


@dataclass(frozen=True)
class TrainingConfig:
    """Fitness: decode -> train -> evaluate (-> prune -> re-encode)."""

    epochs: int = 20
    child_epochs: int = 5  # Lamarckian: epochs of a child that inherits trained weights (0: training.epochs)
    child_learning_rate: float = 0.005  # Lamarckian: Adam's step for such a child (0: training.learning_rate)
    halving_epoch: int = 0  # successive halving in a batch: the worse requests stop after this epoch (0: off)
    halving_keep: float = 0.5  # the fraction of a batch's requests that train on past halving_epoch
    seeds: int = 1  # training repeats per individual (own initial weights and batch order); the fitness is the mean
    batch_size: int = 64
    learning_rate: float = 0.02
    weight_decay: float = 0.0  # Adam's L2 term for a genome trained from its initial weights
    child_weight_decay: float = 0.001  # Lamarckian: the L2 term of a child going on from inherited weights
    prune_amount: float = 0.0  # fraction of connections removed after training; 0 disables pruning
    mode: str = "lamarckian"  # children go on from their parent's trained weights (the child schedule above)
    deadline_s: float = 120.0  # per evaluation; past it the individual gets a penalty fitness
    objectives: tuple[str, ...] = ("accuracy",)
    phenotype: str = "dan"  # the decoded model family: dan, ffn (layered genomes) or auto
    prune_scope: str = "layer"  # magnitude pruning per masked matrix, or one global threshold
    prune_layers: str = "all"  # every masked matrix (the genome holds them all) or the hidden ones only
    device: str = "auto"  # where training runs: auto (a GPU if there is one), cpu or cuda

    def __post_init__(self) -> None:
        _int("training.epochs", self.epochs, 1, MAX_EPOCHS)
        _int("training.child_epochs", self.child_epochs, 0, MAX_EPOCHS)
        _float("training.child_learning_rate", self.child_learning_rate, 0.0, 10.0)
        _int("training.halving_epoch", self.halving_epoch, 0, MAX_EPOCHS)
        _float("training.halving_keep", self.halving_keep, 0.0, 1.0, open_low=True)
        _int("training.seeds", self.seeds, 1, MAX_SEEDS)
        _int("training.batch_size", self.batch_size)
        _float("training.learning_rate", self.learning_rate, 0.0, 10.0, open_low=True)
        _float("training.weight_decay", self.weight_decay, 0.0, 1.0)
        _float("training.child_weight_decay", self.child_weight_decay, 0.0, 1.0)
        _float("training.prune_amount", self.prune_amount, 0.0, 0.99)
        _choice("training.mode", self.mode, MODES)
        _float("training.deadline_s", self.deadline_s, 0.0, open_low=True)
        _choice("training.phenotype", self.phenotype, PHENOTYPES)
        _choice("training.prune_scope", self.prune_scope, PRUNE_SCOPES)
        _choice("training.prune_layers", self.prune_layers, PRUNE_LAYERS)
        _choice("training.device", self.device, DEVICES)
        objectives = tuple(self.objectives) if isinstance(self.objectives, (list, tuple)) else self.objectives
        if not isinstance(objectives, tuple) or not objectives:
            raise ConfigError(f"training.objectives must be a non-empty list, got {_r(self.objectives)}")
        for name in objectives:
            _choice("training.objectives", name, tuple(OBJECTIVES))
        if len(set(objectives)) != len(objectives):
            raise ConfigError(f"training.objectives has a duplicate: {_r(list(objectives))}")
        object.__setattr__(self, "objectives", objectives)

    def schedule(self, inherits: bool) -> tuple[int, float, float]:
        """``(epochs, learning_rate, weight_decay)`` of a genome; ``inherits``: it goes on from its parent's trained
        weights (a Lamarckian child), which trains ``child_epochs`` at ``child_learning_rate`` where those are set,
        with ``child_weight_decay`` (a lineage that trains on and on stays regularised)."""
        if not inherits:
            return self.epochs, self.learning_rate, self.weight_decay
        return self.child_epochs or self.epochs, self.child_learning_rate or self.learning_rate, \
            self.child_weight_decay


@dataclass(frozen=True)
class AlgorithmConfig:
    """The search: ``ga`` (generational, elitist), ``mu_plus_lambda``, ``nsga2``, ``aging`` (regularized) or
    ``random`` (the baseline: fresh initial genomes, each varied by a random walk of 0..``random_walk`` mutations).
    ``reevaluate = k`` (noise control, :mod:`deepstruct.evo.repeats`) works where a run goes generation by
    generation (every algorithm but asynchronous aging, which refuses it)."""

    name: str = "ga"
    population: int = 24
    generations: int = 30
    offspring: int = 0  # lambda for mu_plus_lambda/nsga2 (0: equal to population); children per cycle for aging
    crossover_prob: float = 0.3
    mutation_prob: float = 0.9
    max_mutations: int = 3  # a mutated child gets 1..max_mutations operators (uniformly many)
    tournament_size: int = 3
    elites: int = 1
    hall_of_fame: int = 5
    mutations: dict[str, float] = field(default_factory=lambda: {
        "mut_duplicate_vertex": 1.0, "mut_add_vertex": 0.5, "mut_remove_vertex": 0.5, "mut_add_edge": 0.5,
        "mut_remove_edge": 1.0, "mut_rewire_edge": 0.5, "mut_add_input_edge": 0.25, "mut_remove_input_edge": 0.25,
        "mut_add_output_edge": 0.25, "mut_remove_output_edge": 0.25, "mut_input_window": 1.0,
        "mut_add_local_unit": 1.0, "mut_prune_fraction": 1.0,
    })
    crossover: str = "cx_aligned"
    asynchronous: bool = False  # aging only: ask for a child as soon as a result returns (steady state)
    max_seconds: float = 0.0  # stop after the generation that ends past this much run time (0: no limit)
    random_walk: int = 48  # random search: a sample is an initial genome varied by 0..random_walk mutations
    screen: int = 1  # mutants proposed per mutated child, the best by the surrogate kept (1: no surrogate)
    reevaluate: int = 0  # generational loops: the best survivors given one more training repeat per generation
    max_repeats: int = 4  # the most training repeats a re-evaluated individual accumulates

    def __post_init__(self) -> None:
        _choice("algorithm.name", self.name, ALGORITHMS)
        if not isinstance(self.asynchronous, bool):
            raise ConfigError(f"algorithm.asynchronous must be true or false, got {_r(self.asynchronous)}")
        _float("algorithm.max_seconds", self.max_seconds, 0.0)
        if self.asynchronous and self.name != "aging":
            raise ConfigError(f"algorithm.asynchronous needs algorithm.name = 'aging' (got {_r(self.name)}): "
                              "only aging evolution is steady-state")
        _int("algorithm.population", self.population, 2, MAX_POPULATION)
        _int("algorithm.generations", self.generations, 0, MAX_GENERATIONS)
        _int("algorithm.offspring", self.offspring, 0, MAX_POPULATION)
        _float("algorithm.crossover_prob", self.crossover_prob, 0.0, 1.0)
        _float("algorithm.mutation_prob", self.mutation_prob, 0.0, 1.0)
        _int("algorithm.max_mutations", self.max_mutations)
        _int("algorithm.random_walk", self.random_walk, 0)
        _int("algorithm.screen", self.screen)
        _int("algorithm.reevaluate", self.reevaluate, 0, MAX_POPULATION)
        _int("algorithm.max_repeats", self.max_repeats, 1, MAX_SEEDS)
        if self.reevaluate and self.asynchronous:
            raise ConfigError("algorithm.reevaluate is for the generational loops: an asynchronous (steady-state) "
                              "run has no generation after which to re-evaluate survivors")
        _int("algorithm.tournament_size", self.tournament_size, 1)
        _int("algorithm.elites", self.elites, 0)
        _int("algorithm.hall_of_fame", self.hall_of_fame, 1)
        if self.elites >= self.population:
            raise ConfigError(f"algorithm.elites={self.elites} must be below algorithm.population={self.population}")
        if not isinstance(self.mutations, dict) or not self.mutations:
            raise ConfigError(f"algorithm.mutations must be a non-empty table name -> weight, got {_r(self.mutations)}")
        for name, weight in self.mutations.items():
            _name("algorithm.mutations", name, "mut_")
            _float(f"algorithm.mutations.{name}", weight, 0.0)
        if not 0 < sum(self.mutations.values()) < math.inf:
            raise ConfigError("algorithm.mutations: the weights must have a positive, finite sum")
        _name("algorithm.crossover", self.crossover, "cx_")

    @property
    def num_offspring(self) -> int:
        return self.offspring or self.population


@dataclass(frozen=True)
class EvaluatorConfig:
    """``serial`` or ``ray`` (a local instance with ``workers`` CPUs, or the cluster at ``address``)."""

    kind: str = "ray"
    workers: int = 2
    address: str = ""  # "" : RAY_ADDRESS if set, else a local instance
    max_retries: int = 3
    batch: int = 0  # members (genome x training seed) per tensor program: 1 one by one, 0 auto (by size)
    max_batch_weights: int = 4_000_000  # padded weights one batch may allocate (bounds its memory)
    gpus_per_task: float = 0.25  # the GPU share a Ray task asks for when training runs on CUDA

    def __post_init__(self) -> None:
        _choice("evaluator.kind", self.kind, EVALUATORS)
        _int("evaluator.workers", self.workers)
        _int("evaluator.max_retries", self.max_retries, 0)
        _int("evaluator.batch", self.batch, 0)
        _int("evaluator.max_batch_weights", self.max_batch_weights)
        _float("evaluator.gpus_per_task", self.gpus_per_task, 0.0, 1.0, open_low=True)
        if not isinstance(self.address, str):
            raise ConfigError(f"evaluator.address must be a string, got {_r(self.address)}")


_SECTIONS: dict[str, type] = {
    "task": TaskConfig, "genome": GenomeConfig, "training": TrainingConfig,
    "algorithm": AlgorithmConfig, "evaluator": EvaluatorConfig,
}


@dataclass(frozen=True)
class RunConfig:
    """A whole run. ``RunConfig.from_dict(d)`` and ``to_dict()`` round-trip through plain data (JSON/TOML)."""

    seed: int = 0
    out: str = ""  # the run directory; "" : runs/<task>-<algorithm>-s<seed>-<time>
    task: TaskConfig = field(default_factory=TaskConfig)
    genome: GenomeConfig = field(default_factory=GenomeConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    algorithm: AlgorithmConfig = field(default_factory=AlgorithmConfig)
    evaluator: EvaluatorConfig = field(default_factory=EvaluatorConfig)

    def __post_init__(self) -> None:
        _int("seed", self.seed, 0)
        if not isinstance(self.out, str) or "\0" in self.out:
            raise ConfigError(f"out must be a path (a string without NUL), got {_r(self.out)}")

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["training"]["objectives"] = list(self.training.objectives)
        return data

    @classmethod
    def from_dict(cls, data: Any) -> RunConfig:
        if not isinstance(data, dict):
            raise ConfigError(f"a configuration must be a table, got {type(data).__name__}")
        _check_fields(cls, data, "")
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key in _SECTIONS:
                kwargs[key] = _section(key, value)
            else:
                kwargs[key] = value
        return cls(**kwargs)

    def override(self, assignments: dict[str, Any]) -> RunConfig:
        """A copy with dotted fields replaced: ``{"training.epochs": 3, "seed": 1}``."""
        data = self.to_dict()
        for dotted, value in assignments.items():
            parts = dotted.split(".")
            target = data
            for part in parts[:-1]:
                if part not in target or not isinstance(target[part], dict):
                    raise ConfigError(f"unknown configuration field {_r(dotted)}{_did_you_mean(dotted, data)}")
                target = target[part]
            if parts[-1] not in target and not (len(parts) == 3 and parts[1] in ("params", "mutations")):
                raise ConfigError(f"unknown configuration field {_r(dotted)}{_did_you_mean(dotted, data)}")
            target[parts[-1]] = value
        return RunConfig.from_dict(data)


def _check_fields(cls: type, data: dict[str, Any], prefix: str) -> None:
    """Refuse a key that is not a field of the dataclass ``cls``, naming it (``prefix`` + key)."""
    known = {f.name for f in fields(cls)}
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(str(key), sorted(known), n=1)
            hint = f"; did you mean {prefix}{close[0]}?" if close else ""
            raise ConfigError(f"unknown configuration field {_r(prefix + str(key))}{hint} "
                              f"(known: {', '.join(sorted(known))})")


def _did_you_mean(dotted: str, data: dict[str, Any]) -> str:
    """``"; did you mean training.epochs?"`` for the known dotted field closest to ``dotted`` (or ``""``)."""
    known = [f"{k}.{f}" if isinstance(v, dict) else k for k, v in data.items()
             for f in (v if isinstance(v, dict) else [None])]
    close = difflib.get_close_matches(dotted, known, n=1, cutoff=0.75)
    return f"; did you mean {close[0]}?" if close else ""


def _section(name: str, value: Any) -> Any:
    cls = _SECTIONS[name]
    if not isinstance(value, dict):
        raise ConfigError(f"{name} must be a table, got {_r(value)}")
    _check_fields(cls, value, f"{name}.")
    try:
        return cls(**value)
    except TypeError as exc:  # pragma: no cover - guarded by the key check above
        raise ConfigError(f"{name}: {exc}") from None


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> RunConfig:
    """Read a TOML file into a :class:`RunConfig`, then apply dotted ``overrides``.

    Whatever the file holds, the only error is a :class:`ConfigError` naming the file and the problem (a field,
    a TOML syntax error with its line, bytes that are not UTF-8, nesting too deep for the parser).
    """
    path = Path(path)
    where = f"config file {str(path)!r}"
    from deepstruct.safe_files import UnsafeFileError, read_regular

    try:
        raw = read_regular(path, MAX_CONFIG_BYTES, what="config file")  # a FIFO or /dev/zero is refused at once
    except FileNotFoundError:
        raise ConfigError(f"{where} does not exist") from None
    except UnsafeFileError as exc:
        raise ConfigError(f"{exc} (a run configuration is a TOML file of at most {MAX_CONFIG_BYTES} bytes)") from None
    except OSError as exc:
        raise ConfigError(f"{where} cannot be read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")  # a byte-order mark (as some editors write) is dropped
        check_key_depth(text, where)
        data = tomllib.loads(text)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where} is not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where} is not valid TOML: {exc}") from None
    except RecursionError:  # the parser recurses once per level of nested arrays or inline tables
        raise ConfigError(f"{where} is not valid TOML: arrays or inline tables nest too deeply") from None
    try:
        config = RunConfig.from_dict(data)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return config.override(overrides) if overrides else config
