"""Sparse recurrent layers: ``MaskedRNN``, ``MaskedLSTM``, ``MaskedGRU``, structured by a graph over the hidden units.

Each layer holds, per stacked layer, an input-to-hidden and a hidden-to-hidden
:class:`~deepstruct.sparse.MaskedLinearLayer` whose rows are the gates (``i, f, g, o`` for LSTM, ``r, z, n``
for GRU, as in ``torch.nn``). The hidden-to-hidden mask of every gate is the adjacency of ``structure``: unit
``i`` reads unit ``j``'s previous state iff ``j -> i`` is an edge (both directions for an undirected graph; the
unit's own state too when ``self_loops``). Because the masks live in ``MaskedLinearLayer`` s, the pruning
functions (:mod:`deepstruct.pruning`) and ``maskable_layers`` work unchanged, and ``GraphTransform`` reads the
masks when it unrolls the layer (:mod:`deepstruct.transform.recurrent`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import networkx as nx
import torch
from torch import nn

from deepstruct._validation import is_int
from deepstruct.sparse.masked_linear import MaskableModule, MaskedLinearLayer

__all__ = ["MaskedRNN", "MaskedLSTM", "MaskedGRU", "hidden_mask"]


def hidden_mask(structure: nx.Graph, *, self_loops: bool = True) -> tuple[torch.Tensor, list]:
    """``(H, H)`` boolean mask (row: reading unit, column: unit read) of a graph over the hidden units, and the
    vertex order (sorted when the vertices are comparable, else insertion order).

    Examples
    --------
    >>> mask, order = hidden_mask(nx.DiGraph([(0, 1)]), self_loops=False)
    >>> mask.int().tolist(), order
    ([[0, 0], [1, 0]], [0, 1])
    """
    if not isinstance(structure, nx.Graph) or structure.number_of_nodes() == 0:
        raise ValueError("structure must be a non-empty networkx graph over the hidden units")
    try:
        order = sorted(structure.nodes)
    except TypeError:
        order = list(structure.nodes)
    index = {v: k for k, v in enumerate(order)}
    mask = torch.zeros(len(order), len(order), dtype=torch.bool)
    for u, v in structure.edges:
        mask[index[v], index[u]] = True
        if not structure.is_directed():
            mask[index[u], index[v]] = True
    if self_loops:
        mask.fill_diagonal_(True)
    return mask, order



def recurrent_init_(module: nn.Module, hidden_size: int, generator: torch.Generator | None = None) -> None:
    """Draw every parameter of ``module`` from ``U(-1/sqrt(H), 1/sqrt(H))`` (``torch.nn``'s recurrent
    initialisation), in place, from ``generator``."""
    bound = 1.0 / math.sqrt(hidden_size)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_((torch.rand(p.shape, generator=generator, dtype=p.dtype) * 2 - 1) * bound)

class _MaskedRecurrent(MaskableModule):
    mode = "RNN_TANH"
    gates = 1

    def __init__(self, input_size: int, hidden_size: int | None = None, num_layers: int = 1, *,
                 structure: nx.Graph | Sequence[nx.Graph] | None = None, self_loops: bool = True,
                 input_mask: torch.Tensor | None = None, bias: bool = True, batch_first: bool = True,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        graphs = [structure] * self.gates if isinstance(structure, nx.Graph) else \
            (None if structure is None else list(structure))
        if graphs is not None and len(graphs) != self.gates:
            raise ValueError(f"{type(self).__name__} has {self.gates} gates; got {len(graphs)} structures")
        masks = None
        if graphs is not None:
            made = [hidden_mask(g, self_loops=self_loops) for g in graphs]
            if len({tuple(map(str, order)) for _, order in made}) != 1:
                raise ValueError("the per-gate structures must have the same vertices")
            masks, self.units = torch.cat([m for m, _ in made]), made[0][1]
            if hidden_size is not None and hidden_size != len(self.units):
                raise ValueError(f"hidden_size {hidden_size} but the structure has {len(self.units)} vertices")
            hidden_size = len(self.units)
        if not is_int(hidden_size) or hidden_size < 1:
            raise ValueError(f"pass a positive hidden_size or a structure, got hidden_size={hidden_size!r}")
        if not is_int(num_layers) or num_layers < 1 or not is_int(input_size) or input_size < 1:
            raise ValueError(f"input_size and num_layers must be positive integers, got {input_size!r}, "
                             f"{num_layers!r}")
        if masks is None:
            self.units = list(range(hidden_size))
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.batch_first, self.bidirectional = batch_first, False
        gh = self.gates * hidden_size
        self.ih = nn.ModuleList(MaskedLinearLayer(input_size if k == 0 else hidden_size, gh, bias)
                                for k in range(num_layers))
        self.hh = nn.ModuleList(MaskedLinearLayer(hidden_size, gh, bias) for _ in range(num_layers))
        if masks is not None:
            for layer in self.hh:
                layer.set_mask(masks)
        if input_mask is not None:
            input_mask = torch.as_tensor(input_mask)
            self.ih[0].set_mask(input_mask.repeat(self.gates, 1) if input_mask.shape[0] == hidden_size
                                else input_mask)
        self.reset_parameters(generator=generator)

    def reset_parameters(self, *, generator: torch.Generator | None = None) -> None:
        """``U(-1/sqrt(H), 1/sqrt(H))`` for every weight and bias, as ``torch.nn`` recurrent layers."""
        recurrent_init_(self, self.hidden_size, generator)

    def layer_parameters(self, layer: int) -> tuple[torch.Tensor | None, ...]:
        """``(w_ih, mask_ih, b_ih, w_hh, mask_hh, b_hh)`` of one stacked layer (read by ``GraphTransform``)."""
        ih, hh = self.ih[layer], self.hh[layer]
        return ih.weight, ih.mask, ih.bias, hh.weight, hh.mask, hh.bias

    def _cell(self, layer: int, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor | None
              ) -> tuple[torch.Tensor, torch.Tensor | None]:
        return torch.tanh(self.ih[layer](x) + self.hh[layer](h)), None

    def forward(self, x: torch.Tensor, hx: torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | tuple[torch.Tensor, torch.Tensor]]:
        """``(output, h_n)`` (LSTM: ``(output, (h_n, c_n))``) with ``torch.nn``'s shapes; ``x`` is
        ``(N, T, input_size)`` when ``batch_first`` (else ``(T, N, input_size)``)."""
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            raise ValueError(f"expected input of shape (N, T, {self.input_size}) (batch_first) or "
                             f"(T, N, {self.input_size}), got {tuple(x.shape)}")
        seq = x if self.batch_first else x.transpose(0, 1)
        n = seq.shape[0]
        h0, c0 = (hx if isinstance(hx, tuple) else (hx, None))
        zeros = seq.new_zeros(self.num_layers, n, self.hidden_size)
        h0 = zeros if h0 is None else h0
        c0 = zeros if c0 is None else c0
        finals_h, finals_c = [], []
        for layer in range(self.num_layers):
            h, c = h0[layer], c0[layer] if self.gates == 4 else None
            outs = []
            for t in range(seq.shape[1]):
                h, c = self._cell(layer, seq[:, t], h, c)
                outs.append(h)
            seq = torch.stack(outs, dim=1)
            finals_h.append(h)
            finals_c.append(c)
        out = seq if self.batch_first else seq.transpose(0, 1)
        h_n = torch.stack(finals_h)
        return (out, (h_n, torch.stack(finals_c))) if self.gates == 4 else (out, h_n)

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
                f"batch_first={self.batch_first}, density={self.density():.4f}")


class MaskedRNN(_MaskedRecurrent):
    """Elman RNN ``h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)`` with masked matrices.

    Parameters
    ----------
    input_size : int
    hidden_size : int, optional
        Needed without ``structure``; otherwise the number of the structure's vertices.
    num_layers : int
    structure : networkx.Graph or a sequence of one graph per gate, optional
        Graph over the hidden units; its adjacency masks ``W_hh`` of every layer (dense without one).
    self_loops : bool
        Let every unit read its own previous state (on top of the structure).
    input_mask : torch.Tensor, optional
        ``(H, input_size)`` (shared by the gates) or ``(gates * H, input_size)`` mask of the first ``W_ih``.
    bias, batch_first : bool
    generator : torch.Generator, optional
        Randomness of the initial weights.

    Examples
    --------
    >>> rnn = MaskedRNN(3, structure=nx.path_graph(4), self_loops=False)
    >>> rnn.hh[0].mask.sum().item(), rnn(torch.randn(2, 5, 3))[0].shape
    (6, torch.Size([2, 5, 4]))
    """


class MaskedLSTM(_MaskedRecurrent):
    """LSTM (gates ``i, f, g, o``) with masked matrices; parameters as :class:`MaskedRNN`.

    Examples
    --------
    >>> lstm = MaskedLSTM(3, structure=nx.cycle_graph(5), generator=torch.Generator().manual_seed(0))
    >>> out, (h, c) = lstm(torch.randn(2, 4, 3))
    >>> out.shape, h.shape, lstm.hh[0].mask.shape
    (torch.Size([2, 4, 5]), torch.Size([1, 2, 5]), torch.Size([20, 5]))
    """

    mode = "LSTM"
    gates = 4

    def _cell(self, layer: int, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor | None
              ) -> tuple[torch.Tensor, torch.Tensor | None]:
        i, f, g, o = (self.ih[layer](x) + self.hh[layer](h)).chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c


class MaskedGRU(_MaskedRecurrent):
    """GRU (gates ``r, z, n``; ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``) with masked matrices;
    parameters as :class:`MaskedRNN`.

    Examples
    --------
    >>> gru = MaskedGRU(2, structure=nx.watts_strogatz_graph(8, 2, 0.2, seed=1))
    >>> gru(torch.randn(3, 6, 2))[1].shape, round(gru.density(), 3) < 1
    (torch.Size([1, 3, 8]), True)
    """

    mode = "GRU"
    gates = 3

    def _cell(self, layer: int, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor | None
              ) -> tuple[torch.Tensor, torch.Tensor | None]:
        gi, gh = self.ih[layer](x), self.hh[layer](h)
        h_dim = self.hidden_size
        r = torch.sigmoid(gi[..., :h_dim] + gh[..., :h_dim])
        z = torch.sigmoid(gi[..., h_dim:2 * h_dim] + gh[..., h_dim:2 * h_dim])
        n = torch.tanh(gi[..., 2 * h_dim:] + r * gh[..., 2 * h_dim:])
        return (1 - z) * n + z * h, None
