"""Successive halving inside a batch (Li et al. 2017): the worse part of a batch stops training at a rung.

All members of a batch train the first ``training.halving_epoch`` epochs; there the requests still training are
ranked by the mean validation accuracy of their members (training repeats) and the worse
``1 - training.halving_keep`` of them stop: their rows freeze (as a diverging member's do), they keep the score
they have, marked as low fidelity (``stats["epochs"]`` below the schedule's), and the rest train on. The choice
depends only on the batch, which depends only on the generation's genomes, so the journal, the cache and exact
resume hold as before. A request alone in its batch (``evaluator.batch = 1``) is never stopped: it has nothing
to be compared with.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from deepstruct.evo.training import evaluate_members
from deepstruct.sparse.population import PopulationDAN

__all__ = ["Halving"]


class Halving:
    """The ``at_epoch`` hook of :func:`deepstruct.evo.training.train_members` for one batch.

    Parameters
    ----------
    rung : int
        The epoch before which the worse requests stop.
    keep : float
        The fraction of the requests still training at the rung that train on (rounded up).
    x_val, y_val : torch.Tensor
        The validation split the ranking reads.
    groups : sequence of int
        Each member's request (its training repeats are ranked and stopped together).

    Attributes
    ----------
    stopped : set of int
        The requests stopped at the rung.
    """

    def __init__(self, rung: int, keep: float, x_val: torch.Tensor, y_val: torch.Tensor,
                 groups: Sequence[int]) -> None:
        self.rung, self.keep, self.x_val, self.y_val = int(rung), float(keep), x_val, y_val
        self.groups = list(groups)
        self.stopped: set[int] = set()

    def __call__(self, epoch: int, population: PopulationDAN, frozen: torch.Tensor) -> torch.Tensor | None:
        if epoch != self.rung:
            return None
        active = sorted({g for g, done in zip(self.groups, frozen.tolist(), strict=True) if not done})
        stopping = len(active) - math.ceil(len(active) * self.keep)
        if stopping <= 0:
            return None
        accuracy, _ = evaluate_members(population, self.x_val, self.y_val)
        score = {g: float(accuracy[[i for i, h in enumerate(self.groups) if h == g]].mean()) for g in active}
        worst = sorted(active, key=lambda g: (score[g], g))[:stopping]  # ties: the later request trains on
        self.stopped = set(worst)
        return torch.tensor([g in self.stopped for g in self.groups])
