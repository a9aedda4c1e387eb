"""Per-layer functors (deepstruct 0.10): the neuron graph of one ``Linear`` or ``Conv2d`` module.

The result is a :class:`~deepstruct.graph.LabeledDAG` of two layers: the module's input neurons (layer 0,
ids ``0 .. n_in - 1``) and its output neurons (layer 1, the next ids), in ``torch``'s flattening order
(channel, row, column). An edge is a connection whose weight passes the threshold (``|w| >= threshold``;
without one, ``w != 0``) and, for masked layers, whose mask is set. The module is never changed (0.10
recomputed a masked layer's mask).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import numpy as np
import torch

from deepstruct.graph import LabeledDAG
from deepstruct.sparse._sizes import magnitude_threshold
from deepstruct.sparse.masked_linear import MaskedLinearLayer

__all__ = ["ForgetfulFunctor", "LinearLayerFunctor", "Conv2dLayerFunctor"]


class ForgetfulFunctor(ABC):
    """A transformation of a module into a graph that keeps only the connectivity (no weights)."""

    @abstractmethod
    def transform(self, model: torch.nn.Module) -> LabeledDAG:
        """The graph of ``model``'s connectivity."""

    def applies(self, model: torch.nn.Module) -> bool:
        return True


def _kept(weight: torch.Tensor, threshold: float | None) -> np.ndarray:
    w = weight.detach().cpu().numpy()
    return np.abs(w) >= threshold if threshold is not None else w != 0


def _two_layers(n_in: int, n_out: int, sources: np.ndarray, targets: np.ndarray) -> LabeledDAG:
    graph = LabeledDAG()
    graph.add_vertices(n_in, layer=0)
    graph.add_vertices(n_out, layer=1)
    graph.add_edges_from(zip(sources.tolist(), (targets + n_in).tolist(), strict=True))
    return graph


class LinearLayerFunctor(ForgetfulFunctor):
    """The bipartite graph of a ``torch.nn.Linear`` or :class:`~deepstruct.sparse.MaskedLinearLayer`.

    Examples
    --------
    >>> layer = torch.nn.Linear(3, 2)
    >>> with torch.no_grad():
    ...     _ = layer.weight.copy_(torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 2.0]]))
    >>> graph = LinearLayerFunctor(threshold=0.5).transform(layer)
    >>> graph.num_layers, graph.last_layer_size, sorted(graph.edges)
    (2, 2, [(0, 3), (2, 3), (2, 4)])
    """

    def __init__(self, threshold: float | None = None) -> None:
        self.threshold = None if threshold is None else magnitude_threshold("threshold", threshold)

    def transform(self, model: torch.nn.Module) -> LabeledDAG:
        if not self.applies(model):
            raise ValueError(f"LinearLayerFunctor transforms Linear or MaskedLinearLayer modules, got "
                             f"{type(model).__name__}")
        kept = _kept(model.weight, self.threshold)
        if isinstance(model, MaskedLinearLayer):
            kept &= model.mask.detach().cpu().numpy()
        rows, cols = np.nonzero(kept)
        return _two_layers(kept.shape[1], kept.shape[0], cols, rows)

    def applies(self, model: torch.nn.Module) -> bool:
        return isinstance(model, (torch.nn.Linear, MaskedLinearLayer))


