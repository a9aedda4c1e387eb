"""Neuron-level connectivity of embeddings, normalisation, attention and recurrent layers (mixed into the builder).

How each is connected (exactly as the computation connects one sample; checked against Jacobian sparsity):

- ``nn.Embedding`` / ``F.embedding``: the ``D`` embedding neurons of token position ``s`` read input position
  ``s`` only (the looked-up row depends on that token alone).
- ``LayerNorm``/``GroupNorm``/``RMSNorm``/``InstanceNorm`` (instance statistics): one *statistics* vertex per
  normalised slice reads every element of its slice; output element ``i`` reads input ``i`` and its slice's
  statistics vertex (3 edges per element instead of one per pair). ``BatchNorm`` in eval mode stays element-wise.
- Attention (``nn.MultiheadAttention``, ``F.scaled_dot_product_attention``): the projections are exact linear
  maps (``q``, ``k``, ``v`` per head, then the output projection, zero weights dropped); the data-dependent
  mixing becomes a *scores* vertex per (head, query, key) reading the query's and the key's head features, a
  *weights* vertex per (head, query, key) reading every score of its query (softmax), and the head output
  ``(head, query, d)`` reading the weights of its query and feature ``d`` of every value. Masked pairs
  (``attn_mask``, ``key_padding_mask``, ``is_causal``) have no edges; a query that attends to one key only has
  the constant weight 1 (no edges from its scores).
- ``nn.RNN``/``nn.GRU``/``nn.LSTM`` and ``deepstruct.sparse`` masked recurrent layers, unrolled over the traced
  input's time steps, per layer and direction: gate vertices (``rz``, ``n`` for GRU; ``gates`` (i, f, g, o) for
  LSTM) read the step's input through ``W_ih`` and the previous hidden state through ``W_hh`` (their set
  entries, or mask); LSTM cell ``c_t`` reads ``i, f, g`` and ``c_{t-1}``, ``h_t`` reads ``o`` and ``c_t``;
  GRU ``n`` reads ``r`` where ``r`` multiplies something non-zero, ``h_t`` reads ``z``, ``n`` and ``h_{t-1}``
  (details in :mod:`deepstruct.transform.recurrent`).
- ``matmul`` of two activations: ``out[..., i, j]`` reads row ``i`` of the left and column ``j`` of the right.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from deepstruct.transform.masked import weight_pattern
from deepstruct.transform.recurrent import is_recurrent
from deepstruct.transform.trace import Call

__all__ = ["SequenceOps", "extra_vertices", "NORM_MODULES"]

NORM_MODULES = (nn.LayerNorm, nn.GroupNorm, nn.RMSNorm, nn.modules.instancenorm._InstanceNorm)


def _arg(call: Call, pos: int, key: str, default: Any) -> Any:
    return call.args[pos] if len(call.args) > pos else call.kwargs.get(key, default)


def extra_vertices(call: Call) -> int:
    """Vertices an operation creates beyond its outputs (attention scores, gates, statistics)."""
    m = call.module
    tensors = [t for t in (*call.args, *call.kwargs.values()) if isinstance(t, torch.Tensor)]
    if isinstance(m, nn.MultiheadAttention) or m is None and getattr(call.func, "__name__", "") == \
            "scaled_dot_product_attention":
        n = max((t.numel() for t in tensors), default=0)
        length = max((max(t.shape[:-1], default=1) for t in tensors), default=1)
        return 6 * n + 4 * length * length * (m.num_heads if m is not None else n)
    if is_recurrent(m) and tensors:
        steps = max(tensors[0].shape[:-1], default=1)
        return 8 * steps * m.hidden_size * m.num_layers * 2  # type: ignore[union-attr]
    return sum(t.numel() for t in tensors)


class SequenceOps:
    """Operation handlers for :class:`deepstruct.transform.neurons._Builder` (see the module docstring)."""

    ids: dict[int, torch.Tensor]
    threshold: float | None

    def new_block(self, name: str, kind: str, shape: Any) -> torch.Tensor: ...
    def edges(self, edges: Any, weight: torch.Tensor | None = None) -> None: ...
    def op_unsupported(self, call: Call, inputs: list[torch.Tensor], outs: list[torch.Tensor]) -> None: ...

    def _link(self, src: Any, tgt: Any) -> None:
        """Edges ``src[k] -> tgt[k]`` of two broadcastable id arrays (sources ``< 0`` dropped)."""
        src, tgt = np.broadcast_arrays(np.asarray(src), np.asarray(tgt))
        src, tgt = src.ravel(), tgt.ravel()
        keep = src >= 0
        self.edges((src[keep], tgt[keep], None))

    def _dense(self, x: np.ndarray, y: np.ndarray, weight: torch.Tensor, mask: torch.Tensor | None) -> None:
        pattern = weight_pattern(weight, mask, self.threshold)
        n_out, n_in = pattern.shape
        rows, cols = np.nonzero(pattern)
        xs, ys = x.reshape(-1, n_in), y.reshape(-1, n_out)
        src, tgt = xs[:, cols].ravel(), ys[:, rows].ravel()
        index = np.broadcast_to(rows * n_in + cols, (xs.shape[0], rows.size)).ravel()
        keep = src >= 0
        self.edges((src[keep], tgt[keep], index[keep]), weight)

    # --- embedding and normalisation ----------------------------------------------------------------------
    def op_embedding(self, call: Call, inputs: list[torch.Tensor], outs: list[torch.Tensor]) -> None:
        x, out = inputs[0], outs[0]
        if id(x) != id(call.args[0]):
            return self.op_unsupported(call, inputs, outs)
        y = self.new_block(call.name, "embedding", out.shape)
        self._link(self.ids[id(x)].numpy()[..., None], y.numpy())
        self.ids[id(out)] = y

    def op_norm(self, call: Call, inputs: list[torch.Tensor], outs: list[torch.Tensor]) -> None:
        x, out, m = inputs[0], outs[0], call.module
        name = type(m).__name__ if m is not None else getattr(call.func, "__name__", "")
        shape = tuple(x.shape)
        if isinstance(m, (nn.LayerNorm, nn.RMSNorm)) or name in ("layer_norm", "rms_norm"):
            norm = m.normalized_shape if m is not None else _arg(call, 1, "normalized_shape", ())
            k = len(tuple(norm) if isinstance(norm, (tuple, list, torch.Size)) else (norm,))
            slices = np.arange(int(np.prod(shape[:-k]))).repeat(int(np.prod(shape[-k:])))
        elif isinstance(m, nn.GroupNorm) or name == "group_norm":
            groups = m.num_groups if m is not None else _arg(call, 1, "num_groups", 1)
            slices = np.arange(shape[0] * groups).repeat(int(np.prod(shape)) // (shape[0] * groups))
        else:  # instance norm: per sample and channel, unless running statistics are used
            stats = (not m.track_running_stats or m.training) if m is not None else \
                bool(_arg(call, 5, "use_input_stats", True))
            if not stats:
                self.ids[id(out)] = self.ids[id(x)]
                return None
            slices = np.arange(shape[0] * shape[1]).repeat(int(np.prod(shape[2:])))
        xi = self.ids[id(x)].numpy().ravel()
        s = self.new_block(f"{call.name}.stats", "norm_stats", (1, int(slices.max()) + 1))
        y = self.new_block(call.name, "norm", out.shape)
        si, yi = s.numpy().ravel(), y.numpy().ravel()
        self._link(xi, si[slices])
        self._link(xi, yi)
        self._link(si[slices], yi)
        self.ids[id(out)] = y

    # --- attention -------------------------------------------------------------------------------------------
    def _attend(self, name: str, q: np.ndarray, k: np.ndarray, v: np.ndarray,
                allowed: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
        """Scores, softmax weights and outputs of ``softmax(q k^T) v`` over id arrays ``(..., L, E)``,
        ``(..., S, E)``, ``(..., S, Ev)``; ``allowed`` (broadcast to ``(..., L, S)``) marks the pairs that take
        part. Returns the output ids and the weights' ids."""
        lead = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2], allowed.shape[:-2])
        q, k, v = (np.broadcast_to(a, lead + a.shape[-2:]) for a in (q, k, v))
        big_l, big_s = q.shape[-2], k.shape[-2]
        allowed = np.broadcast_to(allowed, lead + (big_l, big_s))
        scores = self.new_block(f"{name}.scores", "attention_scores", (*lead, big_l, big_s)).numpy()
        weights = self.new_block(f"{name}.weights", "attention_weights", (*lead, big_l, big_s)).numpy()
        out = self.new_block(name, "attention", (*lead, big_l, v.shape[-1]))
        o = out.numpy()
        pair, row = allowed[..., :, :, None], allowed[..., :, None, :]
        mixes = (allowed.sum(axis=-1) >= 2)[..., None, None]  # a softmax over one key is the constant 1
        for src, tgt, keep in ((q[..., :, None, :], scores[..., None], pair),  # score (i, j) <- q_i
                               (k[..., None, :, :], scores[..., None], pair),  # score (i, j) <- k_j
                               (scores[..., :, None, :], weights[..., None], pair & row & mixes),  # softmax over j'
                               (weights[..., :, None, :], o[..., None], row),  # out (i, d) <- weight (i, j)
                               (np.swapaxes(v, -1, -2)[..., None, :, :], o[..., None], row)):  # <- v (j, d)
            src, tgt, keep = np.broadcast_arrays(src, tgt, keep)
            self._link(src[keep], tgt[keep])
        return out, weights

    @staticmethod
    def _allowed(mask: Any, big_l: int, big_s: int, causal: bool, heads: int = 0) -> np.ndarray:
        """Pairs (query, key) that attend: ``is_causal`` and a boolean or additive (-inf: not) mask. A boolean
        mask means "attend" for ``scaled_dot_product_attention`` and "do not attend" for
        ``nn.MultiheadAttention`` (``heads`` given), whose 3-d masks ``(N * heads, L, S)`` are shaped
        ``(N, heads, L, S)``."""
        allowed = np.ones((big_l, big_s), dtype=bool)
        if causal:
            allowed = np.tril(allowed)
        if isinstance(mask, torch.Tensor):
            m = mask.detach().cpu()
            if m.dtype == torch.bool:
                m = ~m.numpy() if heads else m.numpy()
            else:
                m = (m != float("-inf")).numpy()
            if heads and m.ndim == 3:
                m = m.reshape(-1, heads, big_l, big_s)
            allowed = allowed & m
        return allowed

    def op_sdpa(self, call: Call, inputs: list[torch.Tensor], outs: list[torch.Tensor]) -> None:
        q, k, v = (_arg(call, i, n, None) for i, n in enumerate(("query", "key", "value")))
        if not all(isinstance(t, torch.Tensor) for t in (q, k, v)) or q.dim() < 2 or \
                bool(_arg(call, 7, "enable_gqa", False)) and q.shape[-3] != k.shape[-3]:
            return self.op_unsupported(call, inputs, outs)
        ids = [self.ids[id(t)].numpy() if id(t) in self.ids else np.full(t.shape, -1) for t in (q, k, v)]
        allowed = self._allowed(_arg(call, 3, "attn_mask", None), q.shape[-2], k.shape[-2],
                                bool(_arg(call, 5, "is_causal", False)))
        self.ids[id(outs[0])] = self._attend(call.name, *ids, allowed)[0]

    def op_attention(self, call: Call, inputs: list[torch.Tensor], outs: list[torch.Tensor]) -> None:
        m: nn.MultiheadAttention = call.module  # type: ignore[assignment]
        q, k, v = (_arg(call, i, n, None) for i, n in enumerate(("query", "key", "value")))
        if m.bias_k is not None or m.add_zero_attn or q.dim() not in (2, 3):
            return self.op_unsupported(call, inputs, outs)
        if q.dim() == 2:
            order = lambda a: a[None]  # noqa: E731
        else:
            order = (lambda a: a) if m.batch_first else (lambda a: np.swapaxes(a, 0, 1))  # noqa: E731
        ids = [order(self.ids[id(t)].numpy() if id(t) in self.ids else np.full(t.shape, -1)) for t in (q, k, v)]
        e, heads = m.embed_dim, m.num_heads
        if m._qkv_same_embed_dim:
            w = [m.in_proj_weight[i * e:(i + 1) * e] for i in range(3)]
        else:
            w = [m.q_proj_weight, m.k_proj_weight, m.v_proj_weight]
        proj = []
        for part, x, wp in zip("qkv", ids, w, strict=True):
            y = self.new_block(f"{call.name}.{part}", "linear", (*x.shape[:-1], e)).numpy()
            self._dense(x, y, wp, None)
            proj.append(np.swapaxes(y.reshape(*y.shape[:-1], heads, e // heads), -2, -3))  # (N, heads, L, hd)
        big_l, big_s = proj[0].shape[-2], proj[1].shape[-2]
        allowed = self._allowed(_arg(call, 5, "attn_mask", None), big_l, big_s,
                                bool(_arg(call, 7, "is_causal", False)), heads)
        padding = _arg(call, 3, "key_padding_mask", None)
        if isinstance(padding, torch.Tensor):
            ignore = padding.bool() if padding.dtype == torch.bool else padding == float("-inf")
            allowed = allowed & ~ignore.numpy().reshape(-1, 1, 1, big_s)
        heads_out, weights = self._attend(f"{call.name}.heads", *proj, allowed)
        h = heads_out.numpy()
        merged = np.swapaxes(h, -2, -3).reshape(*h.shape[:-3], big_l, e)
        out = self.new_block(call.name, "attention_out", (*merged.shape[:-1], e))
        self._dense(merged, out.numpy(), m.out_proj.weight, None)
        self.ids[id(outs[0])] = out[0] if q.dim() == 2 else out if m.batch_first else out.transpose(0, 1)
        if len(outs) > 1:  # the attention weights (averaged over heads unless asked not to)
            w_ids = torch.from_numpy(np.ascontiguousarray(weights))
            if _arg(call, 8, "average_attn_weights", True):
                avg = self.new_block(f"{call.name}.attn_weights", "mean", (w_ids.shape[0], big_l, big_s))
                self._link(weights, avg.numpy()[:, None])
                w_ids = avg
            self.ids[id(outs[1])] = w_ids[0] if q.dim() == 2 else w_ids

    def op_bilinear(self, call: Call, inputs: list[torch.Tensor], outs: list[torch.Tensor]) -> None:
        a, b, out = call.args[0], call.args[1], outs[0]
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)) or a.dim() < 2 or b.dim() < 2:
            return self.op_unsupported(call, inputs, outs)
        ai = self.ids[id(a)].numpy() if id(a) in self.ids else np.full(a.shape, -1)
        bi = self.ids[id(b)].numpy() if id(b) in self.ids else np.full(b.shape, -1)
        y = self.new_block(call.name, "matmul", out.shape)
        yi = y.numpy()[..., None]
        self._link(ai[..., :, None, :], yi)
        self._link(np.swapaxes(bi, -1, -2)[..., None, :, :], yi)
        self.ids[id(out)] = y
