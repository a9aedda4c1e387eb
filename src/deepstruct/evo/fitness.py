"""The fitness of a batch of genomes: decode -> train -> evaluate (-> prune -> re-encode). Runs in a worker.

:func:`evaluate_requests` is the pure function every evaluator calls (in process or in a Ray task): it takes
:class:`~deepstruct.evo.protocol.EvaluationRequest` s and returns one
:class:`~deepstruct.evo.protocol.EvaluationResult` per request. Every (genome, training seed) pair of the batch
is a *member*; with ``batched=True`` all members that are ``MaskedDeepDAN`` s train together in one tensor
program (:func:`deepstruct.evo.training.train_members`), otherwise one after the other
(:func:`deepstruct.evo.training.train_one`) — the two give the same results within float tolerance. Any failure
of one member (an exception while building it, a NaN/inf loss, the deadline) becomes the penalty of its request
with the reason, never an exception, and never touches the other requests.

The choices the run makes are explicit settings of :class:`~deepstruct.evo.config.TrainingConfig`: the phenotype
family (``phenotype``), which masked matrices are pruned (``prune_layers``: all of them, which the genome holds,
or the hidden ones) and how (``prune_scope``), the device.
"""

from __future__ import annotations

import math
import time
import traceback
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from deepstruct.evo.config import TrainingConfig
from deepstruct.evo.protocol import PENALTY, EvaluationRequest, EvaluationResult, repeat_seed
from deepstruct.evo.repeats import combine, repeat_stats
from deepstruct.genomes import Genome, GenomeLimits

__all__ = ["evaluate_requests", "evaluate_genome", "train_genome", "decode_member", "prune_model", "penalty_result",
           "repeat_seed", "PENALTY"]


def penalty_result(objectives: Sequence[str], reason: str) -> dict[str, Any]:
    """A penalty as a plain dict (``values``, ``reason``, ``genome``, ``stats``), for user fitness functions."""
    result = EvaluationResult.penalty("", objectives, reason)
    return {"values": list(result.values), "reason": reason, "genome": None, "stats": {}}


def decode_member(genome: Genome, seed: int, training: TrainingConfig, *, validate: bool = True) -> Any:
    """The phenotype of ``genome`` with initial weights from ``seed`` (inherited ones loaded in Lamarckian mode);
    ``validate=False`` for a genome validated already."""
    import torch

    from deepstruct.genomes.phenotype import decode

    generator = torch.Generator().manual_seed(int(seed))
    return decode(genome, kind=training.phenotype, generator=generator, load_weights=training.mode == "lamarckian",
                  validate=validate)


def prune_model(model: Any, amount: float, *, layers: str = "all", scope: str = "layer") -> None:
    """Magnitude pruning of ``amount`` of the connections of the masked matrices ``layers`` names.

    ``layers="all"``: every masked matrix (input and output layers included: the genome holds them all);
    ``"hidden"``: the matrices between hidden vertices only (``model.layers[1:]``). ``scope`` is ``"layer"``
    (the same fraction of every matrix) or ``"global"`` (one threshold over all of them).
    """
    from torch import nn

    from deepstruct.pruning import prune_by_magnitude
    from deepstruct.sparse import maskable_layers

    chosen = maskable_layers(model) if layers == "all" else list(model.layers[1:])
    if chosen:
        prune_by_magnitude(nn.ModuleList(chosen), amount, scope=scope)


def _accuracy_and_loss(model: Any, x: Any, y: Any) -> tuple[float, float]:
    import torch
    import torch.nn.functional as F

    with torch.no_grad():
        logits = model(x)
        loss = float(F.cross_entropy(logits, y))
        accuracy = float((logits.argmax(dim=1) == y).float().mean())
    return accuracy, loss


def _count(model: Any, genome: Genome | None = None) -> dict[str, float]:
    """The size statistics (:mod:`deepstruct.genomes.size`) of the evaluated network: the re-encoded ``genome``
    when there is one (Lamarckian: the network the child inherits), else the model read from its masks."""
    from deepstruct.genomes.size import genome_size, model_size

    size = genome_size(genome) if genome is not None else model_size(model)
    return {**size.as_stats(), "density": float(model.density())}


@dataclass
class _Member:
    """One (request, training repeat) pair of a batch."""

    request: int
    repeat: int
    seed: int
    model: Any
    schedule: tuple[int, float, float]  # epochs, learning rate, weight decay
    reason: str | None = None
    trained: int = -1  # epochs trained: the schedule's, or fewer when successive halving stopped it
    halving: bool = True  # successive halving may stop it (not a re-evaluation: that trains its whole schedule)


def _where(exc: BaseException) -> str:
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    at = f" (at {frame.filename.rsplit('/', 1)[-1]}:{frame.lineno})" if frame else ""
    return f"{type(exc).__name__}: {exc}{at}"