def _padding(model: torch.nn.Conv2d) -> tuple[int, int]:
    if model.padding == "valid":
        return 0, 0
    if model.padding == "same":
        return tuple(d * (k - 1) // 2 for d, k in zip(model.dilation, model.kernel_size, strict=True))  # type: ignore[return-value]
    return model.padding  # type: ignore[return-value]


class Conv2dLayerFunctor(ForgetfulFunctor):
    """The neuron graph of a ``torch.nn.Conv2d`` for an input of ``input_height`` x ``input_width``.

    Stride, zero padding (also ``"same"``/``"valid"``), dilation and groups are followed exactly; an edge per
    kernel entry that passes the threshold and every output position whose receptive field holds the input
    neuron.

    Examples
    --------
    >>> conv = torch.nn.Conv2d(1, 2, kernel_size=2)
    >>> graph = Conv2dLayerFunctor(3, 3).transform(conv)
    >>> graph.first_layer_size, graph.last_layer_size, graph.number_of_edges()
    (9, 8, 32)
    """

    def __init__(self, input_width: int = 0, input_height: int = 0, threshold: float | None = None) -> None:
        self._input_width = self._size("input_width", input_width, allow_zero=True)
        self._input_height = self._size("input_height", input_height, allow_zero=True)
        self.threshold = None if threshold is None else magnitude_threshold("threshold", threshold)

    @staticmethod
    def _size(name: str, value: int, allow_zero: bool = False) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < (0 if allow_zero else 1):
            raise ValueError(f"{name} must be an int >= {0 if allow_zero else 1}, got {value!r}")
        return value

    @property
    def width(self) -> int:
        return self._input_width

    @width.setter
    def width(self, width: int) -> None:
        self._input_width = self._size("width", width)

    @property
    def height(self) -> int:
        return self._input_height

    @height.setter
    def height(self, height: int) -> None:
        self._input_height = self._size("height", height)

    def applies(self, model: torch.nn.Module) -> bool:
        return isinstance(model, torch.nn.Conv2d)

    def output_size(self, model: torch.nn.Conv2d) -> tuple[int, int]:
        """``(height, width)`` of the output for this functor's input size."""
        if model.padding == "same":  # torch pads d * (k - 1) in all, the smaller half before
            return self.height, self.width
        pad = _padding(model)
        sizes = []
        for n, p, d, k, s in zip((self.height, self.width), pad, model.dilation, model.kernel_size, model.stride,
                                 strict=True):
            sizes.append(math.floor((n + 2 * p - d * (k - 1) - 1) / s) + 1)
        return sizes[0], sizes[1]

    def transform(self, model: torch.nn.Module) -> LabeledDAG:
        if not isinstance(model, torch.nn.Conv2d):
            raise ValueError(f"Conv2dLayerFunctor transforms Conv2d modules, got {type(model).__name__}")
        if self.width < 1 or self.height < 1:
            raise ValueError("set the input size first: Conv2dLayerFunctor(input_width, input_height)")
        if model.padding_mode != "zeros":
            raise ValueError(f"padding_mode {model.padding_mode!r} wraps or mirrors the input; only 'zeros' is "
                             "supported")
        h_out, w_out = self.output_size(model)
        if h_out < 1 or w_out < 1:
            raise ValueError(f"the kernel does not fit a {self.height}x{self.width} input")
        (p0, p1), (s0, s1), (d0, d1) = _padding(model), model.stride, model.dilation
        per_group_in, per_group_out = model.in_channels // model.groups, model.out_channels // model.groups
        rows, cols = np.arange(h_out), np.arange(w_out)
        sources, targets = [], []
        for o, c_local, ki, kj in zip(*np.nonzero(_kept(model.weight, self.threshold)), strict=True):
            c = (o // per_group_out) * per_group_in + c_local
            r_in, q_in = rows * s0 - p0 + ki * d0, cols * s1 - p1 + kj * d1
            r_ok, q_ok = (r_in >= 0) & (r_in < self.height), (q_in >= 0) & (q_in < self.width)
            rr, qq = np.meshgrid(np.nonzero(r_ok)[0], np.nonzero(q_ok)[0], indexing="ij")
            sources.append((c * self.height + r_in[rr]) * self.width + q_in[qq])
            targets.append((o * h_out + rr) * w_out + qq)
        flat = [np.concatenate([a.reshape(-1) for a in xs]) if xs else np.empty(0, dtype=np.int64)
                for xs in (sources, targets)]
        return _two_layers(model.in_channels * self.height * self.width, model.out_channels * h_out * w_out, *flat)
