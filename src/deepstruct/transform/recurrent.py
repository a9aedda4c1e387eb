"""Neuron-level connectivity of recurrent layers, unrolled over the traced input's time steps (a builder mixin).

``nn.RNN``, ``nn.GRU``, ``nn.LSTM`` (``proj_size == 0``) and the masked layers of
:mod:`deepstruct.sparse.recurrent`; per layer, direction and time step ``t`` the blocks are
``{name}.l{layer}[r].t{t}.{part}``:

- RNN: ``h`` reads ``x_t`` through ``W_ih`` and ``h_{t-1}`` through ``W_hh``.
- LSTM: ``gates`` (``i, f, g, o``, ``4H``) read ``x_t`` and ``h_{t-1}``; ``c`` reads ``i, f, g`` and
  ``c_{t-1}``; ``h`` reads ``o`` and ``c``.
- GRU: ``rz`` (``2H``) read ``x_t`` and ``h_{t-1}``; ``n`` reads ``x_t`` (``W_in``), ``h_{t-1}`` (``W_hn``) and
  ``r`` (unit ``k`` only if ``W_hn h + b_hn`` can be non-zero there); ``h`` reads ``z``, ``n`` and ``h_{t-1}``.

Only set weights (non-zero, or the mask's entries) make edges. A zero initial state (the default) feeds
nothing: at ``t = 0`` there are no ``W_hh`` edges and ``f`` does not reach ``c``. A traced initial state
(``h_0``/``c_0`` computed from the input) is connected like ``h_{t-1}``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from deepstruct.transform.masked import weight_pattern
from deepstruct.transform.trace import Call

__all__ = ["RecurrentOps", "is_recurrent"]

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def is_recurrent(module: nn.Module | None) -> bool:
    """``nn.RNNBase`` or a module exposing ``mode``, ``hidden_size``, ``num_layers`` and ``layer_parameters``."""
    return isinstance(module, nn.RNNBase) or hasattr(module, "layer_parameters") and hasattr(module, "mode")


def _layer(m: nn.Module, layer: int, direction: int) -> tuple[torch.Tensor | None, ...]:
    """``(w_ih, mask_ih, b_ih, w_hh, mask_hh, b_hh)`` of one layer and direction (masks, biases may be None)."""
    if hasattr(m, "layer_parameters"):
        return m.layer_parameters(layer)  # type: ignore[operator, no-any-return]
    sfx = f"_l{layer}{'_reverse' if direction else ''}"
    return (getattr(m, "weight_ih" + sfx), None, getattr(m, "bias_ih" + sfx, None), getattr(m, "weight_hh" + sfx),
            None, getattr(m, "bias_hh" + sfx, None))


class RecurrentOps:
    """The ``op_recurrent`` handler of :class:`deepstruct.transform.neurons._Builder`."""

    ids: dict[int, torch.Tensor]
    threshold: float | None

    def new_block(self, name: str, kind: str, shape: tuple[int, ...]) -> torch.Tensor: ...
    def _link(self, src: np.ndarray, tgt: np.ndarray) -> None: ...
    def _dense(self, x: np.ndarray, y: np.ndarray, weight: torch.Tensor, mask: torch.Tensor | None) -> None: ...
    def op_unsupported(self, call: Call, inputs: list[torch.Tensor], outs: list[torch.Tensor]) -> None: ...

    def op_recurrent(self, call: Call, inputs: list[torch.Tensor], outs: list[torch.Tensor]) -> None:
        m = call.module
        x = call.args[0] if call.args else call.kwargs.get("input")
        mode = getattr(m, "mode", None)
        if mode not in GATES or getattr(m, "proj_size", 0) or not isinstance(x, torch.Tensor) or \
                id(x) not in self.ids or x.dim() not in (2, 3):
            return self.op_unsupported(call, inputs, outs)
        batch_first = bool(getattr(m, "batch_first", False))
        xi = self.ids[id(x)].numpy()
        seq = xi if x.dim() == 2 else xi[0] if batch_first else xi[:, 0]  # (T, features)
        hidden, layers = int(m.hidden_size), int(m.num_layers)  # type: ignore[union-attr]
        dirs = 2 if getattr(m, "bidirectional", False) else 1
        state = call.args[1] if len(call.args) > 1 else call.kwargs.get("hx")
        h0 = c0 = None
        if isinstance(state, tuple):
            h0, c0 = state
        elif isinstance(state, torch.Tensor):
            h0 = state
        ids0 = [self.ids[id(t)].numpy().reshape(layers * dirs, -1) if isinstance(t, torch.Tensor) and id(t) in self.ids
                else None for t in (h0, c0)]
        finals_h, finals_c = [], []
        for layer in range(layers):
            outputs = []
            for d in range(dirs):
                start = [None if a is None else a[layer * dirs + d] for a in ids0]
                hs, h_last, c_last = self._unroll(call.name, m, mode, layer, d, seq, hidden, *start)  # type: ignore[arg-type]
                outputs.append(hs)
                finals_h.append(h_last)
                finals_c.append(c_last)
            seq = np.concatenate(outputs, axis=1)  # (T, dirs * H)
        out = seq if x.dim() == 2 else seq[None] if batch_first else seq[:, None]
        results = [out, np.stack(finals_h).reshape(layers * dirs, *([1] if x.dim() == 3 else []), hidden)]
        if mode == "LSTM":
            results.append(np.stack(finals_c).reshape(results[1].shape))
        for t, ids in zip(outs, results, strict=False):
            self.ids[id(t)] = torch.from_numpy(np.ascontiguousarray(ids))

    def _unroll(self, name: str, m: nn.Module, mode: str, layer: int, direction: int, seq: np.ndarray, hidden: int,
                h0: np.ndarray | None, c0: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """One layer and direction over all steps. ``hz``/``cz`` mark state units that are identically zero
        (a zero initial state, a candidate without inputs or bias): a product with them carries no edge."""
        w_ih, mask_ih, b_ih, w_hh, mask_hh, b_hh = _layer(m, layer, direction)
        gh = GATES[mode] * hidden
        p_ih, p_hh = (weight_pattern(w, mk, self.threshold) for w, mk in ((w_ih, mask_ih), (w_hh, mask_hh)))  # type: ignore[arg-type]
        bias = [np.zeros(gh, bool) if b is None else b.detach().cpu().numpy() != 0 for b in (b_ih, b_hh)]
        steps = range(seq.shape[0]) if direction == 0 else range(seq.shape[0] - 1, -1, -1)
        prefix = f"{name}.l{layer}{'r' if direction else ''}"
        hs = np.empty((seq.shape[0], hidden), dtype=np.int64)
        h, c = h0, c0
        hz = np.ones(hidden, bool) if h is None else np.zeros(hidden, bool)
        cz = np.ones(hidden, bool) if c is None else np.zeros(hidden, bool)
        cut = lambda a, k: a[k * hidden:(k + 1) * hidden]  # noqa: E731
        block = lambda part, kind, n: self.new_block(f"{prefix}.t{t}.{part}", kind, (1, n)).numpy()[0]  # noqa: E731
        for t in steps:
            x = seq[t]
            from_x = p_ih[:, x >= 0].any(axis=1)
            from_h = p_hh[:, ~hz].any(axis=1)
            if mode in ("RNN_TANH", "RNN_RELU"):
                new_h = block("h", "recurrent", hidden)
                self._dense(x, new_h, w_ih, mask_ih)  # type: ignore[arg-type]
                if h is not None:
                    self._dense(h, new_h, w_hh, mask_hh)  # type: ignore[arg-type]
                hz = ~(from_x | from_h | bias[0] | bias[1])
            elif mode == "LSTM":
                g = block("gates", "gates", gh)
                self._dense(x, g, w_ih, mask_ih)  # type: ignore[arg-type]
                if h is not None:
                    self._dense(h, g, w_hh, mask_hh)  # type: ignore[arg-type]
                gz = ~cut(from_x | from_h | bias[0] | bias[1], 2)  # tanh candidate without inputs or bias: 0
                new_c = block("c", "cell", hidden)
                self._link(cut(g, 0)[~gz], new_c[~gz])  # i * g
                self._link(cut(g, 2), new_c)
                if c is not None:
                    self._link(cut(g, 1)[~cz], new_c[~cz])  # f * c_{t-1}
                    self._link(c, new_c)
                cz = gz & cz
                new_h = block("h", "recurrent", hidden)
                self._link(cut(g, 3)[~cz], new_h[~cz])  # o * tanh(c)
                self._link(new_c, new_h)
                c, hz = new_c, cz.copy()
            else:
                new_h, hz = self._gru_step(block, x, h, hz, (w_ih, mask_ih, w_hh, mask_hh), from_x, from_h, bias,
                                           hidden)
            h = new_h
            hs[t] = h
        return hs, h, c  # type: ignore[return-value]

    def _gru_step(self, block: Any, x: np.ndarray, h: np.ndarray | None, hz: np.ndarray, weights: tuple[Any, ...],
                  from_x: np.ndarray, from_h: np.ndarray, bias: list[np.ndarray],
                  hidden: int) -> tuple[np.ndarray, np.ndarray]:
        """One GRU step: the new state's vertices and which of them are identically zero."""
        w_ih, mask_ih, w_hh, mask_hh = weights
        cut = lambda a, k: a[k * hidden:(k + 1) * hidden]  # noqa: E731
        rz = block("rz", "gates", 2 * hidden)
        self._dense(x, rz, w_ih[:2 * hidden], None if mask_ih is None else mask_ih[:2 * hidden])
        n = block("n", "gates", hidden)
        self._dense(x, n, cut(w_ih, 2), None if mask_ih is None else cut(mask_ih, 2))
        if h is not None:
            self._dense(h, rz, w_hh[:2 * hidden], None if mask_hh is None else mask_hh[:2 * hidden])
            self._dense(h, n, cut(w_hh, 2), None if mask_hh is None else cut(mask_hh, 2))
        inner = cut(from_h | bias[1], 2)  # W_hn h + b_hn
        self._link(rz[:hidden][inner], n[inner])  # r * (W_hn h + b_hn)
        nz = ~(cut(from_x | bias[0], 2) | inner)
        new_h = block("h", "recurrent", hidden)
        moves = ~(nz & hz)  # z * (h_{t-1} - n)
        self._link(rz[hidden:][moves], new_h[moves])
        self._link(n, new_h)
        if h is not None:
            self._link(h, new_h)
        return new_h, nz & hz
