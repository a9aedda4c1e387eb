"""Neuron connectivity of single operations, vectorised over numpy index arrays.

Every function takes the vertex ids of an operation's input (an integer array shaped like one sample's tensor,
``-1`` where an element belongs to no vertex, e.g. padding) and the ids of its new output vertices, and
returns edge arrays ``(sources, targets, index)`` where ``index`` selects the weight of each edge in the
flattened weight pattern (or is ``None``). No Python loop runs over weights or edges.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np

__all__ = ["dense_edges", "conv_edge_pieces", "adaptive_pool_edges", "reduce_edges", "along_dim_edges", "pad_ids",
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


def _valid_range(size_out: int, size_in: int, stride: int, offset: int) -> tuple[int, int]:
    """Outputs ``o`` in ``[a, b)`` read a position ``o * stride + offset`` inside ``[0, size_in)``."""
    a = max(0, (-offset + stride - 1) // stride)
    b = (size_in - 1 - offset) // stride + 1
    return a, max(a, min(size_out, b))


PIECE_EDGES = 1 << 22


def conv_edge_pieces(
    x_ids: np.ndarray,
    y_start: int,
    out_hw: tuple[int, int],
    pattern: np.ndarray,
    stride: Sequence[int],
    dilation: Sequence[int],
    groups: int,
    pads: Sequence[int] = (0, 0, 0, 0),
    mode: str = "zeros",
    weight: np.ndarray | None = None,
    dtype: np.dtype | type = np.int64,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
    """The edges of a 2-d convolution of input ids ``x_ids`` ``(C, H, W)`` into the new output block
    ``y_start + (co * OH + oy) * OW + ox`` of shape ``(Co, OH, OW)``, in pieces of at most about 4 M edges.

    ``pattern`` ``(Co, C / groups, kh, kw)`` holds the connections; output ``(co, oy, ox)`` reads
    ``(ci, oy * sy + ky * dy - top, ox * sx + kx * dx - left)`` for every set ``pattern[co, ci % (C / groups),
    ky, kx]`` with ``ci`` in the group of ``co``; ``pads`` are ``F.pad`` amounts (left, right, top, bottom),
    ``"zeros"`` padding (and positions beyond the input, as in ``ceil_mode`` windows) giving no edge. One numpy
    slice per kernel offset and input channel (no per-edge index arithmetic); pieces are ``(sources, targets,
    weights)`` in ``dtype``, weights (``float32``, from ``weight`` of ``pattern``'s shape) or ``None``.
    """
    c_in, c_out = x_ids.shape[0], pattern.shape[0]
    if c_in % groups or c_out % groups or pattern.shape[1] != c_in // groups:
        raise ValueError(f"channels {c_in} -> {c_out} with a kernel of {pattern.shape[1]} input channels do not "
                         f"fit groups={groups}")
    oh, ow = out_hw
    sy, sx = stride
    dy, dx = dilation
    kh, kw = pattern.shape[2:]
    if mode in ("zeros", "constant"):
        xp, top, left = x_ids, pads[2], pads[0]
    else:
        xp, top, left = pad_ids(x_ids, pads, mode), 0, 0
    xp = xp.astype(dtype, copy=False)
    missing = bool((xp < 0).any())
    cin_g, cout_g = c_in // groups, c_out // groups
    ohw = oh * ow
    for ky in range(kh):
        ya, yb = _valid_range(oh, xp.shape[1], sy, ky * dy - top)
        for kx in range(kw):
            xa, xb = _valid_range(ow, xp.shape[2], sx, kx * dx - left)
            nh, nw = yb - ya, xb - xa
            if nh <= 0 or nw <= 0:
                continue
            r0, c0 = ya * sy + ky * dy - top, xa * sx + kx * dx - left
            slab = xp[:, r0:r0 + (nh - 1) * sy + 1:sy, c0:c0 + (nw - 1) * sx + 1:sx]
            rect = (np.arange(ya, yb, dtype=dtype)[:, None] * ow + np.arange(xa, xb, dtype=dtype)[None, :]).ravel()
            batch = max(1, PIECE_EDGES // rect.size)
            for cil in range(cin_g):
                cos = np.flatnonzero(pattern[:, cil, ky, kx])
                for k in range(0, cos.size, batch):
                    co = cos[k:k + batch]
                    if groups == 1:
                        src = np.empty((co.size, rect.size), dtype)
                        src[:] = slab[cil].reshape(1, -1)
                    else:
                        src = slab[(co // cout_g) * cin_g + cil].reshape(co.size, -1)
                    tgt = np.add.outer((y_start + co * ohw).astype(dtype), rect)
                    w = None if weight is None else np.repeat(weight[co, cil, ky, kx].astype(np.float32), rect.size)
                    src, tgt = src.ravel(), tgt.ravel()
                    if missing:
                        keep = src >= 0
                        src, tgt, w = src[keep], tgt[keep], None if w is None else w[keep]
                    yield src, tgt, w


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
