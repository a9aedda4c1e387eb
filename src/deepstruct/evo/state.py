"""What a run is between two generations, and its one checkpoint schema.

A :class:`RunState` holds the live state of a run besides its strategy's population (the RNG, the innovation
registry, the hall of fame, the logbook, the counters, the journal position and, in an asynchronous run, the
steady-state loop's place). :meth:`RunState.to_json` writes it (with the strategy's state) as the content of
``checkpoint.json``, :func:`validate_checkpoint` checks a file's content before anything reads it, and
:meth:`RunState.from_json` is the one place a resume reads it back. The :class:`~deepstruct.evo.store.RunStore`
beside it seals, writes and reads the file and checks it against the journal.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from deap import tools

from deepstruct._validation import is_int
from deepstruct.evo import persistence as files
from deepstruct.evo.algorithms import Individual, Strategy, make_hall_of_fame, restore_hall_of_fame
from deepstruct.evo.config import ConfigError, RunConfig
from deepstruct.genomes import InnovationRegistry

__all__ = ["RunState", "CHECKPOINT_SCHEMA", "CHECKPOINT_VERSION", "LOGBOOK_HEADER", "validate_checkpoint"]

CHECKPOINT_SCHEMA = "deepstruct.evo.checkpoint"
CHECKPOINT_VERSION = 3  # 3: sealed (a "checksum" member; journal lines have a "sum")
LOGBOOK_HEADER = ["gen", "nevals", "cached", "penalties", "best", "mean"]

#: Fields of a checkpoint and the JSON type each must have.
_FIELDS: dict[str, type | tuple[type, ...]] = {
    "generation": int, "finished": bool, "evaluations": int, "config": dict, "rng": dict, "strategy": dict,
    "hall_of_fame": list, "logbook": list, "objectives": list,
}


def validate_checkpoint(data: Any, where: Path | str) -> dict[str, Any]:
    """``data`` (without its seal) if it is a checkpoint this version reads: its seal matches, every field has
    its type, and the logbook has one line per generation. A :class:`ConfigError` naming the problem otherwise."""
    if not isinstance(data, dict) or data.get("schema") != CHECKPOINT_SCHEMA:
        raise ConfigError(f"{where} is not a deepstruct checkpoint (no schema {CHECKPOINT_SCHEMA!r})")
    version = data.get("version")
    if type(version) is not int or version not in (1, 2, CHECKPOINT_VERSION):  # not true, not 1.0
        raise ConfigError(f"{where}: checkpoint version {str(data.get('version'))[:20]!r} is not supported "
                          f"(this deepstruct reads 1 to {CHECKPOINT_VERSION})")
    for name, kind in _FIELDS.items():
        value = data.get(name)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ConfigError(f"{where}: field {name!r} must be {getattr(kind, '__name__', kind)}, got {value!r:.60}")
    try:
        data, sealed = files.unseal(data, files.SEAL)
    except ValueError as exc:
        raise ConfigError(f"{where} is damaged: {exc}") from None
    if not sealed and data["version"] >= 3:
        raise ConfigError(f"{where} is damaged: it has no {files.SEAL!r} (a hand edit)")
    if data["generation"] < -1 or data["evaluations"] < 0:
        raise ConfigError(f"{where}: generation {data['generation']} / evaluations {data['evaluations']} out of range")
    logbook = data["logbook"]
    if len(logbook) != data["generation"] + 1 or any(not isinstance(r, dict) or r.get("gen") != i
                                                     for i, r in enumerate(logbook)):
        raise ConfigError(f"{where}: generation {data['generation']} does not match its logbook of {len(logbook)} "
                          "lines (one per generation, numbered from 0)")
    position = data.get("journal_position", 0)
    if not is_int(position) or position < 0:
        raise ConfigError(f"{where}: field 'journal_position' must be an int >= 0, got {position!r:.60}")
    population = data["strategy"].get("population")
    if not isinstance(population, list) or not all(isinstance(p, dict) for p in population):
        raise ConfigError(f"{where}: field 'strategy.population' must be a list of individuals")
    if not all(isinstance(p, dict) for p in data["hall_of_fame"]):
        raise ConfigError(f"{where}: field 'hall_of_fame' must be a list of individuals")
    steady = data.get("steady_state")
    if steady is not None and not isinstance(steady, dict):
        raise ConfigError(f"{where}: field 'steady_state' must be a table, got {steady!r:.60}")
    return data


def _logbook() -> tools.Logbook:
    logbook = tools.Logbook()
    logbook.header = list(LOGBOOK_HEADER)
    return logbook


@dataclass
class RunState:
    """The state of a run after its last completed generation (or asynchronous cycle), besides the population,
    which its strategy holds.

    ``generation`` is the last completed generation (-1 before the initial one), ``elapsed_s`` the run time of
    the earlier sessions (a resumed run goes on counting), ``journal_position`` how many journal records the
    state accounts for, and ``steady_state`` the asynchronous loop's place (asks, tells, children in flight).
    ``finished`` says that the run is over; ``replaying`` that a resumed asynchronous run repeats journalled
    events (listeners that show progress skip those cycles).
    """

    rng: np.random.Generator
    registry: InnovationRegistry
    hall_of_fame: tools.HallOfFame
    logbook: tools.Logbook = field(default_factory=_logbook)
    generation: int = -1
    evaluations: int = 0
    elapsed_s: float = 0.0
    journal_position: int = 0
    steady_state: dict[str, Any] | None = None
    finished: bool = False
    replaying: bool = False
    started: float = 0.0  # time.monotonic() when this session started (0: not running)

    @classmethod
    def new(cls, config: RunConfig) -> RunState:
        """The state before the initial generation: the RNG seeded with ``config.seed``, an empty registry (one
        per population: homologous ids across lineages) and hall of fame."""
        return cls(np.random.default_rng(config.seed), InnovationRegistry(),
                   make_hall_of_fame(config.algorithm, config.training.objectives))

    def seconds(self) -> float:
        """Run time so far, over every session of the run."""
        return self.elapsed_s + (time.monotonic() - self.started if self.started else 0.0)

    def to_json(self, config: RunConfig, strategy: Strategy) -> dict[str, Any]:
        """The checkpoint of this state and ``strategy``'s population (plain JSON data, not yet sealed)."""
        data = {
            "schema": CHECKPOINT_SCHEMA, "version": CHECKPOINT_VERSION,
            "generation": self.generation, "finished": self.finished, "evaluations": self.evaluations,
            "config": config.to_dict(), "rng": self.rng.bit_generator.state,
            "strategy": strategy.state_dict(), "hall_of_fame": [ind.to_dict() for ind in self.hall_of_fame],
            "logbook": [dict(r) for r in self.logbook], "objectives": list(config.training.objectives),
            "seconds": self.seconds(), "journal_position": self.journal_position,
            "innovations": self.registry.to_dict(),
        }
        if self.steady_state is not None:
            data["steady_state"] = self.steady_state
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any], config: RunConfig, strategy: Strategy, where: Path | str) -> RunState:
        """The state of a checkpoint (validated by :func:`validate_checkpoint`) of a run of ``config``; the
        checkpoint's population is loaded into ``strategy``, whose variation takes the restored registry."""
        mine = {k: v for k, v in config.to_dict().items() if k != "evaluator"}
        if {k: v for k, v in data["config"].items() if k != "evaluator"} != mine:
            raise ConfigError(f"{where} was written by another configuration than the run's config.json")
        objectives = config.training.objectives
        if list(data["objectives"]) != list(objectives):
            raise ConfigError(f"{where}: objectives {data['objectives']} differ from the config's {objectives}")
        limits = config.genome.limits()
        state = cls.new(config)
        try:
            state.rng.bit_generator.state = data["rng"]
            strategy.load_state_dict(data["strategy"], limits)
            restore_hall_of_fame(state.hall_of_fame, [Individual.from_dict(d, objectives, limits)
                                                      for d in data["hall_of_fame"]])
            for record in data["logbook"]:
                state.logbook.record(**record)
            if "innovations" in data:  # checkpoints before genome v2 have none
                state.registry = InnovationRegistry.from_dict(data["innovations"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{where} is damaged: {type(exc).__name__}: {exc}") from None
        strategy.variation.registry = state.registry
        state.generation, state.evaluations = data["generation"], data["evaluations"]
        state.elapsed_s = float(data.get("seconds", 0.0))
        state.journal_position = data.get("journal_position", 0)
        state.steady_state = data.get("steady_state")
        state.finished = data["finished"]
        return state
