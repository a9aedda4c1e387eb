"""What a run will take in memory, estimated before it starts.

The configuration's upper limits (:data:`deepstruct.evo.config.MAX_POPULATION` and the others) refuse a typo at
once; this estimate refuses a run whose genomes and training batches could not fit in this machine's memory, and
tells the user what a run will take before any of it is spent.

The estimate counts the genomes the run holds at once (population, offspring and hall of fame, each as large as
the initial networks: about 230 bytes per vertex and connection with inherited weights, measured), the training
batch of one worker (``evaluator.max_batch_weights`` padded weights, each with its gradient, two Adam moments and
a mask: about 20 bytes) and the task's arrays. The genomes may grow up to ``genome.max_vertices`` /
``genome.max_edges``: :func:`estimate` reports that bound too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from deepstruct.evo.checks import ConfigError

__all__ = ["MemoryEstimate", "estimate", "check_fits", "BYTES_PER_ITEM"]

#: Bytes a genome takes per vertex and connection (networkx dicts and an attribute dict with a weight; measured).
BYTES_PER_ITEM = 230
#: Bytes per padded weight of a training batch (weight, gradient, two Adam moments, mask, slack).
_BYTES_PER_WEIGHT = 20


@dataclass(frozen=True)
class MemoryEstimate:
    """The memory of a run at its start (``start``) and when every genome has grown to the limits (``grown``)."""

    start: int
    grown: int
    genomes: int

    def describe(self) -> str:
        return (f"memory estimate: about {_mib(self.start)} at the start ({self.genomes:,} genomes held at once), "
                f"up to {_mib(self.grown)} if every genome grows to genome.max_vertices / genome.max_edges")


def _mib(count: int) -> str:
    return f"{count / 2**30:.1f} GiB" if count >= 2**30 else f"{max(1, round(count / 2**20))} MiB"


def estimate(config: Any, num_inputs: int, num_outputs: int, data_bytes: int = 0) -> MemoryEstimate:
    """The :class:`MemoryEstimate` of a run of ``config`` on a task with these inputs and outputs."""
    algorithm, genome = config.algorithm, config.genome
    held = algorithm.population + (algorithm.offspring or algorithm.population) + algorithm.hall_of_fame
    vertices = genome.num_vertices
    start_items = vertices + num_inputs * vertices + vertices * num_outputs  # a dense interface, one layer
    grown_items = (genome.max_vertices + genome.max_edges + num_inputs * genome.max_vertices
                   + genome.max_vertices * num_outputs + num_inputs * num_outputs)
    batch = config.evaluator.max_batch_weights * _BYTES_PER_WEIGHT
    fixed = batch + data_bytes
    return MemoryEstimate(fixed + held * start_items * BYTES_PER_ITEM, fixed + held * grown_items * BYTES_PER_ITEM,
                          held)


def physical_memory() -> int | None:
    """This machine's memory in bytes (``None`` where the system does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return None


def check_fits(found: MemoryEstimate, total: int | None = None) -> None:
    """Refuse (:class:`ConfigError`) a run whose start alone would not fit in ``total`` bytes (this machine's
    memory by default)."""
    total = physical_memory() if total is None else total
    if total is not None and found.start > total:
        raise ConfigError(f"algorithm.population: the run needs {found.describe()[len('memory estimate: '):]}; this "
                          f"machine has {_mib(total)}: lower algorithm.population / offspring or genome.num_vertices")
