"""deepstruct 0.10's recurrent API: masked recurrent cells and ``MaskedDeepRNN``, a stack of them.

A cell holds its input-to-hidden and hidden-to-hidden matrices as two
:class:`~deepstruct.sparse.MaskedLinearLayer` s (``ih``, ``hh``; the gates stacked as rows, ``torch.nn``'s
order), so ``maskable_layers``, the pruning functions and ``GraphTransform`` see them. For whole sequences
with a graph over the hidden units, :class:`deepstruct.sparse.MaskedRNN` / ``MaskedLSTM`` / ``MaskedGRU`` are
the models of this library; these classes keep code written against 0.10 running.
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from deepstruct._validation import check_int
from deepstruct.sparse.masked_linear import MaskedLinearLayer
from deepstruct.sparse.recurrent import recurrent_init_

__all__ = ["BaseRecurrentLayer", "MaskedRecurrentLayer", "MaskedGRULayer", "MaskedLSTMLayer", "MaskedDeepRNN"]

Nonlinearity = Callable[[torch.Tensor], torch.Tensor]
State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


class BaseRecurrentLayer(nn.Module, metaclass=ABCMeta):
    """One recurrent cell with masked matrices ``ih`` (``gates * H x input_size``) and ``hh`` (``gates * H x H``).

    ``nonlinearity`` is taken by every cell (``MaskedDeepRNN`` passes it to each); only
    :class:`MaskedRecurrentLayer` uses it, as in 0.10.
    """

    gates = 1

    def __init__(self, input_size: int, hidden_size: int, batch_first: bool = False, *,
                 nonlinearity: Nonlinearity | None = None, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.input_size = check_int("input_size", input_size)
        self.hidden_size = check_int("hidden_size", hidden_size)
        self.batch_first = bool(batch_first)
        if nonlinearity is not None and not callable(nonlinearity):
            raise ValueError(f"nonlinearity must be callable (e.g. torch.nn.ReLU()), got {nonlinearity!r}")
        self.ih = MaskedLinearLayer(input_size, self.gates * hidden_size, generator=generator)
        self.hh = MaskedLinearLayer(hidden_size, self.gates * hidden_size, generator=generator)
        self.reset_parameters(generator=generator)

    def reset_parameters(self, *, generator: torch.Generator | None = None) -> None:
        """``U(-1/sqrt(H), 1/sqrt(H))`` for every weight and bias (``torch.nn``'s recurrent initialisation)."""
        recurrent_init_(self, self.hidden_size, generator)

    def set_i2h_mask(self, mask: torch.Tensor) -> None:
        """Mask of the input-to-hidden matrix, shape ``(gates * H, input_size)``."""
        self.ih.set_mask(mask)

    def set_h2h_mask(self, mask: torch.Tensor) -> None:
        """Mask of the hidden-to-hidden matrix, shape ``(gates * H, H)``."""
        self.hh.set_mask(mask)

    def _gates(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.dim() != 2 or x.shape[-1] != self.input_size:
            raise ValueError(f"a step's input has shape (batch, {self.input_size}), got {tuple(x.shape)}")
        return self.ih(x), self.hh(h.to(self.hh.weight.dtype))

    @abstractmethod
    def forward(self, input: torch.Tensor, hx: Any) -> Any:  # noqa: A002 - 0.10's parameter name
        """One step: the new state from ``input`` ``(batch, input_size)`` and the state ``hx``."""

    def _initial(self, hx: torch.Tensor) -> State:
        return hx

    @staticmethod
    def _hidden(state: State) -> torch.Tensor:
        return state[0] if isinstance(state, tuple) else state

    def unfold(self, input: torch.Tensor, hx: State) -> torch.Tensor:  # noqa: A002
        """Run the cell over a sequence (``(batch, seq, features)`` if ``batch_first`` else ``(seq, batch,
        features)``) from the state ``hx``; the hidden states of every step, in the input's layout."""
        if input.dim() != 3:
            raise ValueError(f"a sequence has three dimensions, got shape {tuple(input.shape)}")
        dim = 1 if self.batch_first else 0
        state = self._initial(hx) if isinstance(hx, torch.Tensor) else hx
        outputs = []
        for step in input.unbind(dim):
            state = self.forward(step, state)
            outputs.append(self._hidden(state))
        return torch.stack(outputs, dim=dim)

    def extra_repr(self) -> str:
        return f"in_features={self.input_size}, out_features={self.hidden_size}, batch_first={self.batch_first}"


class MaskedRecurrentLayer(BaseRecurrentLayer):
    """Elman cell ``h' = nonlinearity(W_ih x + b_ih + W_hh h + b_hh)`` (``tanh`` by default).

    Examples
    --------
    >>> cell = MaskedRecurrentLayer(3, 4, nonlinearity=torch.nn.LogSigmoid())
    >>> cell(torch.randn(2, 3), torch.zeros(2, 4)).shape
    torch.Size([2, 4])
    """

    def __init__(self, input_size: int, hidden_size: int, batch_first: bool = False,
                 nonlinearity: Nonlinearity | None = None, *, generator: torch.Generator | None = None) -> None:
        super().__init__(input_size, hidden_size, batch_first, nonlinearity=nonlinearity, generator=generator)
        self.nonlinearity: Nonlinearity = torch.tanh if nonlinearity is None else nonlinearity

    def forward(self, input: torch.Tensor, hx: torch.Tensor) -> torch.Tensor:  # noqa: A002
        i, h = self._gates(input, hx)
        return self.nonlinearity(i + h)


class MaskedGRULayer(BaseRecurrentLayer):
    """GRU cell (gates reset, update, new; ``torch.nn.GRUCell``'s equations).

    Examples
    --------
    >>> MaskedGRULayer(3, 4)(torch.randn(2, 3), torch.zeros(2, 4)).shape
    torch.Size([2, 4])
    """

    gates = 3

    def forward(self, input: torch.Tensor, hx: torch.Tensor) -> torch.Tensor:  # noqa: A002
        i, h = self._gates(input, hx)
        i_r, i_z, i_n = i.chunk(3, dim=1)
        h_r, h_z, h_n = h.chunk(3, dim=1)
        reset, update = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
        new = torch.tanh(i_n + reset * h_n)
        return new + update * (hx.to(new.dtype) - new)


class MaskedLSTMLayer(BaseRecurrentLayer):
    """LSTM cell (gates input, forget, cell, output); the state is ``(h, c)``. ``unfold`` from a tensor ``hx``
    starts with ``c = hx`` (0.10's choice; zeros in the usual case).

    Examples
    --------
    >>> h, c = MaskedLSTMLayer(3, 4)(torch.randn(2, 3), (torch.zeros(2, 4), torch.zeros(2, 4)))
    >>> h.shape, c.shape
    (torch.Size([2, 4]), torch.Size([2, 4]))
    """

    gates = 4

    def _initial(self, hx: torch.Tensor) -> State:
        return hx, hx.clone()

    def forward(self, input: torch.Tensor, hx: tuple[torch.Tensor, torch.Tensor]  # noqa: A002
                ) -> tuple[torch.Tensor, torch.Tensor]:
        if not isinstance(hx, tuple) or len(hx) != 2:
            raise ValueError("an LSTM cell's state is a pair (h, c)")
        h, c = hx
        i, hh = self._gates(input, h)
        in_gate, forget, cell, out = (i + hh).chunk(4, dim=1)
        c = torch.sigmoid(forget) * c.to(i.dtype) + torch.sigmoid(in_gate) * torch.tanh(cell)
        return torch.sigmoid(out) * torch.tanh(c), c


class MaskedDeepRNN(nn.Module):
    """A stack of recurrent cells, one per entry of ``hidden_layers`` (its width); the output is the last
    layer's hidden state at the last step, ``(batch, hidden_layers[-1])``.

    Examples
    --------
    >>> rnn = MaskedDeepRNN(3, [8, 5], build_recurrent_layer=MaskedGRULayer, batch_first=True)
    >>> rnn(torch.randn(2, 7, 3)).shape
    torch.Size([2, 5])
    """

    def __init__(self, input_size: int, hidden_layers: Sequence[int],
                 build_recurrent_layer: Callable[..., BaseRecurrentLayer] = MaskedRecurrentLayer,
                 nonlinearity: Nonlinearity | None = None, batch_first: bool = False, *,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        widths = [check_int(f"hidden_layers[{i}]", w) for i, w in enumerate(hidden_layers)]
        if not widths:
            raise ValueError("hidden_layers must name at least one layer width")
        self.input_size = check_int("input_size", input_size)
        self.hidden_layers, self.batch_first = widths, bool(batch_first)
        sizes = [self.input_size, *widths]
        self.recurrent_layers = nn.ModuleList(
            build_recurrent_layer(n_in, n_out, self.batch_first, nonlinearity=nonlinearity, generator=generator)
            for n_in, n_out in zip(sizes[:-1], widths, strict=True))

    def forward(self, input: torch.Tensor) -> torch.Tensor:  # noqa: A002
        if input.dim() != 3:
            raise ValueError(f"expected a sequence of three dimensions, got shape {tuple(input.shape)}")
        batch = input.shape[0] if self.batch_first else input.shape[1]
        out = input
        for layer in self.recurrent_layers:
            hx = torch.zeros(batch, layer.hidden_size, dtype=layer.ih.weight.dtype, device=input.device)
            out = layer.unfold(out, hx)
        return out[:, -1] if self.batch_first else out[-1]

    def apply_mask(self, threshold: float = 0.0, i2h: bool = False, h2h: bool = False) -> None:
        """Magnitude pruning of the chosen matrices: keep the connections with ``|w| >= threshold`` (those
        already pruned stay pruned; 0.10 recomputed the masks from scratch)."""
        for layer in self.recurrent_layers:
            for matrix, chosen in ((layer.ih, i2h), (layer.hh, h2h)):
                if chosen:
                    matrix.set_mask(matrix.mask & (matrix.weight.detach().abs() >= threshold))
