"""The fitness of one genome: decode -> train -> evaluate (-> prune -> re-encode). Runs in a worker.

Everything that crosses in or out is plain data: a genome dict, a seed, a dict of numpy arrays and the
training settings as a dict; the result is a dict ``{"values", "reason", "genome", "stats"}``. Any failure
(an exception, a NaN/inf loss, the deadline) becomes a penalty fitness with the reason, never an exception.
"""

from __future__ import annotations

import math
import time
import traceback
import warnings
from typing import Any

import numpy as np

from deepstruct.evo.config import OBJECTIVES, TrainingConfig
from deepstruct.genomes import Genome, GenomeLimits

__all__ = ["evaluate_genome", "train_genome", "repeat_seed", "penalty_result", "PENALTY"]

#: Worst value of a minimised objective (finite, so that checkpoints stay strict JSON).
PENALTY = 1e9


def penalty_result(objectives: tuple[str, ...] | list[str], reason: str) -> dict[str, Any]:
    """The result of an individual that could not be evaluated: the worst value of every objective."""
    values = [0.0 if OBJECTIVES[name] > 0 else PENALTY for name in objectives]
    return {"values": values, "reason": reason, "genome": None, "stats": {}}


class _Failure(Exception):
    """An evaluation that ends in a penalty (NaN loss, deadline)."""


def _accuracy_and_loss(model: Any, x: Any, y: Any) -> tuple[float, float]:
    import torch
    import torch.nn.functional as F

    with torch.no_grad():
        logits = model(x)
        loss = float(F.cross_entropy(logits, y))
        accuracy = float((logits.argmax(dim=1) == y).float().mean())
    return accuracy, loss


def _train(model: Any, x: Any, y: Any, training: TrainingConfig, seed: int, deadline: float) -> None:
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=training.learning_rate, weight_decay=training.weight_decay)
    n = len(x)
    model.train()
    for epoch in range(training.epochs):
        order = torch.from_numpy(rng.permutation(n))
        for start in range(0, n, training.batch_size):
            index = order[start: start + training.batch_size]
            loss = F.cross_entropy(model(x[index]), y[index])
            if not torch.isfinite(loss):
                raise _Failure(f"non-finite loss ({float(loss.detach())}) in epoch {epoch}")
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            if time.monotonic() > deadline:
                raise _Failure(f"deadline of {training.deadline_s} s passed in epoch {epoch}")
    model.eval()


def _count(model: Any) -> dict[str, float]:
    from deepstruct.sparse import maskable_layers

    layers = maskable_layers(model)
    params = sum(int(layer.mask.sum()) for layer in layers)
    params += sum(layer.bias.numel() for layer in layers if layer.bias is not None)
    sources, _, _ = model.edge_arrays()
    return {"params": float(params), "edges": float(len(sources)), "depth": float(model.num_layers),
            "vertices": float(sum(len(vs) for vs in model.layer_vertices)), "density": float(model.density())}


def evaluate_genome(genome: dict[str, Any], seed: int, data: dict[str, np.ndarray],
                    training: dict[str, Any]) -> dict[str, Any]:
    """Train and score one genome; the pure function every evaluator calls (serial or on a Ray worker).

    Parameters
    ----------
    genome : dict
        ``Genome.to_dict()`` output.
    seed : int
        Seed of the initial weights (where the genome carries none) and of the batch order.
    data : dict of numpy arrays
        ``x_train, y_train, x_val, y_val, x_test, y_test`` (see :meth:`deepstruct.evo.tasks.Task.arrays`).
    training : dict
        :class:`deepstruct.evo.config.TrainingConfig` fields, plus optional ``max_vertices``/``max_edges``.

    Returns
    -------
    dict
        ``values`` (one float per objective), ``reason`` (``None`` or why it got a penalty), ``genome`` (the
        re-encoded genome dict in Lamarckian mode, else ``None``), ``stats`` and ``seconds``.

    Notes
    -----
    ``stats`` (after pruning, if any): ``accuracy`` and ``loss`` on the validation split (the fitness),
    ``test_accuracy``, ``trained_accuracy`` (validation, before pruning), ``params`` (set connections of every
    masked layer, input and output layers included, plus biases), ``edges`` (hidden-to-hidden connections),
    ``vertices``, ``depth`` (layers) and ``density`` (set fraction of the masked matrices).
    """
    settings = {k: v for k, v in training.items() if k not in ("max_vertices", "max_edges")}
    config = TrainingConfig(**settings)
    started = time.monotonic()
    try:
        model, stats, new_genome = train_genome(genome, seed, data, training)
        values = [float(stats[name]) for name in config.objectives]
        return {"values": values, "reason": None, "genome": new_genome, "stats": stats,
                "seconds": time.monotonic() - started}
    except _Failure as failure:
        return penalty_result(config.objectives, str(failure))
    except Exception as exc:  # noqa: BLE001 - any failure of one individual becomes its penalty
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return penalty_result(config.objectives,
                              f"{type(exc).__name__}: {exc} (at {where.filename.rsplit('/', 1)[-1]}:{where.lineno})")


