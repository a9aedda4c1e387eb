"""``LearnableMaskLinearLayer``: a masked linear layer whose mask is learned (deepstruct 0.10's ``mask_as_params``).

``MaskedLinearLayer(n, m, mask_as_params=True)`` builds one. The mask is a parameter ``_mask`` of shape
``(out_features, in_features, 2)``: two logits per connection, *pruned* and *kept*. The hard mask is
``kept > pruned``; the forward pass multiplies the weights by it, and the gradient reaches the logits through
the softmax probability of *kept* (a straight-through estimator), so an optimiser learns which connections to
keep.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from deepstruct._validation import check_int
from deepstruct.sparse._sizes import magnitude_threshold
from deepstruct.sparse.masked_linear import MaskedLinearLayer, init_by_fan_in_

__all__ = ["LearnableMaskLinearLayer"]

_LOGIT_LOW, _LOGIT_HIGH = 0.1, 0.9  # 0.10's values for a connection that is (not) in the mask


class LearnableMaskLinearLayer(MaskedLinearLayer):
    """A :class:`MaskedLinearLayer` whose mask is the parameter ``_mask`` (logits ``(pruned, kept)``).

    Parameters are as for :class:`MaskedLinearLayer`; the mask starts all kept unless ``mask`` is given.
    ``layer.mask`` is a bool tensor computed from the logits (writing into it in place changes nothing: use
    ``layer.mask = m`` or :meth:`set_mask`). ``model.parameters()`` holds ``weight``, ``bias`` and ``_mask``.
    The in-place pruning functions of :mod:`deepstruct.pruning.masks` do not support this layer; the saliency
    functions (:mod:`deepstruct.pruning.saliency`) and :meth:`recompute_mask` do.

    Examples
    --------
    >>> layer = MaskedLinearLayer(3, 2, mask_as_params=True)
    >>> type(layer).__name__, [name for name, _ in layer.named_parameters()]
    ('LearnableMaskLinearLayer', ['weight', 'bias', '_mask'])
    >>> layer(torch.ones(4, 3)).sum().backward()
    >>> layer._mask.grad.shape
    torch.Size([2, 3, 2])
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        mask: torch.Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
        mask_as_params: bool = True,
    ) -> None:
        nn.Module.__init__(self)
        self.in_features = check_int("in_features", in_features)
        self.out_features = check_int("out_features", out_features)
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.bias = nn.Parameter(torch.empty(out_features)) if bias else None
        self._mask = nn.Parameter(torch.empty(out_features, in_features, 2))
        self.set_mask(torch.ones(out_features, in_features, dtype=torch.bool) if mask is None else mask)
        self.reset_parameters(generator=generator)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "mask":
            self.set_mask(value)
        else:
            super().__setattr__(name, value)

    @property
    def mask(self) -> torch.Tensor:  # type: ignore[override]
        """The hard mask: connections whose *kept* logit exceeds the *pruned* one."""
        return (self._mask[..., 1] > self._mask[..., 0]).detach()

    def keep_probability(self) -> torch.Tensor:
        """Softmax probability of *kept*, per connection (differentiable)."""
        return torch.softmax(self._mask, dim=2)[..., 1]

    def set_mask(self, mask: torch.Tensor) -> None:
        """Set the logits to 0.10's values: ``(0.1, 0.9)`` for a kept connection, ``(0.9, 0.1)`` else."""
        mask = torch.as_tensor(mask)
        if tuple(mask.shape) != tuple(self.weight.shape):
            raise ValueError(
                f"mask has shape {tuple(mask.shape)} but the weight has shape {tuple(self.weight.shape)}"
            )
        kept = (mask.to(device=self._mask.device) != 0).to(self._mask.dtype)
        with torch.no_grad():
            self._mask[..., 1] = kept * _LOGIT_HIGH + (1 - kept) * _LOGIT_LOW
            self._mask[..., 0] = kept * _LOGIT_LOW + (1 - kept) * _LOGIT_HIGH

    def reset_parameters(self, keep_mask: bool = True, *, generator: torch.Generator | None = None) -> None:
        if not keep_mask:
            self.set_mask(torch.ones_like(self.weight, dtype=torch.bool))
        init_by_fan_in_(self.weight, self.bias, self.mask, generator=generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype != self.weight.dtype:
            x = x.to(self.weight.dtype)
        soft = self.keep_probability()
        hard = (self._mask[..., 1] > self._mask[..., 0]).to(soft.dtype)
        return F.linear(x, self.weight * (hard + soft - soft.detach()), self.bias)

    def apply_mask(self) -> None:
        with torch.no_grad():
            self.weight.mul_(self.mask)

    def recompute_mask(self, theta: float = 0.001, *, revive: bool = False) -> None:
        theta = magnitude_threshold("theta", theta)
        keep = self.weight.detach().abs() > theta
        self.set_mask(keep if revive else keep & self.mask)


MaskedLinearLayer.learnable = LearnableMaskLinearLayer
