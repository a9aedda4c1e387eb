"""Neuron connectivity of single operations, vectorised over numpy index arrays.

Every function takes the vertex ids of an operation's input (an integer array shaped like one sample's tensor,
``-1`` where an element belongs to no vertex, e.g. padding) and the ids of its new output vertices, and
returns edge arrays ``(sources, targets, index)`` where ``index`` selects the weight of each edge in the
flattened weight pattern (or is ``None``). No Python loop runs over weights or edges.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["dense_edges", "conv_edges", "adaptive_pool_edges", "reduce_edges", "along_dim_edges", "pad_ids",
           "conv_padding"]

Edges = tuple[np.ndarray, np.ndarray, np.ndarray | None]


def _valid(src: np.ndarray, tgt: np.ndarray, index: np.ndarray | None) -> Edges:
    keep = src >= 0
    if bool(keep.all()):
        return src, tgt, index
    return src[keep], tgt[keep], None if index is None else index[keep]


def dense_edges(x_ids: np.ndarray, y_ids: np.ndarray, pattern: np.ndarray) -> Edges:
    """A linear map on the last axis: ``pattern[o, i]`` connects ``x[..., i]`` to ``y[..., o]``.

    ``index`` points into ``pattern.ravel()``.
    """
    n_out, n_in = pattern.shape
    x = x_ids.reshape(-1, n_in)
    y = y_ids.reshape(-1, n_out)
    rows, cols = np.nonzero(pattern)
    src = x[:, cols].ravel()
    tgt = y[:, rows].ravel()
    index = np.broadcast_to(rows * n_in + cols, (x.shape[0], rows.shape[0])).ravel()
    return _valid(src, tgt, index)


def conv_padding(padding: int | str | Sequence[int], kernel: Sequence[int], dilation: Sequence[int]) -> list[int]:
    """``F.pad`` amounts (last axis first: left, right, top, bottom) of a convolution's ``padding`` argument."""
    dims = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return [0] * (2 * dims)
        if padding != "same":
            raise ValueError(f"unknown padding {padding!r}")
        out: list[int] = []
        for k, d in zip(reversed(kernel), reversed(dilation), strict=True):
            total = d * (k - 1)
            out += [total // 2, total - total // 2]
        return out
    pads = [padding] * dims if isinstance(padding, int) else list(padding)
    return [p for p in reversed(pads) for _ in range(2)]


def pad_ids(x_ids: np.ndarray, pads: Sequence[int], mode: str = "zeros") -> np.ndarray:
    """Pad the spatial axes (all but the first) of ``x_ids``; ``F.pad`` order (last axis first).

    ``"zeros"``/``"constant"`` padding gets ``-1`` (no vertex); ``reflect``/``replicate``/``circular`` repeat ids.
    """
    width = [(0, 0)] * x_ids.ndim
    for axis_from_end in range(len(pads) // 2):
        width[x_ids.ndim - 1 - axis_from_end] = (pads[2 * axis_from_end], pads[2 * axis_from_end + 1])
    if not any(a or b for a, b in width):
        return x_ids
    if mode in ("zeros", "constant"):
        return np.pad(x_ids, width, constant_values=-1)
    np_mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}.get(mode)
    if np_mode is None:
        raise ValueError(f"unknown padding mode {mode!r}")
    return np.pad(x_ids, width, mode=np_mode)


def conv_edges(
    x_ids: np.ndarray,
    y_ids: np.ndarray,
    pattern: np.ndarray,
    stride: Sequence[int],
    dilation: Sequence[int],
    groups: int,
) -> Edges:
    """A 2-d convolution over already padded input ids ``x_ids`` ``(C, H, W)`` to ``y_ids`` ``(Co, OH, OW)``.

    ``pattern`` ``(Co, C / groups, kh, kw)`` holds the connections; output ``(co, oy, ox)`` reads
    ``(ci, oy * sy + ky * dy, ox * sx + kx * dx)`` for every set ``pattern[co, ci % (C / groups), ky, kx]``
    with ``ci`` in the group of ``co``. Positions beyond the input (``ceil_mode`` windows) have no edge.
    """
    c_in, c_out = x_ids.shape[0], y_ids.shape[0]
    if c_in % groups or c_out % groups:
        raise ValueError(f"channels {c_in} -> {c_out} are not divisible by groups={groups}")
    oh, ow = y_ids.shape[1:]
    sy, sx = stride
    dy, dx = dilation
    kh, kw = pattern.shape[2:]
    need_h, need_w = (oh - 1) * sy + (kh - 1) * dy + 1, (ow - 1) * sx + (kw - 1) * dx + 1
    if need_h > x_ids.shape[1] or need_w > x_ids.shape[2]:
        x_ids = np.pad(x_ids, [(0, 0), (0, max(0, need_h - x_ids.shape[1])), (0, max(0, need_w - x_ids.shape[2]))],
                       constant_values=-1)
    co, cil, ky, kx = np.nonzero(pattern)
    ci = (co // (c_out // groups)) * (c_in // groups) + cil
    iy = np.arange(oh)[None, :] * sy + ky[:, None] * dy
    ix = np.arange(ow)[None, :] * sx + kx[:, None] * dx
    src = x_ids[ci[:, None, None], iy[:, :, None], ix[:, None, :]]
    tgt = y_ids[co[:, None, None], np.arange(oh)[None, :, None], np.arange(ow)[None, None, :]]
    tgt = np.broadcast_to(tgt, src.shape)
    flat = np.ravel_multi_index((co, cil, ky, kx), pattern.shape)
    index = np.broadcast_to(flat[:, None, None], src.shape)
    return _valid(src.ravel(), tgt.ravel(), index.ravel())


def _adaptive_pairs(size_in: int, size_out: int) -> tuple[np.ndarray, np.ndarray]:
    outs, ins = [], []
    for o in range(size_out):
        lo, hi = (o * size_in) // size_out, math.ceil((o + 1) * size_in / size_out)
        outs += [o] * (hi - lo)
        ins += range(lo, hi)
    return np.asarray(outs, dtype=np.int64), np.asarray(ins, dtype=np.int64)


def adaptive_pool_edges(x_ids: np.ndarray, y_ids: np.ndarray) -> Edges:
    """Adaptive pooling ``(C, *spatial_in)`` -> ``(C, *spatial_out)`` (1-d or 2-d): each output reads its window."""
    pairs = [_adaptive_pairs(a, b) for a, b in zip(x_ids.shape[1:], y_ids.shape[1:], strict=True)]
    c = np.arange(x_ids.shape[0])
    if len(pairs) == 1:
        (po, pi), = pairs
        src, tgt = x_ids[c[:, None], pi[None, :]], y_ids[c[:, None], po[None, :]]
    else:
        (yo, yi), (xo, xi) = pairs
        src = x_ids[c[:, None, None], yi[None, :, None], xi[None, None, :]]
        tgt = y_ids[c[:, None, None], yo[None, :, None], xo[None, None, :]]
    return _valid(src.ravel(), tgt.ravel(), None)


def reduce_edges(x_ids: np.ndarray, y_ids: np.ndarray, axes: Sequence[int]) -> Edges:
    """A reduction of one sample's ``x_ids`` over ``axes``: each output reads every element reduced into it."""
    kept = [a for a in range(x_ids.ndim) if a not in axes]
    r = int(np.prod([x_ids.shape[a] for a in axes])) if axes else 1
    x = np.transpose(x_ids, kept + list(axes)).reshape(-1, r)
    tgt = np.broadcast_to(y_ids.reshape(-1, 1), x.shape)
    return _valid(x.ravel(), tgt.ravel(), None)


def along_dim_edges(x_ids: np.ndarray, y_ids: np.ndarray, axis: int) -> Edges:
    """An operation along one axis (softmax): every output reads every input of its slice along ``axis``."""
    x = np.moveaxis(x_ids, axis, -1)
    y = np.moveaxis(y_ids, axis, -1)
    n = x.shape[-1]
    x, y = x.reshape(-1, n), y.reshape(-1, n)
    src = np.broadcast_to(x[:, None, :], (x.shape[0], n, n))
    tgt = np.broadcast_to(y[:, :, None], (x.shape[0], n, n))
    return _valid(src.ravel(), tgt.ravel(), None)
