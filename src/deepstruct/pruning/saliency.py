"""Saliency pruning (deepstruct 0.10's API): prune the set connections with the lowest ``layer.saliency``.

A masked layer's saliency is ``|weight|`` unless set (``layer.saliency = s``, or :func:`set_random_saliency`,
:func:`set_distributed_saliency`). Three strategies say how much to prune:

- ``PERCENTAGE``: ``value`` percent (0 to 100) of the connections that are still set;
- ``ABSOLUTE``: ``value`` connections;
- ``BUCKET``: the lowest-saliency connections whose saliencies sum to at most ``value``.

Only connections that are still set are ranked, and pruned ones stay pruned. Ties are broken by position (a
stable sort), so exactly the number asked for is pruned (0.10 compared against a threshold and could prune
more on ties).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import Enum

import torch
from torch import nn

from deepstruct.sparse.masked_linear import MaskedLinearLayer, maskable_layers

__all__ = [
    "PruningStrategy", "prune_network_by_saliency", "prune_layer_by_saliency", "set_random_saliency",
    "set_random_masks", "set_distributed_saliency", "get_network_weight_count", "find_network_threshold",
    "reset_pruned_network", "magnitude_class_blinded", "magnitude_class_blinded_absolute", "magnitude_class_uniform",
    "magnitude_class_uniform_absolute", "magnitude_class_distributed", "magnitude_class_distributed_absolute",
    "random_pruning", "random_pruning_absolute",
]


class PruningStrategy(Enum):
    """How ``value`` is read by the saliency pruning functions."""

    PERCENTAGE = 0
    ABSOLUTE = 1
    BUCKET = 2


def _check(value: float, strategy: PruningStrategy) -> float:
    if not isinstance(strategy, PruningStrategy):
        raise ValueError(f"strategy must be a PruningStrategy, got {strategy!r}")
    if isinstance(value, torch.Tensor):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"value must be a finite number >= 0, got {value!r}")
    if strategy is PruningStrategy.PERCENTAGE and value > 100:
        raise ValueError(f"a PERCENTAGE value is in [0, 100], got {value!r}")
    if strategy is PruningStrategy.ABSOLUTE and value != int(value):
        raise ValueError(f"an ABSOLUTE value is a number of connections, got {value!r}")
    return float(value)


def _count(saliencies: torch.Tensor, value: float, strategy: PruningStrategy) -> int:
    """How many of the (ascending) ``saliencies`` to prune."""
    n = saliencies.numel()
    if strategy is PruningStrategy.PERCENTAGE:
        return min(n, int(round(value / 100.0 * n)))
    if strategy is PruningStrategy.ABSOLUTE:
        return min(n, int(value))
    return int(torch.searchsorted(torch.cumsum(saliencies.double(), 0), value, right=True))


def _prune_lowest(layers: Sequence[MaskedLinearLayer], value: float, strategy: PruningStrategy) -> None:
    """Prune, among the set connections of ``layers`` ranked together, the lowest as ``strategy`` says."""
    masks = [layer.mask.detach().reshape(-1).cpu() for layer in layers]
    scores = [layer.saliency.detach().reshape(-1).cpu() for layer in layers]
    for layer, score in zip(layers, scores, strict=True):
        if not torch.isfinite(score).all():
            raise ValueError(f"the saliency of {type(layer).__name__} has non-finite entries")
    active = torch.cat(scores)[torch.cat(masks)]
    order = torch.sort(active.double(), stable=True)
    k = _count(order.values, value, strategy)
    prune = torch.zeros(active.numel(), dtype=torch.bool)
    prune[order.indices[:k]] = True
    start = 0
    for layer, mask in zip(layers, masks, strict=True):
        positions = torch.nonzero(mask, as_tuple=True)[0]
        new = mask.clone()
        new[positions[prune[start:start + positions.numel()]]] = False
        start += positions.numel()
        layer.set_mask(new.reshape(layer.weight.shape))


def prune_network_by_saliency(network: nn.Module, value: float,
                              strategy: PruningStrategy = PruningStrategy.PERCENTAGE) -> None:
    """Prune the masked layers of ``network`` together: their set connections are ranked by saliency as one.

    Examples
    --------
    >>> from deepstruct.sparse import MaskedDeepFFN
    >>> model = MaskedDeepFFN(10, 2, [5])
    >>> prune_network_by_saliency(model, 20, strategy=PruningStrategy.ABSOLUTE)
    >>> sum(int(layer.mask.sum()) for layer in model.maskable_children)
    40
    """
    value = _check(value, strategy)
    layers = maskable_layers(network)
    if layers:
        _prune_lowest(layers, value, strategy)


def prune_layer_by_saliency(network: nn.Module, value: float,
                            strategy: PruningStrategy = PruningStrategy.PERCENTAGE) -> None:
    """Prune every masked layer on its own: ``PERCENTAGE`` and ``BUCKET`` apply ``value`` to each layer;
    ``ABSOLUTE`` shares ``value`` among the layers in proportion to their set connections (0.10's rule).

    Examples
    --------
    >>> from deepstruct.sparse import MaskedDeepFFN
    >>> model = MaskedDeepFFN(10, 2, [5])
    >>> prune_layer_by_saliency(model, 50)
    >>> [int(layer.mask.sum()) for layer in model.maskable_children]
    [25, 5]
    """
    value = _check(value, strategy)
    layers = maskable_layers(network)
    total = sum(int(layer.mask.sum()) for layer in layers)
    for layer in layers:
        share = value
        if strategy is PruningStrategy.ABSOLUTE:
            share = round(int(layer.mask.sum()) / total * value) if total else 0
        _prune_lowest([layer], share, strategy)


def set_random_saliency(model: nn.Module, *, generator: torch.Generator | None = None) -> None:
    """Give every masked layer a saliency uniform in ``[0, 1)`` on its set connections (0 elsewhere)."""
    for layer in maskable_layers(model):
        noise = torch.rand(layer.weight.shape, generator=generator)
        layer.saliency = noise * layer.mask.cpu()


def set_distributed_saliency(model: nn.Module) -> None:
    """Saliency ``|w| / std(W)`` per layer (Han et al., 2015: prune relative to each layer's spread)."""
    for layer in maskable_layers(model):
        w = layer.weight.detach()
        std = w.std()
        if not torch.isfinite(std) or std == 0:
            raise ValueError("a layer's weights have no spread (std 0 or undefined): saliency |w|/std is undefined")
        layer.saliency = w.abs() / std


def set_random_masks(module: nn.Module, *, generator: torch.Generator | None = None) -> None:
    """Give a masked layer a random mask (each connection kept with probability 1/2); other modules are left
    alone, so ``model.apply(set_random_masks)`` randomises every masked layer of a model."""
    if isinstance(module, MaskedLinearLayer):
        module.set_mask(torch.rand(module.weight.shape, generator=generator) < 0.5)


def get_network_weight_count(network: nn.Module) -> int:
    """Number of set connections over the masked layers of ``network``."""
    return sum(int(layer.mask.sum()) for layer in maskable_layers(network))


def find_network_threshold(network: nn.Module, value: float, strategy: PruningStrategy) -> float:
    """The saliency below which :func:`prune_network_by_saliency` prunes: the lowest saliency it keeps
    (``inf`` when it prunes every set connection).

    Examples
    --------
    >>> from deepstruct.sparse import MaskedLinearLayer
    >>> layer = MaskedLinearLayer(4, 1)
    >>> layer.saliency = torch.tensor([[0.4, 0.1, 0.3, 0.2]])
    >>> round(find_network_threshold(layer, 50, PruningStrategy.PERCENTAGE), 6)
    0.3
    """
    value = _check(value, strategy)
    layers = maskable_layers(network)
    active = torch.cat([layer.saliency.detach().reshape(-1).cpu()[layer.mask.reshape(-1).cpu()] for layer in layers]
                       ) if layers else torch.empty(0)
    ordered = torch.sort(active.double()).values
    k = _count(ordered, value, strategy)
    return float(ordered[k]) if k < ordered.numel() else math.inf


def reset_pruned_network(network: nn.Module, *, generator: torch.Generator | None = None) -> None:
    """Re-initialise the weights of every masked layer, keeping the masks (our ``reset_parameters`` always
    keeps them)."""
    for layer in maskable_layers(network):
        layer.reset_parameters(generator=generator)


def magnitude_class_blinded(network: nn.Module, percentage: float) -> None:
    """Prune ``percentage`` percent of the set connections with the smallest ``|w|``, over the whole network."""
    prune_network_by_saliency(network, percentage)


def magnitude_class_blinded_absolute(network: nn.Module, number: int) -> None:
    """Prune the ``number`` set connections with the smallest ``|w|``, over the whole network."""
    prune_network_by_saliency(network, number, strategy=PruningStrategy.ABSOLUTE)


def magnitude_class_uniform(network: nn.Module, percentage: float) -> None:
    """Prune ``percentage`` percent of each layer's set connections, by ``|w|``."""
    prune_layer_by_saliency(network, percentage)


def magnitude_class_uniform_absolute(network: nn.Module, number: int) -> None:
    """Prune about ``number`` connections by ``|w|``, shared among the layers by their set connections."""
    prune_layer_by_saliency(network, number, strategy=PruningStrategy.ABSOLUTE)


def magnitude_class_distributed(network: nn.Module, percentage: float) -> None:
    """Prune ``percentage`` percent of the set connections by ``|w| / std(W)`` of their layer."""
    set_distributed_saliency(network)
    prune_network_by_saliency(network, percentage)


def magnitude_class_distributed_absolute(network: nn.Module, number: int) -> None:
    """Prune ``number`` set connections by ``|w| / std(W)`` of their layer."""
    set_distributed_saliency(network)
    prune_network_by_saliency(network, number, strategy=PruningStrategy.ABSOLUTE)


def random_pruning(network: nn.Module, percentage: float, *, generator: torch.Generator | None = None) -> None:
    """Prune ``percentage`` percent of the set connections at random (0.10 took a strategy object first)."""
    set_random_saliency(network, generator=generator)
    prune_network_by_saliency(network, percentage)


def random_pruning_absolute(network: nn.Module, number: int, *, generator: torch.Generator | None = None) -> None:
    """Prune ``number`` set connections at random."""
    set_random_saliency(network, generator=generator)
    prune_network_by_saliency(network, number, strategy=PruningStrategy.ABSOLUTE)
