"""Mask computation on masked layers: magnitude pruning (per layer or global), random pruning, density report.

Pruning only ever clears mask entries: a connection that is masked stays masked (pruned weights stay pruned),
and the raw weights are left as they are (the effective weight is ``weight * mask``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from deepstruct._validation import check_fraction
from deepstruct.sparse import MaskedLinearLayer, magnitude_threshold, maskable_layers
from deepstruct.sparse.connections import count_set

__all__ = ["prune_by_magnitude", "prune_random", "density_report", "format_density_report", "output_layer", "SCOPES"]

SCOPES = ("layer", "global")
"""How pruning ranks weights: within each layer, or over all pruned layers together."""


def _check_scope(scope: str) -> None:
    if scope not in SCOPES:
        raise ValueError(f"scope must be {' or '.join(map(repr, SCOPES))}, got {scope!r}")


def output_layer(model: nn.Module) -> MaskedLinearLayer | None:
    """The model's output layer: its ``output`` attribute if that is a masked layer, else its last masked layer."""
    out = getattr(model, "output", None)
    if isinstance(out, MaskedLinearLayer):
        return out
    layers = maskable_layers(model)
    return layers[-1] if layers else None


def _layers(model: nn.Module, include_output: bool) -> list[MaskedLinearLayer]:
    layers = maskable_layers(model)
    if not layers:
        raise ValueError(f"{type(model).__name__} has no masked layers (MaskedLinearLayer) to prune")
    if not include_output:
        out = output_layer(model)
        layers = [layer for layer in layers if layer is not out]
    return layers


def _clear_ranked(layers: Sequence[MaskedLinearLayer], amount: float,
                  rank: Callable[[list[torch.Tensor], int], torch.Tensor]) -> None:
    """Clear ``round(amount * n)`` of the ``n`` set connections of ``layers`` taken together: the first ones of
    ``rank(positions, n)``, a permutation of ``0 .. n - 1`` over the set positions (flat indices into each mask,
    layer after layer)."""
    with torch.no_grad():
        positions = [torch.nonzero(layer.mask.view(-1), as_tuple=True)[0] for layer in layers]
        remaining = sum(int(p.numel()) for p in positions)
        k = int(round(amount * remaining))
        if k == 0:
            return
        drop = torch.zeros(remaining, dtype=torch.bool)
        drop[rank(positions, remaining)[:k].cpu()] = True
        start = 0
        for layer, pos in zip(layers, positions, strict=True):
            part = drop[start:start + pos.numel()].to(pos.device)
            start += pos.numel()
            layer.mask.view(-1)[pos[part]] = False


def _clear_smallest(layers: Sequence[MaskedLinearLayer], amount: float) -> None:
    """Clear the ``round(amount * n)`` smallest-magnitude set connections among ``layers`` taken together."""
    def by_magnitude(positions: list[torch.Tensor], n: int) -> torch.Tensor:
        scores = [layer.weight.detach().reshape(-1)[pos].abs() for layer, pos in zip(layers, positions, strict=True)]
        return torch.argsort(torch.cat(scores), stable=True)

    _clear_ranked(layers, amount, by_magnitude)


