"""Lottery tickets (Frankle & Carbin): iterative magnitude pruning with rewinding to the initial weights."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from deepstruct._validation import check_fraction, check_int
from deepstruct.pruning.masks import _layers, output_layer, prune_by_magnitude, prune_random
from deepstruct.sparse import MaskedLinearLayer, maskable_layers
from deepstruct.sparse.connections import count_set

__all__ = ["PruningRound", "iterative_magnitude_pruning", "snapshot_weights", "rewind_weights", "reinitialize",
           "masks_of", "set_masks"]


@dataclass(frozen=True)
class PruningRound:
    """One round of iterative pruning: its index, the density trained at, and what ``train_fn`` returned."""

    round: int
    density: float
    result: Any
    masks: dict[str, torch.Tensor] = field(repr=False)


def _mask_keys(model: nn.Module) -> set[str]:
    return {f"{name}.mask" if name else "mask" for name, m in model.named_modules() if isinstance(m, MaskedLinearLayer)}


def snapshot_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """A copy of every parameter and buffer except the masks: the point to rewind to."""
    masks = _mask_keys(model)
    return {k: v.detach().clone() for k, v in model.state_dict().items() if k not in masks}


def rewind_weights(model: nn.Module, snapshot: dict[str, torch.Tensor]) -> None:
    """Copy ``snapshot`` (from :func:`snapshot_weights`, or a ``state_dict``) back into ``model``, keeping its
    current masks: masks in the snapshot are ignored, so a rewind never revives a pruned weight."""
    state = model.state_dict()
    missing = [k for k in snapshot if k not in state]
    if missing:
        raise ValueError(f"snapshot has entries the model lacks: {missing[:5]}")
    masks = _mask_keys(model)
    with torch.no_grad():
        for k, v in snapshot.items():
            if k not in masks:
                state[k].copy_(v)


def masks_of(model: nn.Module) -> dict[str, torch.Tensor]:
    """A copy of every mask, by module name."""
    return {name: m.mask.detach().clone() for name, m in model.named_modules() if isinstance(m, MaskedLinearLayer)}


def set_masks(model: nn.Module, masks: dict[str, torch.Tensor]) -> None:
    """Set the masks of ``model``'s masked layers from :func:`masks_of` output (same module names)."""
    modules = dict(model.named_modules())
    for name, mask in masks.items():
        layer = modules.get(name)
        if not isinstance(layer, MaskedLinearLayer):
            raise ValueError(f"model has no masked layer named {name!r}")
        layer.set_mask(mask)


def reinitialize(model: nn.Module, *, generator: torch.Generator) -> None:
    """The random re-initialisation control: fresh weights in every masked layer, same masks (fan-in scaled)."""
    for layer in maskable_layers(model):
        layer.reset_parameters(generator=generator)


def iterative_magnitude_pruning(
    model: nn.Module,
    train_fn: Callable[[nn.Module], Any],
    *,
    rounds: int,
    rate: float = 0.2,
    output_rate: float | None = None,
    scope: str = "layer",
    control: str = "rewind",
    generator: np.random.Generator | torch.Generator | None = None,
    initial: dict[str, torch.Tensor] | None = None,
) -> list[PruningRound]:
    """Find a lottery ticket: train, prune ``rate`` of the remaining weights, reset, retrain; ``rounds`` times.

    Round 0 trains the model as it is; each later round prunes by the magnitude of the weights just trained
    (``rate`` per layer, or globally with ``scope="global"``; the output layer at ``output_rate``, by default
    ``rate``), then resets the surviving weights and trains again.

    Parameters
    ----------
    model : nn.Module
        A model of masked layers; trained and pruned in place.
    train_fn : callable
        ``train_fn(model) -> result`` trains the model in place and returns anything (e.g. test accuracy).
    rounds : int
        Pruning rounds after the first training (``rounds=0`` only trains).
    rate, output_rate : float
        Fraction of the remaining connections pruned per round (hidden layers, output layer).
    scope : {"layer", "global"}
        As in :func:`~deepstruct.pruning.prune_by_magnitude`.
    control : {"rewind", "reinit", "random"}
        ``"rewind"``: survivors go back to their initial values (the lottery ticket). ``"reinit"``: same
        magnitude masks, fresh random weights each round (the control; needs ``generator``). ``"random"``:
        prune at random instead of by magnitude, then rewind (random pruning; needs ``generator``).
    generator : numpy.random.Generator or torch.Generator, optional
        Randomness of the ``"reinit"`` and ``"random"`` controls.
    initial : dict, optional
        The weights to rewind to (from :func:`snapshot_weights`); by default the model's weights on entry.

    Returns
    -------
    list of PruningRound
        ``rounds + 1`` entries with the density, the ``train_fn`` result and the masks of each round.
    """
    check_int("rounds", rounds, low=0)
    rate = check_fraction("rate", rate)
    output_rate = rate if output_rate is None else check_fraction("output_rate", output_rate)
    if control not in ("rewind", "reinit", "random"):
        raise ValueError(f"control must be 'rewind', 'reinit' or 'random', got {control!r}")
    if control != "rewind" and generator is None:
        raise ValueError(f"control={control!r} needs an explicit generator")
    if control == "reinit" and not isinstance(generator, torch.Generator):
        seed = int(generator.integers(2**62))  # type: ignore[union-attr]
        generator = torch.Generator().manual_seed(seed)
    _layers(model, True)
    start = snapshot_weights(model) if initial is None else initial
    out = output_layer(model)
    history: list[PruningRound] = []
    for r in range(rounds + 1):
        if r > 0:
            if control == "random":
                prune_random(model, rate, generator=generator, scope=scope, include_output=False)  # type: ignore[arg-type]
                if out is not None and output_rate > 0:
                    prune_random(out, output_rate, generator=generator)  # type: ignore[arg-type]
            else:
                prune_by_magnitude(model, rate, scope=scope, include_output=False)
                if out is not None and output_rate > 0:
                    prune_by_magnitude(out, output_rate)
            if control == "reinit":
                rewind_weights(model, start)
                reinitialize(model, generator=generator)  # type: ignore[arg-type]
            else:
                rewind_weights(model, start)
        active, total = count_set(maskable_layers(model))
        density = active / total
        history.append(PruningRound(r, density, train_fn(model), masks_of(model)))
    return history
