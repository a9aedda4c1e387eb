"""What a run does at the end of every generation besides evolving: checkpoints, progress output, the time budget.

Each listener is a callable ``listener(state, record)`` (:class:`deepstruct.evo.loop.Listener`), called by the
loops with the :class:`~deepstruct.evo.state.RunState` and the generation's logbook line; the stop rule
:class:`Budget` is the loops' ``done(state)``. :class:`~deepstruct.evo.run.EvolutionRun` (or any caller of
:mod:`deepstruct.evo.loop`) wires them up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from deepstruct.evo.algorithms import Strategy
from deepstruct.evo.config import RunConfig
from deepstruct.evo.progress import generation_line
from deepstruct.evo.state import RunState
from deepstruct.evo.store import RunStore

__all__ = ["Budget", "Checkpointer", "ProgressListener"]


@dataclass(frozen=True)
class Budget:
    """The run is over after ``generations`` generations (cycles) after the initial one, or once
    ``max_seconds`` (> 0) of run time, over every session, are spent."""

    generations: int
    max_seconds: float = 0.0

    def __call__(self, state: RunState) -> bool:
        limit = self.max_seconds
        return state.generation >= self.generations or (limit > 0 and state.seconds() >= limit)


@dataclass(frozen=True)
class Checkpointer:
    """Write the checkpoint of every generation (:meth:`RunState.to_json`) through the store."""

    store: RunStore
    config: RunConfig
    strategy: Strategy

    def __call__(self, state: RunState, record: dict[str, Any]) -> None:
        self.store.save_checkpoint(state.to_json(self.config, self.strategy))


@dataclass(frozen=True)
class ProgressListener:
    """Advance a progress bar (:func:`deepstruct.evo.progress.make_progress`) by one generation, with its line;
    cycles a resumed asynchronous run replays from its journal are not shown again."""

    bar: Any
    objectives: Sequence[str]

    def __call__(self, state: RunState, record: dict[str, Any]) -> None:
        if state.replaying:
            return
        self.bar.set_postfix_str(generation_line(record, self.objectives, state.evaluations))
        self.bar.update(1)
