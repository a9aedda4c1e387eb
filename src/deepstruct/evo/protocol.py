"""What crosses the worker boundary: an :class:`EvaluationRequest` goes out, an :class:`EvaluationResult` comes back.

Both are plain-data frozen dataclasses (a genome dict, numbers, strings and the frozen config sections), so any
evaluator (in process, a Ray task, a later remote service) moves them as they are, and the journal stores a
result as JSON (:meth:`EvaluationResult.to_dict`). The seeds of an evaluation are a function of the run seed and
the genome's canonical hash only (:func:`individual_seed`), and those of its training repeats of that seed only
(:func:`repeat_seed`), so results never depend on the number of workers or on the order of arrival.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deepstruct._validation import is_number
from deepstruct.batch_plan import MemberShape
from deepstruct.evo.config import MAX_SEEDS, OBJECTIVES, ConfigError, TrainingConfig
from deepstruct.genomes import Genome, GenomeLimits, canonical_hash

__all__ = ["EvaluationRequest", "EvaluationResult", "individual_seed", "repeat_seed", "genome_key", "inherits_training",
           "penalty_values", "check_repeats", "PENALTY"]

#: Worst value of a minimised objective (finite, so that checkpoints stay strict JSON).
PENALTY = 1e9


def genome_key(genome: Genome) -> str:
    """The fitness-cache key: the canonical hash (inherited weights included), equal for isomorphic genomes."""
    return str(canonical_hash(genome))


def inherits_training(genome: Genome, training: TrainingConfig) -> bool:
    """Whether ``genome`` goes on from its parent's training: a Lamarckian run's genome with inherited weights.
    Such a request trains the child schedule (:meth:`~deepstruct.evo.config.TrainingConfig.schedule`)."""
    return training.mode == "lamarckian" and genome.has_weights


def individual_seed(run_seed: int, key: str) -> int:
    """The training seed of a genome: a function of the run seed and its canonical hash only."""
    return int.from_bytes(hashlib.sha256(f"{run_seed}/{key}".encode()).digest()[:4], "big") & 0x7FFFFFFF


def repeat_seed(seed: int, repeat: int) -> int:
    """The seed of training repeat ``repeat`` of an individual whose seed is ``seed`` (repeat 0 keeps it)."""
    if repeat == 0:
        return int(seed)
    return int(np.random.SeedSequence([int(seed), int(repeat)]).generate_state(1)[0]) & 0x7FFFFFFF


def penalty_values(objectives: Sequence[str]) -> tuple[float, ...]:
    """The worst value of every objective (0 for a maximised one, :data:`PENALTY` for a minimised one)."""
    return tuple(0.0 if OBJECTIVES[name] > 0 else PENALTY for name in objectives)


@dataclass(frozen=True)
class EvaluationRequest:
    """One genome to train and score.

    Parameters
    ----------
    key : str
        The genome's cache key (:func:`genome_key`); the result carries it back.
    genome : dict
        ``Genome.to_dict()``.
    seed : int
        Seed of the initial weights (where the genome carries none) and of the batch order; training repeat
        ``r`` uses :func:`repeat_seed` ``(seed, r)``.
    training : TrainingConfig
        How to train, prune and score (``training.seeds`` repeats).
    limits : GenomeLimits
        The limits the genome is loaded with (the run's, from its config: the one source of limits).
    inherits : bool
        The genome goes on from its parent's trained weights (:func:`inherits_training`), so it trains the child
        schedule of ``training`` (:attr:`schedule`).
    shape : MemberShape, optional
        The member shape of the genome's phenotype, computed by the driver from the genome it holds, so that
        the batch planner need not load the genome again (``None``: the planner computes it).
    repeats : tuple of int, optional
        The training repeats to train, increasing (default ``0 .. training.seeds - 1``); a re-evaluation of a
        survivor (``algorithm.reevaluate``) trains the next one only (:attr:`reevaluates`).
    """

    key: str
    genome: dict[str, Any]
    seed: int
    training: TrainingConfig = field(default_factory=TrainingConfig)
    limits: GenomeLimits = field(default_factory=GenomeLimits)
    inherits: bool = False
    shape: MemberShape | None = None
    repeats: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.training, TrainingConfig):
            raise ConfigError("EvaluationRequest.training must be a TrainingConfig, "
                              f"got {type(self.training).__name__}")
        if not isinstance(self.limits, GenomeLimits):
            raise ConfigError(f"EvaluationRequest.limits must be a GenomeLimits, got {type(self.limits).__name__}")
        if not isinstance(self.inherits, bool):
            raise ConfigError(f"EvaluationRequest.inherits must be a bool, got {self.inherits!r}")
        if self.shape is not None and not isinstance(self.shape, MemberShape):
            raise ConfigError(f"EvaluationRequest.shape must be a MemberShape or None, got {type(self.shape).__name__}")
        repeats = check_repeats(self.repeats, "EvaluationRequest.repeats") or tuple(range(self.training.seeds))
        object.__setattr__(self, "repeats", repeats)

    @classmethod
    def of(cls, genome: Genome, run_seed: int, training: TrainingConfig,
           limits: GenomeLimits | None = None) -> EvaluationRequest:
        """The request for ``genome`` in a run with seed ``run_seed`` (key and seed derived from the genome)."""
        key = genome_key(genome)
        return cls(key, genome.to_dict(), individual_seed(run_seed, key), training,
                   limits if limits is not None else genome.limits, inherits_training(genome, training))

    def load_genome(self) -> Genome:
        """The genome, validated against :attr:`limits` (a ``GenomeError`` names what is wrong)."""
        return Genome.from_dict(self.genome, limits=self.limits)

    @property
    def schedule(self) -> tuple[int, float, float]:
        """``(epochs, learning_rate, weight_decay)`` this genome trains with."""
        return self.training.schedule(self.inherits)

    @property
    def reevaluates(self) -> bool:
        """Whether this request adds repeats to an individual evaluated before (it does not train repeat 0)."""
        return 0 not in self.repeats

    def repeat_seeds(self) -> list[int]:
        """The seeds of the training repeats :attr:`repeats`."""
        return [repeat_seed(self.seed, r) for r in self.repeats]


def check_repeats(repeats: Any, what: str) -> tuple[int, ...]:
    """``repeats`` as a tuple if it is a sequence of increasing repeat indices (``ConfigError`` naming ``what``)."""
    if isinstance(repeats, (str, bytes)) or not isinstance(repeats, Sequence):
        raise ConfigError(f"{what} must be a list of repeat indices, got {str(repeats)[:60]!r}")
    repeats = tuple(repeats)
    if any(type(r) is not int or not 0 <= r < MAX_SEEDS for r in repeats) or list(repeats) != sorted(set(repeats)):
        raise ConfigError(f"{what} must be increasing integers in [0, {MAX_SEEDS}), got {str(repeats)[:60]}")
    return repeats


@dataclass(frozen=True)
class EvaluationResult:
    """The outcome of one :class:`EvaluationRequest`.

    ``values`` has one float per objective; ``reason`` is ``None`` or why the individual got the penalty
    (an exception, a non-finite loss, a deadline, a lost worker); ``genome`` is the re-encoded genome dict
    (Lamarckian mode) or ``None``; ``evaluated`` is the genome that was trained (kept in the journal, so that a
    surrogate model has data to learn from); ``stats`` the measured statistics; ``seconds`` the share of
    the batch's wall time that this evaluation took; ``repeats`` the training repeats it averages (``()``: the
    request's) and ``repeat_stats`` the statistics of each of them that are averaged
    (:data:`deepstruct.evo.repeats.AVERAGED`), so that the driver can merge later repeats into it
    (:func:`deepstruct.evo.repeats.merge`).
    """

    key: str
    values: tuple[float, ...]
    reason: str | None = None
    genome: dict[str, Any] | None = None
    stats: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    evaluated: dict[str, Any] | None = None
    repeats: tuple[int, ...] = ()
    repeat_stats: tuple[dict[str, float], ...] = ()

    def __post_init__(self) -> None:
        values = tuple(float(v) for v in self.values)
        if any(not math.isfinite(v) for v in values):
            raise ValueError(f"result {self.key}: non-finite objective values {values} (use a penalty)")
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "repeats", check_repeats(self.repeats, f"result {self.key}: repeats"))
        per = tuple(self.repeat_stats)
        if per and (len(per) != len(self.repeats) or not all(isinstance(s, dict) and all(
                isinstance(k, str) and is_number(v) for k, v in s.items()) for s in per)):
            raise ValueError(f"result {self.key}: repeat_stats must be one table of numbers per repeat")
        object.__setattr__(self, "repeat_stats", per)

    @classmethod
    def penalty(cls, request: EvaluationRequest | str, objectives: Sequence[str], reason: str,
                seconds: float = 0.0) -> EvaluationResult:
        """The result of an individual that could not be evaluated: the worst value of every objective."""
        if isinstance(request, str):
            return cls(request, penalty_values(objectives), reason, None, {}, float(seconds))
        return cls(request.key, penalty_values(objectives), reason, None, {}, float(seconds), request.genome,
                   request.repeats)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data (the journal's ``result``).

        The genome dicts are shared, not copied: they are already plain data, and ``dataclasses.asdict`` would
        deep-copy them field by field (tens of milliseconds per weighted genome, on the driver's hot path).
        """
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["values"] = list(self.values)
        data["stats"] = dict(self.stats)
        data["repeats"] = list(self.repeats)
        data["repeat_stats"] = [dict(s) for s in self.repeat_stats]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], key: str | None = None, seeds: int | None = None) -> EvaluationResult:
        """Read :meth:`to_dict` output back (also the result records of version-1 journals, without ``key``, and
        of journals before re-evaluation, without ``repeats``: those are ``0 .. seeds - 1`` when ``seeds`` is
        given)."""
        if not isinstance(data, dict) or not isinstance(data.get("values"), list):
            raise ValueError(f"not an evaluation result: {str(data)[:80]!r}")
        if not all(is_number(v) for v in data["values"]):
            raise ValueError(f"evaluation result {key}: values must be numbers, got {str(data['values'])[:80]}")
        stats = data.get("stats") or {}
        if not isinstance(stats, dict):
            raise ValueError(f"evaluation result {key}: stats must be a table, got {str(stats)[:80]}")
        for name, kind in (("reason", str), ("genome", dict), ("evaluated", dict)):
            if data.get(name) is not None and not isinstance(data[name], kind):
                raise ValueError(f"evaluation result {key}: {name} must be a {kind.__name__} or null")
        repeats = data.get("repeats", list(range(seeds)) if seeds else [])
        per = data.get("repeat_stats") or []
        if not isinstance(repeats, list) or not isinstance(per, list):
            raise ValueError(f"evaluation result {key}: repeats and repeat_stats must be lists")
        return cls(str(data.get("key", key)), tuple(data["values"]), data.get("reason"), data.get("genome"),
                   dict(stats), float(data.get("seconds") or 0.0), data.get("evaluated"), tuple(repeats), tuple(per))
