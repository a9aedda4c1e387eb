"""``MaskedLinearLayer``: a linear layer whose connectivity is a boolean mask."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from deepstruct._validation import check_int
from deepstruct.sparse._sizes import magnitude_threshold
from deepstruct.sparse.connections import count_set

__all__ = ["MaskedLinearLayer", "MaskableModule", "maskable_layers", "maskable_layers_with_name", "init_by_fan_in_"]


def init_by_fan_in_(
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    mask: torch.Tensor,
    *,
    gain: float = math.sqrt(2.0),
    generator: torch.Generator | None = None,
) -> None:
    """He-uniform initialisation in place, scaled per output neuron by its real fan-in (its mask row sum).

    A neuron with ``k`` incoming connections gets weights from ``U(-b, b)`` with ``b = gain * sqrt(3 / k)``
    and a bias from ``U(-1/sqrt(k), 1/sqrt(k))``; a neuron without inputs keeps a zero row and bias in
    ``U(-1, 1)``. With a dense mask this is the usual He initialisation.
    """
    with torch.no_grad():
        fan_in = mask.sum(dim=1, keepdim=True).to(weight.dtype).clamp_min(1.0)
        uniform = torch.rand(weight.shape, generator=generator, dtype=weight.dtype, device=weight.device)
        weight.copy_((uniform * 2 - 1) * gain * torch.sqrt(3.0 / fan_in))
        if bias is not None:
            ub = torch.rand(bias.shape, generator=generator, dtype=bias.dtype, device=bias.device)
            bias.copy_((ub * 2 - 1) / torch.sqrt(fan_in.squeeze(1)))


class MaskableModule(nn.Module):
    """A module whose structure is made of masked layers (anywhere in its sub-modules).

    Gives every such model the paper's ``apply_mask()`` and ``recompute_mask(theta)`` and a density report.
    """

    def maskable_layers(self) -> list[MaskedLinearLayer]:
        return maskable_layers(self)

    @property
    def maskable_children(self) -> list[MaskedLinearLayer]:
        """The masked layers below this module (deepstruct 0.10's name for :meth:`maskable_layers`)."""
        return [m for m in maskable_layers(self) if m is not self]

    @property
    def maskable_children_with_name(self) -> Iterator[tuple[str, MaskedLinearLayer]]:
        """``(qualified name, layer)`` of every masked layer below this module."""
        return ((n, m) for n, m in self.named_modules() if n and isinstance(m, MaskedLinearLayer))

    def apply_mask(self) -> None:
        """Zero every masked weight in place (hard, not undoable)."""
        for layer in maskable_layers(self):
            layer.apply_mask()

    def recompute_mask(self, theta: float = 0.001, *, revive: bool = False) -> None:
        """Magnitude pruning: keep the weights with ``|w| > theta`` in every masked layer."""
        for layer in maskable_layers(self):
            layer.recompute_mask(theta, revive=revive)

    def density(self) -> float:
        """Fraction of connections that are set, over all masked layers."""
        active, total = count_set(maskable_layers(self))
        return active / total if total else 1.0


class MaskedLinearLayer(nn.Module):
    """``y = x (W * M)^T + b`` with a boolean mask ``M``.

    The mask is a buffer (saved in ``state_dict``, moved by ``.to()``). The effective weight is
    ``weight * mask``, so masked weights get a zero gradient and do not influence the output, whatever value
    the raw weight holds.

    Parameters
    ----------
    in_features, out_features : int
        Sizes, both positive.
    bias : bool
        Whether the layer has a bias.
    mask : torch.Tensor, optional
        Initial boolean mask of shape ``(out_features, in_features)``; all ones by default.
    generator : torch.Generator, optional
        Randomness for the initial weights.
    mask_as_params : bool
        deepstruct 0.10's learnable mask: build a
        :class:`~deepstruct.sparse.learnable_mask.LearnableMaskLinearLayer` instead, whose mask is a
        parameter ``_mask`` of two logits per connection (pruned, kept).

    An input of another dtype (``float64`` from numpy, integers) is cast to the weight's dtype, as 0.10 did.
    ``layer.mask = m`` goes through :meth:`set_mask` (shape checked, stored as bool); ``layer.saliency`` is the
    score saliency pruning ranks connections by (``|weight|`` unless set).

    Examples
    --------
    >>> layer = MaskedLinearLayer(3, 2, mask=torch.tensor([[1, 0, 1], [0, 1, 0]], dtype=torch.bool))
    >>> layer.density
    0.5
    >>> layer(torch.ones(1, 3, dtype=torch.float64)).dtype
    torch.float32
    """

    #: The class ``mask_as_params=True`` builds; :mod:`deepstruct.sparse.learnable_mask` registers it (the
    #: subclass imports this module, so this module does not import it back).
    learnable: type[MaskedLinearLayer] | None = None

    def __new__(cls, *args: Any, mask_as_params: bool = False, **kwargs: Any) -> MaskedLinearLayer:
        if mask_as_params and cls is MaskedLinearLayer:
            if MaskedLinearLayer.learnable is None:
                raise RuntimeError("mask_as_params=True needs deepstruct.sparse.learnable_mask imported")
            return super().__new__(MaskedLinearLayer.learnable)
        return super().__new__(cls)

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        mask: torch.Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
        mask_as_params: bool = False,
    ) -> None:
        super().__init__()
        self.in_features = check_int("in_features", in_features)
        self.out_features = check_int("out_features", out_features)
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.bias = nn.Parameter(torch.empty(out_features)) if bias else None
        self.register_buffer("mask", torch.ones(out_features, in_features, dtype=torch.bool))
        if mask is not None:
            self.set_mask(mask)
        self.reset_parameters(generator=generator)

    def reset_parameters(self, keep_mask: bool = True, *, generator: torch.Generator | None = None) -> None:
        """Initialise weights by each neuron's real fan-in (see :func:`init_by_fan_in_`).

        The mask is kept unless ``keep_mask=False`` (which sets every connection first, deepstruct 0.10's default).
        """
        if not keep_mask:
            self.set_mask(torch.ones_like(self.weight, dtype=torch.bool))
        init_by_fan_in_(self.weight, self.bias, self.mask, generator=generator)

    def set_mask(self, mask: torch.Tensor) -> None:
        """Replace the mask (any dtype; non-zero means connected). Its shape must match the weight."""
        mask = torch.as_tensor(mask)
        if tuple(mask.shape) != tuple(self.weight.shape):
            raise ValueError(
                f"mask has shape {tuple(mask.shape)} but the weight has shape {tuple(self.weight.shape)}"
            )
        self.mask.copy_(mask.to(device=self.mask.device) != 0)

    def __setattr__(self, name: str, value: Any) -> None:
        # a bool tensor of the weight's shape replaces the buffer as in nn.Module (torch.func swaps buffers
        # so); anything else goes through set_mask, which checks the shape and stores bool
        if name == "mask" and "weight" in self._parameters and not (
                isinstance(value, torch.Tensor) and value.dtype == torch.bool and value.shape == self.weight.shape):
            self.set_mask(value)
        else:
            super().__setattr__(name, value)

    def __getitem__(self, key: Any) -> torch.Tensor:
        """Mask entries, as in deepstruct 0.10 (``layer[i, j]``)."""
        return self.mask[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        """Set mask entries, as in deepstruct 0.10 (``layer[i, j] = 0``)."""
        mask = self.mask.detach().clone()
        mask[key] = torch.as_tensor(value, device=mask.device) != 0
        self.set_mask(mask)

    @property
    def saliency(self) -> torch.Tensor:
        """Per-connection score for saliency pruning: the one set, else ``|weight|``."""
        saliency = self.__dict__.get("_saliency")
        return self.weight.detach().abs() if saliency is None else saliency

    @saliency.setter
    def saliency(self, saliency: torch.Tensor) -> None:
        saliency = torch.as_tensor(saliency)
        if tuple(saliency.shape) != tuple(self.weight.shape):
            raise ValueError(f"saliency has shape {tuple(saliency.shape)} but the weight has shape "
                             f"{tuple(self.weight.shape)}")
        self.__dict__["_saliency"] = saliency.detach()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype != self.weight.dtype:
            x = x.to(self.weight.dtype)
        return F.linear(x, self.weight * self.mask, self.bias)

    def apply_mask(self) -> None:
        """Zero the masked weights in place (hard, not undoable)."""
        with torch.no_grad():
            self.weight.mul_(self.mask)

    def recompute_mask(self, theta: float = 0.001, *, revive: bool = False) -> None:
        """Keep the connections whose weight magnitude exceeds ``theta``.

        A connection that is already masked stays masked unless ``revive=True``.
        """
        theta = magnitude_threshold("theta", theta)
        with torch.no_grad():
            keep = self.weight.abs() > theta
            if not revive:
                keep &= self.mask
            self.mask.copy_(keep)

    def get_weight_count(self) -> int:
        """Number of set connections (deepstruct 0.10)."""
        return int(self.mask.sum())

    @property
    def density(self) -> float:
        """Fraction of set connections."""
        active, total = count_set([self])
        return active / total

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, density={self.density:.4f}")


def maskable_layers(model: nn.Module) -> list[MaskedLinearLayer]:
    """Every masked layer in ``model`` (itself included), in module order, found in any container."""
    return [m for m in model.modules() if isinstance(m, MaskedLinearLayer)]


def maskable_layers_with_name(model: nn.Module) -> list[tuple[str, MaskedLinearLayer]]:
    """``(qualified name, layer)`` of every masked layer in ``model`` (``""`` for ``model`` itself)."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, MaskedLinearLayer)]
