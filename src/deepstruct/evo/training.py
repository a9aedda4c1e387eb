"""Training phenotypes: one by one (:func:`train_one`) or many at once as one tensor program (:func:`train_members`).

Both paths compute the same thing: every model trains from its own initial weights, with its own batch order
(a permutation per epoch from ``numpy.random.default_rng(seed)``), mini-batches of ``config.batch_size``,
the mean cross-entropy loss and Adam (``config.learning_rate``, ``config.weight_decay``). Batched, the members'
parameters are stacked (:class:`deepstruct.sparse.population.PopulationDAN`) and one Adam steps on the sum of
the members' losses; since a member's loss depends only on its own slice of the parameters and Adam acts
element by element, that is exactly ``K`` independent Adams. Neither function changes torch's thread count:
the caller decides it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from deepstruct.evo.config import DEVICES
from deepstruct.sparse.population import PopulationDAN

__all__ = ["TrainingFailure", "train_one", "train_members", "evaluate_members", "resolve_device", "FlatAdam",
           "EpochHook"]

EpochHook = Callable[[int, PopulationDAN, torch.Tensor], "torch.Tensor | None"]
"""``at_epoch(epoch, population, frozen) -> stop or None`` of :func:`train_members`."""


class TrainingFailure(Exception):
    """Training ended early (a non-finite loss, the deadline); ``reason`` says why, for the penalty."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _nonfinite(loss: float, epoch: int) -> str:
    return f"non-finite loss ({loss}) in epoch {epoch}"


def _late(config: Any, epoch: int) -> str:
    return f"deadline of {config.deadline_s} s passed in epoch {epoch}"


def train_one(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, config: Any, seed: int,
              deadline: float, epochs: int | None = None, learning_rate: float | None = None,
              weight_decay: float | None = None) -> None:
    """Train one model in place; raise :class:`TrainingFailure` on a non-finite loss or past ``deadline``.

    Parameters
    ----------
    model : torch.nn.Module
        The phenotype (any module mapping ``(batch, inputs)`` to logits).
    x, y : torch.Tensor
        Training inputs ``(n, inputs)`` and integer labels ``(n,)``.
    config : TrainingConfig
        Reads ``epochs``, ``batch_size``, ``learning_rate``, ``weight_decay`` and ``deadline_s`` (for the reason).
    seed : int
        Seed of the batch order.
    deadline : float
        A ``time.monotonic()`` instant; checked after every step.
    epochs : int, optional
        Epochs to train (default ``config.epochs``).
    learning_rate : float, optional
        Adam's step size (default ``config.learning_rate``).
    weight_decay : float, optional
        Adam's L2 term (default ``config.weight_decay``).
    """
    rng = np.random.default_rng(seed)
    lr = config.learning_rate if learning_rate is None else learning_rate
    decay = config.weight_decay if weight_decay is None else weight_decay
    optimiser = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=decay)
    n = len(x)
    model.train()
    for epoch in range(config.epochs if epochs is None else epochs):
        order = torch.from_numpy(rng.permutation(n))
        for start in range(0, n, config.batch_size):
            index = order[start: start + config.batch_size]
            loss = F.cross_entropy(model(x[index]), y[index])
            if not torch.isfinite(loss):
                raise TrainingFailure(_nonfinite(float(loss.detach()), epoch))
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            if time.monotonic() > deadline:
                raise TrainingFailure(_late(config, epoch))
    model.eval()


def resolve_device(name: str) -> torch.device:
    """The device of ``training.device`` (one of :data:`deepstruct.evo.config.DEVICES`): ``"auto"`` (CUDA if
    available, else the CPU), ``"cpu"`` or ``"cuda"``.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if name not in DEVICES:
        choices = ", ".join(map(repr, DEVICES[:-1]))
        raise ValueError(f"training.device must be {choices} or {DEVICES[-1]!r}, got {name!r}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("training.device is 'cuda' but torch finds no CUDA device here "
                         f"(torch {torch.__version__}); use 'auto' or 'cpu'")
    return torch.device(name)


def _member_losses(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of every member: ``logits (K, B, C)``, ``y (K, B)`` -> ``(K,)``.

    The classes are moved to the middle axis first: torch's CPU log-softmax over a short last axis (10 classes)
    is several times slower than over a middle one.
    """
    by_class = logits.transpose(1, 2).contiguous()
    return F.cross_entropy(by_class, y, reduction="none").mean(dim=1)


