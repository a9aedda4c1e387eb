"""``MaskedLinearLayer``: a linear layer whose connectivity is a boolean mask."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from deepstruct._validation import check_int
from deepstruct.sparse._sizes import magnitude_threshold
from deepstruct.sparse.connections import count_set

__all__ = ["MaskedLinearLayer", "MaskableModule", "maskable_layers", "init_by_fan_in_"]


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

    Examples
    --------
    >>> layer = MaskedLinearLayer(3, 2, mask=torch.tensor([[1, 0, 1], [0, 1, 0]], dtype=torch.bool))
    >>> layer.density
    0.5
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        mask: torch.Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
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

    def reset_parameters(self, *, generator: torch.Generator | None = None) -> None:
        """Initialise weights by each neuron's real fan-in (see :func:`init_by_fan_in_`)."""
        init_by_fan_in_(self.weight, self.bias, self.mask, generator=generator)

    def set_mask(self, mask: torch.Tensor) -> None:
        """Replace the mask (any dtype; non-zero means connected). Its shape must match the weight."""
        mask = torch.as_tensor(mask)
        if tuple(mask.shape) != tuple(self.weight.shape):
            raise ValueError(
                f"mask has shape {tuple(mask.shape)} but the weight has shape {tuple(self.weight.shape)}"
            )
        self.mask.copy_(mask.to(device=self.mask.device) != 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
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