def _train(members: list[_Member], tensors: dict[str, Any], training: TrainingConfig, deadline: float,
           batched: bool, device: Any) -> None:
    """Train every member in place; a failure is recorded as the member's ``reason``."""
    from deepstruct.evo.halving import Halving
    from deepstruct.evo.training import TrainingFailure, train_members, train_one

    together = [m for m in members if batched and hasattr(m.model, "matrix_inputs")]
    alone = [m for m in members if m not in together]
    for rate, decay in sorted({m.schedule[1:] for m in together}):  # one Adam per tensor program
        group = [m for m in together if m.schedule[1:] == (rate, decay)]
        if len(group) == 1:
            alone += group
            continue
        halving = Halving(training.halving_epoch, training.halving_keep, tensors["x_val"], tensors["y_val"],
                          [m.request for m in group]) if training.halving_epoch and all(m.halving for m in group) \
            else None
        reasons = train_members([m.model for m in group], [m.seed for m in group], tensors["x_train"],
                                tensors["y_train"], training, deadline=deadline, device=device,
                                epochs=[m.schedule[0] for m in group], learning_rate=rate, weight_decay=decay,
                                at_epoch=halving)
        for member, reason in zip(group, reasons, strict=True):
            member.reason = reason
            if halving is not None and member.request in halving.stopped:
                member.trained = training.halving_epoch
    for member in alone:
        try:
            train_one(member.model, tensors["x_train"], tensors["y_train"], training, member.seed, deadline,
                      *member.schedule)
        except TrainingFailure as failure:
            member.reason = str(failure)


def _score(member: _Member, parent: Genome, tensors: dict[str, Any],
           training: TrainingConfig) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Validation before pruning, prune, re-encode (Lamarckian), then the statistics of the pruned model."""
    model = member.model
    model.eval()
    stats: dict[str, Any] = {}
    stats["trained_accuracy"], _ = _accuracy_and_loss(model, tensors["x_val"], tensors["y_val"])
    new_genome, encoded = None, None
    if training.prune_amount > 0 and training.mode != "none":
        prune_model(model, training.prune_amount, layers=training.prune_layers, scope=training.prune_scope)
    if training.mode == "lamarckian" and member.repeat == 0:
        from deepstruct.genomes.phenotype import encode

        encoded = encode(model, num_inputs=parent.num_inputs, include_weights=True, template=parent)
        new_genome = encoded.to_dict()
    accuracy, loss = _accuracy_and_loss(model, tensors["x_val"], tensors["y_val"])
    if not math.isfinite(loss):
        raise ValueError(f"non-finite validation loss ({loss})")
    test_accuracy, _ = _accuracy_and_loss(model, tensors["x_test"], tensors["y_test"])
    stats.update(_count(model, encoded), accuracy=accuracy, loss=loss, test_accuracy=test_accuracy)
    return stats, new_genome


Run = tuple[dict[str, Any], dict[str, Any] | None, Any]  # one member's statistics, re-encoded genome and model


def _build(requests: Sequence[EvaluationRequest], training: TrainingConfig,
           failures: dict[int, str]) -> tuple[dict[int, Genome], list[_Member]]:
    """Every request's genome (the worker's input: validated here, once) and its members; a request that cannot
    be built gets its failure and no members."""
    parents: dict[int, Genome] = {}
    members: list[_Member] = []
    for i, request in enumerate(requests):
        try:
            parents[i] = request.load_genome()
            members.extend(_Member(i, r, seed, decode_member(parents[i], seed, training, validate=False),
                                   request.schedule, halving=not request.reevaluates)
                           for r, seed in zip(request.repeats, request.repeat_seeds(), strict=True))
        except Exception as exc:  # noqa: BLE001 - building one member only fails that member's request
            failures[i] = _where(exc)
            members = [m for m in members if m.request != i]
    return parents, members


def _scored(members: list[_Member], parents: dict[int, Genome], tensors: dict[str, Any], training: TrainingConfig,
            failures: dict[int, str]) -> dict[int, list[Run]]:
    """The statistics of every trained member, by request; a member's failure fails its request."""
    runs: dict[int, list[Run]] = {}
    for member in members:
        if member.request in failures:
            continue
        if member.reason is not None:
            failures[member.request] = member.reason
            continue
        try:
            stats, new_genome = _score(member, parents[member.request], tensors, training)
            stats["epochs"] = float(member.trained if member.trained >= 0 else member.schedule[0])
        except Exception as exc:  # noqa: BLE001
            failures[member.request] = _where(exc)
            continue
        runs.setdefault(member.request, []).append((stats, new_genome, member.model))
    return runs


