"""An individual of a population: a genome (in the forms that exist of it), a DEAP fitness and what its
evaluation said."""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from deap import base

from deepstruct.evo.config import OBJECTIVES
from deepstruct.genomes import Genome, GenomeLimits

__all__ = ["fitness_class", "GenomeForms", "Individual"]


@cache
def fitness_class(objectives: tuple[str, ...]) -> type[base.Fitness]:
    """A DEAP fitness class whose weights follow the objectives (maximise accuracy, minimise sizes)."""
    return type("Fitness_" + "_".join(objectives), (base.Fitness,),
                {"weights": tuple(OBJECTIVES[name] for name in objectives)})


class GenomeForms:
    """One genome in the forms that exist of it, the :class:`~deepstruct.genomes.Genome` and its dict
    (``to_dict()``), each made at most once, when first needed.

    Clones of an individual share it, so a genome that arrived as a dict (a worker's re-encoded genome) is built
    once for all of them, and only if a strategy reads it; a dict that was sent in a request is the one a
    checkpoint writes. A dict given here comes from this process (a valid genome's ``to_dict()``), so it is built
    without validating it again; files and a worker's input are validated where they are read.
    """

    __slots__ = ("_genome", "_data", "limits")

    def __init__(self, genome: Genome | None = None, data: dict[str, Any] | None = None,
                 limits: GenomeLimits | None = None) -> None:
        if genome is None and data is None:
            raise ValueError("GenomeForms needs a genome or its dict")
        self._genome, self._data, self.limits = genome, data, limits

    @property
    def genome(self) -> Genome:
        if self._genome is None:
            self._genome = Genome.from_dict(self._data, limits=self.limits, validate=False)
        return self._genome

    @property
    def data(self) -> dict[str, Any]:
        if self._data is None:
            self._data = self.genome.to_dict()
        return self._data


class Individual:
    """A genome with a DEAP fitness, its cache key, the reason of a penalty and evaluation statistics.

    The genome is held as :class:`GenomeForms` (``forms``): ``genome`` builds it from its dict when first read,
    :meth:`genome_dict` converts it once; strategies treat genomes as values and replace, never edit, them.
    """

    __slots__ = ("forms", "fitness", "key", "reason", "stats")

    def __init__(self, genome: Genome, objectives: tuple[str, ...]) -> None:
        self.forms = GenomeForms(genome)
        self.fitness = fitness_class(objectives)()
        self.key: str | None = None
        self.reason: str | None = None
        self.stats: dict[str, Any] = {}

    @property
    def genome(self) -> Genome:
        return self.forms.genome

    @genome.setter
    def genome(self, genome: Genome) -> None:
        self.forms = GenomeForms(genome)

    def __eq__(self, other: object) -> bool:  # used by DEAP halls of fame to find twins
        return isinstance(other, Individual) and self.key is not None and self.key == other.key

    __hash__ = None  # type: ignore[assignment]

    def clone(self) -> Individual:
        """A copy that shares the genome: strategies treat genomes as values and replace, never edit, them."""
        other = Individual.__new__(Individual)
        other.forms = self.forms
        other.fitness = copy.copy(self.fitness)  # DEAP fitness: a tuple of weighted values, copied shallowly
        other.key, other.reason, other.stats = self.key, self.reason, self.stats
        return other

    def __deepcopy__(self, memo: dict[int, Any]) -> Individual:  # DEAP's halls of fame deep-copy members
        return self.clone()

    def genome_dict(self) -> dict[str, Any]:
        """``genome.to_dict()``, converted once."""
        return self.forms.data

    def to_dict(self) -> dict[str, Any]:
        return {"genome": self.genome_dict(), "values": list(self.fitness.values) if self.fitness.valid else None,
                "key": self.key, "reason": self.reason, "stats": self.stats}

    @classmethod
    def from_dict(cls, data: dict[str, Any], objectives: tuple[str, ...], limits: GenomeLimits) -> Individual:
        ind = cls(Genome.from_dict(data["genome"], limits=limits), objectives)
        if data.get("values") is not None:
            ind.fitness.values = tuple(data["values"])
        ind.key, ind.reason, ind.stats = data.get("key"), data.get("reason"), dict(data.get("stats") or {})
        return ind