class FlatAdam:
    """Adam (torch's formula, no weight decay: the caller adds it) over one parameter tensor.

    ``torch.optim.Adam`` spends most of a small step in its Python bookkeeping; over the one ``(members, slot)``
    tensor of a population the step is a single fused kernel (``torch._fused_adam_``, on every device torch
    has it for) or, where that is missing, five elementwise operations. Either way it computes what
    ``torch.optim.Adam(lr=lr)`` computes, element by element.

    Examples
    --------
    >>> p = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    >>> reference = torch.nn.Parameter(p.detach().clone())
    >>> mine, theirs = FlatAdam(p, lr=0.1), torch.optim.Adam([reference], lr=0.1)
    >>> for _ in range(3):
    ...     p.grad, reference.grad = p.detach() * 2, reference.detach() * 2
    ...     mine.step(); theirs.step()
    >>> torch.allclose(p, reference)
    True
    """

    def __init__(self, parameter: torch.Tensor, lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        self.parameter, self.lr, self.betas, self.eps = parameter, float(lr), betas, float(eps)
        self.exp_avg = torch.zeros_like(parameter, memory_format=torch.preserve_format)
        self.exp_avg_sq = torch.zeros_like(parameter, memory_format=torch.preserve_format)
        self.steps = 0
        self._step_tensor = torch.zeros((), dtype=torch.float32, device=parameter.device)
        self.fused = hasattr(torch, "_fused_adam_") and parameter.device.type != "meta"

    def step(self) -> None:
        """One Adam step with ``parameter.grad``; a parameter without a gradient is left as it is."""
        grad = self.parameter.grad
        if grad is None:
            return
        self.steps += 1
        beta1, beta2 = self.betas
        with torch.no_grad():
            if self.fused:
                try:
                    self._step_tensor.fill_(self.steps)
                    torch._fused_adam_([self.parameter], [grad], [self.exp_avg], [self.exp_avg_sq], [],
                                       [self._step_tensor], amsgrad=False, lr=self.lr, beta1=beta1, beta2=beta2,
                                       weight_decay=0.0, eps=self.eps, maximize=False)
                    return
                except (RuntimeError, NotImplementedError, TypeError):  # no kernel for this device or dtype, or
                    # another torch's signature of the (private) op: the formula below is the same Adam
                    self.fused = False
            self.exp_avg.lerp_(grad, 1 - beta1)
            self.exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            correction1, correction2 = 1 - beta1 ** self.steps, 1 - beta2 ** self.steps
            denominator = (self.exp_avg_sq.sqrt() / math.sqrt(correction2)).add_(self.eps)
            self.parameter.addcdiv_(self.exp_avg, denominator, value=-self.lr / correction1)


class _Freezer:
    """Keeps the members whose loss turned non-finite at their last finite parameters, without gradient.

    ``flat`` is the population's ``(members, slot)`` parameter: a member is one row.
    """

    def __init__(self, flat: torch.nn.Parameter) -> None:
        self.flat = flat
        self.frozen = torch.zeros(flat.shape[0], dtype=torch.bool)
        self.saved: torch.Tensor | None = None
        self.any = False
        self._rows: torch.Tensor | None = None  # (K, 1) on the parameter's device, once a member froze

    def freeze(self, newly: torch.Tensor) -> None:
        """Remember the current parameters of the members ``newly`` (a ``(K,)`` bool tensor on the CPU)."""
        if self.saved is None:
            self.saved = self.flat.detach().clone()
        idx = torch.nonzero(newly).flatten().to(self.flat.device)
        self.saved.index_copy_(0, idx, self.flat.detach().index_select(0, idx))
        self.frozen |= newly
        self.any = True
        self._rows = self.frozen.to(self.flat.device)[:, None]

    def mask_gradients(self) -> None:
        if self.flat.grad is not None:
            self.flat.grad.masked_fill_(self._rows, 0.0)

    def restore(self) -> None:
        assert self.saved is not None
        with torch.no_grad():
            self.flat.copy_(torch.where(self._rows, self.saved, self.flat))


def train_members(models: Sequence[torch.nn.Module], seeds: Sequence[int], x: torch.Tensor, y: torch.Tensor,
                  config: Any, *, deadline: float, device: torch.device | str | None = None,
                  epochs: Sequence[int] | None = None, learning_rate: float | None = None,
                  weight_decay: float | None = None, at_epoch: EpochHook | None = None) -> list[str | None]:
    """Train ``K`` models at once, in place, each exactly as :func:`train_one` would; return each one's failure.

    Parameters
    ----------
    models : sequence of MaskedDeepDAN
        The members (sharing input and output sizes); trained weights are written back into them at the end
        (on their own devices).
    seeds : sequence of int
        Each member's batch-order seed.
    x, y : torch.Tensor
        Training inputs ``(n, inputs)`` and labels ``(n,)``, shared by all members.
    config : TrainingConfig
        As for :func:`train_one`.
    deadline : float
        A ``time.monotonic()`` instant for the whole batch; past it every member still training fails.
    device : torch.device or str, optional
        Where to train (the data and the population move there); default: ``x``'s device.
    epochs : sequence of int, optional
        Each member's epochs (default ``config.epochs`` for all); a member whose epochs are done keeps its
        parameters while the others go on, as if it had trained alone.
    learning_rate : float, optional
        Adam's step size for every member (default ``config.learning_rate``).
    weight_decay : float, optional
        Adam's L2 term for every member (default ``config.weight_decay``).
    at_epoch : callable, optional
        ``at_epoch(epoch, population, frozen)`` before every epoch: a ``(K,)`` bool tensor of members to stop
        there (they keep their parameters, as finished ones do), or ``None``; successive halving
        (:mod:`deepstruct.evo.halving`) stops the worse members of a batch this way.

    Returns
    -------
    list of str or None
        Per member ``None`` (trained) or the reason it failed, worded as :class:`TrainingFailure` of
        :func:`train_one`. A member whose loss turns non-finite keeps its last finite parameters and stops
        training; the others are not affected.
    """
    models = list(models)
    if len(seeds) != len(models):
        raise ValueError(f"train_members needs one seed per model: {len(models)} models, {len(seeds)} seeds")
    if not models:
        return []
    target = torch.device(device) if device is not None else x.device
    population = PopulationDAN.from_models(models, device=target)
    schedule = torch.tensor([config.epochs] * len(models) if epochs is None else list(epochs))
    if len(schedule) != len(models):
        raise ValueError(f"train_members needs one epoch count per model: {len(models)} models, "
                         f"{len(schedule)} counts")
    steps = _Steps(population, x.to(target), y.to(target), config,
                   config.learning_rate if learning_rate is None else learning_rate,
                   config.weight_decay if weight_decay is None else weight_decay, deadline)
    rngs = [np.random.default_rng(int(s)) for s in seeds]
    population.train()
    for epoch in range(int(schedule.max())):
        finished = (schedule == epoch) & ~steps.freezer.frozen
        stop = at_epoch(epoch, population, steps.freezer.frozen | finished) if at_epoch is not None else None
        if stop is not None:
            finished |= stop.cpu() & ~steps.freezer.frozen
        if bool(finished.any()):  # these members are trained: they keep their parameters from here on
            steps.freezer.freeze(finished)
            if bool(steps.freezer.frozen.all()):
                break
        order = torch.from_numpy(np.stack([rng.permutation(len(x)) for rng in rngs])).to(target)
        if not steps.epoch(order, epoch):
            break
    population.write_back(models)
    for model in models:
        model.eval()
    return steps.reasons


class _Steps:
    """The mini-batch steps of :func:`train_members` over one population: forward, the members' losses,
    freezing the ones that turn non-finite, backward, weight decay, one :class:`FlatAdam` step."""

    def __init__(self, population: PopulationDAN, x: torch.Tensor, y: torch.Tensor, config: Any, lr: float,
                 weight_decay: float, deadline: float) -> None:
        self.population, self.x, self.y, self.config, self.deadline = population, x, y, config, deadline
        self.weight_decay = weight_decay
        self.flat = population.flat
        self.optimiser = FlatAdam(self.flat, lr=lr)
        self.freezer = _Freezer(self.flat)
        self.reasons: list[str | None] = [None] * self.flat.shape[0]

    def epoch(self, order: torch.Tensor, epoch: int) -> bool:
        """One epoch over ``order`` (a ``(K, n)`` permutation per member); ``False`` when training must stop
        (every member frozen, or the deadline passed)."""
        k, x, batch_size = len(self.reasons), self.x, self.config.batch_size
        for start in range(0, len(x), batch_size):
            index = order[:, start: start + batch_size].reshape(-1)
            batch = F.embedding(index, x).view(k, -1, x.shape[1])  # a row gather, faster than index_select
            losses = _member_losses(self.population(batch), self.y.index_select(0, index).view(k, -1))
            total = self._finite_total(losses, epoch)
            if total is None:
                return False
            self._step(total)
            if time.monotonic() > self.deadline:
                for i in range(k):
                    if self.reasons[i] is None and not bool(self.freezer.frozen[i]):  # frozen: trained, or failed
                        self.reasons[i] = _late(self.config, epoch)
                return False
        return True

    def _finite_total(self, losses: torch.Tensor, epoch: int) -> torch.Tensor | None:
        """The sum of the losses of the members still training (a member whose loss turns non-finite is frozen
        here, with its reason); ``None`` when every member is frozen."""
        total = losses.sum()
        freezer = self.freezer
        if freezer.any or not bool(torch.isfinite(total.detach())):  # one check while all are finite
            newly = ~torch.isfinite(losses.detach()).cpu() & ~freezer.frozen
            if bool(newly.any()):
                values = losses.detach().cpu().tolist()
                for i in torch.nonzero(newly).flatten().tolist():
                    self.reasons[i] = _nonfinite(values[i], epoch)
                freezer.freeze(newly)
                if bool(freezer.frozen.all()):
                    return None
            total = torch.where(freezer.frozen.to(losses.device), torch.zeros_like(losses), losses).sum()
        return total

    def _step(self, total: torch.Tensor) -> None:
        flat, freezer = self.flat, self.freezer
        flat.grad = None
        total.backward()
        if freezer.any:
            freezer.mask_gradients()
        if self.weight_decay:  # Adam's L2 term, only where the member's own model has a gradient
            flat.grad.addcmul_(flat.detach(), self.population.live, value=self.weight_decay)
        self.optimiser.step()
        if freezer.any:
            freezer.restore()


def evaluate_members(members: Sequence[torch.nn.Module] | PopulationDAN, x: torch.Tensor,
                     y: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy and mean cross-entropy loss of every member on ``(x, y)``, in one forward pass.

    ``members`` is a :class:`PopulationDAN` or a sequence of models (stacked here, on ``x``'s device). The
    values equal the per-model ``float((model(x).argmax(1) == y).float().mean())`` and
    ``float(F.cross_entropy(model(x), y))``.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ``accuracy`` and ``loss``, float64 arrays of shape ``(K,)``.
    """
    population = members if isinstance(members, PopulationDAN) else PopulationDAN.from_models(
        list(members), device=x.device)
    device = population.flat.device
    x, y = x.to(device), y.to(device)
    with torch.no_grad():
        logits = population(x)
        k, b, c = logits.shape
        loss = F.cross_entropy(logits.reshape(k * b, c), y.repeat(k), reduction="none").view(k, b).mean(dim=1)
        accuracy = (logits.argmax(dim=2) == y).float().mean(dim=1)
    return accuracy.cpu().double().numpy(), loss.cpu().double().numpy()