def repeat_seed(seed: int, repeat: int) -> int:
    """The seed of training repeat ``repeat`` of an individual whose seed is ``seed`` (repeat 0 keeps it)."""
    if repeat == 0:
        return int(seed)
    return int(np.random.SeedSequence([int(seed), int(repeat)]).generate_state(1)[0]) & 0x7FFFFFFF


#: Statistics averaged over the training repeats (the rest describe the structure, equal for every repeat).
_AVERAGED = ("accuracy", "loss", "test_accuracy", "trained_accuracy")


def train_genome(genome: dict[str, Any], seed: int, data: dict[str, np.ndarray],
                 training: dict[str, Any]) -> tuple[Any, dict[str, Any], dict[str, Any] | None]:
    """Decode, train, evaluate and (optionally) prune one genome ``training["seeds"]`` times; raise on failure.

    Every repeat trains from its own initial weights and batch order (seeds :func:`repeat_seed`); accuracies
    and losses are averaged, which makes the fitness less of a lottery on one initialisation. ``stats`` also
    holds ``accuracy_spread`` (max - min validation accuracy over the repeats). Returns the model, the
    statistics and, in Lamarckian mode, the re-encoded genome dict of the first repeat.
    """
    import torch

    config = TrainingConfig(**{k: v for k, v in training.items() if k not in ("max_vertices", "max_edges")})
    deadline = time.monotonic() + config.deadline_s
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread per evaluation; restored for the caller
    try:
        limits = GenomeLimits(max_vertices=int(training.get("max_vertices", 10_000)),
                              max_edges=int(training.get("max_edges", 200_000)))
        parent = Genome.from_dict(genome, limits=limits)
        with warnings.catch_warnings():  # Ray's object store hands out read-only arrays; they are only ever read
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            tensors = {k: torch.from_numpy(np.asarray(v)) for k, v in data.items()}
        runs = [_train_once(parent, repeat_seed(seed, r), tensors, config, deadline) for r in range(config.seeds)]
    finally:
        torch.set_num_threads(threads)
    model, stats, new_genome = runs[0]
    if len(runs) > 1:
        accuracies = [run[1]["accuracy"] for run in runs]
        means = {name: float(np.mean([run[1][name] for run in runs])) for name in _AVERAGED}
        stats.update(means, accuracy_spread=float(max(accuracies) - min(accuracies)))
    return model, stats, new_genome


def _train_once(parent: Genome, seed: int, tensors: dict[str, Any], config: TrainingConfig,
                deadline: float) -> tuple[Any, dict[str, Any], dict[str, Any] | None]:
    import torch

    from deepstruct.evo import _adapters

    generator = torch.Generator().manual_seed(int(seed))
    model = _adapters.decode(parent, generator=generator, load_weights=config.mode == "lamarckian")
    _train(model, tensors["x_train"], tensors["y_train"], config, seed, deadline)
    stats: dict[str, Any] = {}
    stats["trained_accuracy"], _ = _accuracy_and_loss(model, tensors["x_val"], tensors["y_val"])
    new_genome = None
    if config.prune_amount > 0 and config.mode != "none":
        _adapters.prune(model, config.prune_amount)
    if config.mode == "lamarckian":
        new_genome = _adapters.encode(model, parent, include_weights=True).to_dict()
    accuracy, loss = _accuracy_and_loss(model, tensors["x_val"], tensors["y_val"])
    test_accuracy, _ = _accuracy_and_loss(model, tensors["x_test"], tensors["y_test"])
    if not math.isfinite(loss):
        raise _Failure(f"non-finite validation loss ({loss})")
    stats.update(_count(model), accuracy=accuracy, loss=loss, test_accuracy=test_accuracy)
    return model, stats, new_genome