def _result(request: EvaluationRequest, runs: list[Run], share: float) -> EvaluationResult:
    """A request's result from its members' runs: the first repeat's statistics and genome, the averaged ones
    over all repeats (:func:`deepstruct.evo.repeats.combine`), and with several repeats each one's averaged
    statistics (one repeat's are its statistics: :func:`deepstruct.evo.repeats.per_repeat` reads them there)."""
    per = tuple(repeat_stats(run[0]) for run in runs)
    stats = combine(runs[0][0], per)
    values = tuple(float(stats[name]) for name in request.training.objectives)
    return EvaluationResult(request.key, values, None, runs[0][1], stats, share, request.genome, request.repeats,
                            per if len(per) > 1 else ())


def _run(requests: Sequence[EvaluationRequest], data: dict[str, np.ndarray],
         batched: bool) -> tuple[list[EvaluationResult], list[Any]]:
    """The results and, per request, the trained model of its first repeat (``None`` on a penalty)."""
    import torch

    from deepstruct.evo.training import resolve_device

    if not requests:
        return [], []
    training = requests[0].training
    if any(r.training != training for r in requests):
        raise ValueError("every request of one batch must have the same training settings")
    started = time.monotonic()
    deadline = started + training.deadline_s * len(requests)  # the budget of evaluating them one by one
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread per evaluation; restored for the caller
    failures: dict[int, str] = {}
    try:
        device = resolve_device(training.device)
        with warnings.catch_warnings():  # Ray's object store hands out read-only arrays; they are only ever read
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            tensors = {k: torch.from_numpy(np.asarray(v)) for k, v in data.items()}
        parents, members = _build(requests, training, failures)
        _train(members, tensors, training, deadline, batched, device)
        runs = _scored(members, parents, tensors, training, failures)
    finally:
        torch.set_num_threads(threads)
    share = (time.monotonic() - started) / len(requests)
    results = [EvaluationResult.penalty(r, training.objectives, failures[i], share) if i in failures
               else _result(r, runs[i], share) for i, r in enumerate(requests)]
    return results, [None if i in failures else runs[i][0][2] for i in range(len(requests))]


def evaluate_requests(requests: Sequence[EvaluationRequest], data: dict[str, np.ndarray], *,
                      batched: bool = True) -> list[EvaluationResult]:
    """Train and score a batch of genomes; one result per request, in order.

    Parameters
    ----------
    requests : sequence of EvaluationRequest
        The batch (all with the same ``training`` settings).
    data : dict of numpy arrays
        ``x_train, y_train, x_val, y_val, x_test, y_test`` (see :meth:`deepstruct.evo.tasks.Task.arrays`).
    batched : bool
        Train every member (request x training repeat) of the batch in one tensor program; ``False`` trains
        them one by one (``evaluator.batch = 1``).

    Notes
    -----
    ``stats`` (after pruning, if any): ``accuracy`` and ``loss`` on the validation split (the fitness),
    ``test_accuracy``, ``trained_accuracy`` (validation, before pruning), each the mean over the
    ``training.seeds`` repeats (and ``accuracy_spread``, max - min validation accuracy), the network's size as
    :mod:`deepstruct.genomes.size` defines it (``vertices``, ``hidden_edges`` = ``edges``, ``interface_edges``,
    ``connections``, ``params``, ``depth``; of the re-encoded genome in Lamarckian mode, else of the pruned model)
    and ``density``. In Lamarckian mode ``genome`` is the first repeat's trained, pruned network re-encoded.
    """
    return _run(requests, data, batched)[0]


def train_genome(genome: dict[str, Any], seed: int, data: dict[str, np.ndarray], training: TrainingConfig,
                 limits: GenomeLimits | None = None) -> tuple[Any, EvaluationResult]:
    """Train one genome as its evaluation did (one by one) and return the first repeat's model and the result."""
    request = EvaluationRequest("", genome, int(seed), training, limits or GenomeLimits())
    results, models = _run([request], data, batched=False)
    if models[0] is None:
        raise ValueError(f"the genome could not be trained: {results[0].reason}")
    return models[0], results[0]


def evaluate_genome(genome: dict[str, Any], seed: int, data: dict[str, np.ndarray],
                    training: TrainingConfig | dict[str, Any], limits: GenomeLimits | None = None) -> dict[str, Any]:
    """The fitness of one genome as a plain dict (``values``, ``reason``, ``genome``, ``stats``, ``seconds``).

    A convenience for user loops such as ``examples/ask_tell.py``; evaluators call :func:`evaluate_requests`.
    """
    if isinstance(training, dict):
        training = TrainingConfig(**training)
    request = EvaluationRequest("", genome, int(seed), training, limits or GenomeLimits())
    result = evaluate_requests([request], data, batched=False)[0]
    return {"values": list(result.values), "reason": result.reason, "genome": result.genome, "stats": result.stats,
            "seconds": result.seconds}