def prune_by_magnitude(
    model: nn.Module,
    amount: float | None = None,
    *,
    threshold: float | None = None,
    scope: str = "layer",
    include_output: bool = True,
) -> nn.Module:
    """Magnitude pruning of every masked layer, in place.

    Parameters
    ----------
    model : nn.Module
        Any module holding :class:`~deepstruct.sparse.MaskedLinearLayer` s.
    amount : float, optional
        Fraction of the *remaining* (still set) connections to prune, the smallest ``|w|`` first; per layer
        (``scope="layer"``) or ranked over all pruned layers together (``scope="global"``). Ties keep the
        earlier connection.
    threshold : float, optional
        Instead of ``amount``: prune every connection with ``|w| <= threshold`` (as ``recompute_mask(theta)``).
    scope : {"layer", "global"}
        How ``amount`` is applied.
    include_output : bool
        Whether the output layer (see :func:`output_layer`) is pruned too.

    Returns
    -------
    nn.Module
        ``model`` itself.

    Examples
    --------
    >>> from deepstruct.sparse import MaskedDeepFFN
    >>> model = MaskedDeepFFN(4, 2, [10], generator=torch.Generator().manual_seed(0))
    >>> _ = prune_by_magnitude(model, 0.5)
    >>> [row["active"] for row in density_report(model)]
    [20, 10]
    """
    if (amount is None) == (threshold is None):
        raise ValueError("give exactly one of amount (a fraction) and threshold (a magnitude)")
    _check_scope(scope)
    layers = _layers(model, include_output)
    if threshold is not None:
        threshold = magnitude_threshold("threshold", threshold)
        for layer in layers:
            layer.recompute_mask(threshold, revive=False)
        return model
    amount = check_fraction("amount", amount)  # type: ignore[arg-type]
    if scope == "global":
        _clear_smallest(layers, amount)
    else:
        for layer in layers:
            _clear_smallest([layer], amount)
    return model


def _random_order(n: int, generator: np.random.Generator | torch.Generator) -> torch.Tensor:
    if isinstance(generator, np.random.Generator):
        return torch.from_numpy(generator.permutation(n))
    return torch.randperm(n, generator=generator)


def prune_random(
    model: nn.Module,
    amount: float,
    *,
    generator: np.random.Generator | torch.Generator,
    scope: str = "layer",
    include_output: bool = True,
) -> nn.Module:
    """Random pruning, in place: clear a uniformly random ``amount`` fraction of the remaining connections.

    Parameters are as in :func:`prune_by_magnitude`; ``generator`` (numpy or torch) is the only randomness.
    """
    amount = check_fraction("amount", amount)
    _check_scope(scope)
    if not isinstance(generator, (np.random.Generator, torch.Generator)):
        raise ValueError("generator must be a numpy.random.Generator or torch.Generator, "
                         f"got {type(generator).__name__}")
    layers = _layers(model, include_output)
    for group in [layers] if scope == "global" else [[layer] for layer in layers]:
        _clear_ranked(group, amount, lambda positions, n: _random_order(n, generator))
    return model


def density_report(model: nn.Module) -> list[dict[str, Any]]:
    """One row per masked layer: ``layer`` (module name), ``shape``, ``active``, ``total``, ``density``.

    Examples
    --------
    >>> from deepstruct.sparse import MaskedDeepFFN
    >>> density_report(MaskedDeepFFN(3, 2, [4]))[0]
    {'layer': 'layers.0', 'shape': (4, 3), 'active': 12, 'total': 12, 'density': 1.0}
    """
    rows = []
    for name, module in model.named_modules():
        if isinstance(module, MaskedLinearLayer):
            active, total = count_set([module])
            rows.append({"layer": name or type(module).__name__, "shape": tuple(module.mask.shape),
                         "active": active, "total": total, "density": active / total})
    return rows


def format_density_report(rows: Sequence[dict[str, Any]]) -> str:
    """A plain-text table of :func:`density_report` rows, with a total line."""
    width = max([len("layer"), *(len(r["layer"]) for r in rows)])
    lines = [f"{'layer':<{width}}  {'shape':>12}  {'active':>10}  {'total':>10}  density"]
    for r in rows:
        shape = "x".join(map(str, r["shape"]))
        lines.append(f"{r['layer']:<{width}}  {shape:>12}  {r['active']:>10}  {r['total']:>10}  {r['density']:.4f}")
    active, total = sum(r["active"] for r in rows), sum(r["total"] for r in rows)
    lines.append(f"{'total':<{width}}  {'':>12}  {active:>10}  {total:>10}  {active / max(total, 1):.4f}")
    return "\n".join(lines)
