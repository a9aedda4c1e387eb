"""Summaries and compression of large extracted graphs, computed chunk by chunk (never all edges at once).

:func:`summarize` gives vertex and edge counts, in- and out-degree histograms and the density of every layer
(vertex block) and of every pair of blocks; :func:`collapse` is the paper's "graph compression (or
simplification) routine after the low-level transformation": it merges groups of vertices (by default each
channel of a convolution's output) into one vertex, an edge's weight counting the connections it stands for,
so a real model's neuron graph becomes small enough for networkx.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import numpy as np

from deepstruct.transform.blocks import VertexBlock

__all__ = ["GraphSummary", "LayerSummary", "summarize", "collapse", "group_by_channel"]


@dataclass(frozen=True)
class LayerSummary:
    """One vertex block: its size, the edges into it (per feeding block) and their density.

    ``density`` is ``edges_in / (vertices * sum of the feeding blocks' sizes)``: the fraction of the possible
    connections from the blocks that feed this one; ``pair_density[name]`` the same for one feeding block.
    """

    name: str
    kind: str
    layer: int
    vertices: int
    edges_in: int
    feeding: dict[str, int] = field(default_factory=dict)
    density: float = 0.0
    pair_density: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class GraphSummary:
    """Counts, degree histograms (``in_degree_histogram[d]``: number of vertices with in-degree ``d``) and
    per-layer summaries of a :class:`~deepstruct.transform.CompactGraph`."""

    num_vertices: int
    num_edges: int
    in_degree_histogram: np.ndarray
    out_degree_histogram: np.ndarray
    layers: list[LayerSummary]

    def layer(self, name: str) -> LayerSummary:
        for s in self.layers:
            if s.name == name:
                return s
        raise ValueError(f"no layer named {name!r}")

    def format(self) -> str:
        """A readable table, one line per layer."""
        lines = [f"{self.num_vertices:,} vertices, {self.num_edges:,} edges; max in-degree "
                 f"{len(self.in_degree_histogram) - 1}, max out-degree {len(self.out_degree_histogram) - 1}",
                 f"{'layer':<28}{'kind':<12}{'vertices':>12}{'edges in':>15}{'density':>11}"]
        lines += [f"{s.name:<28}{s.kind:<12}{s.vertices:>12,}{s.edges_in:>15,}{s.density:>11.2e}" for s in self.layers]
        return "\n".join(lines)


class EdgeGraph(Protocol):
    """What :func:`summarize` and :func:`collapse` read of a graph: a :class:`~deepstruct.transform.CompactGraph`
    (this module sits below it: ``CompactGraph.summary`` and ``CompactGraph.collapse`` call it)."""

    blocks: list[VertexBlock]
    unsupported: list[str]

    @property
    def num_vertices(self) -> int: ...

    @property
    def num_edges(self) -> int: ...

    def chunks(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray | None]]: ...


Graph = TypeVar("Graph", bound=EdgeGraph)


def _block_of(graph: EdgeGraph, starts: np.ndarray, idx: np.ndarray) -> np.ndarray | int:
    lo, hi = int(idx.min()), int(idx.max())
    a, b = np.searchsorted(starts, [lo, hi], side="right") - 1
    return int(a) if a == b else np.searchsorted(starts, idx, side="right") - 1


def summarize(graph: EdgeGraph) -> GraphSummary:
    """Summarise ``graph`` reading one chunk at a time (memory: a few integers per vertex and one chunk).

    Examples
    --------
    >>> import torch
    >>> from deepstruct.transform import GraphTransform
    >>> s = summarize(GraphTransform(torch.randn(1, 1, 4, 4)).extract(torch.nn.Conv2d(1, 2, 3)))
    >>> s.num_edges, s.layer("output").vertices, s.layer("output").density
    (72, 8, 0.5625)
    >>> s.in_degree_histogram.tolist()
    [16, 0, 0, 0, 0, 0, 0, 0, 0, 8]
    """
    n, nb = graph.num_vertices, len(graph.blocks)
    starts = np.asarray([b.start for b in graph.blocks], dtype=np.int64)
    indeg = np.zeros(n, dtype=np.int64)
    outdeg = np.zeros(n, dtype=np.int64)
    pairs = np.zeros((nb, nb), dtype=np.int64)  # pairs[target block, source block]
    for src, tgt, _ in graph.chunks():
        if src.shape[0] == 0:
            continue
        src, tgt = np.asarray(src), np.asarray(tgt)
        indeg += np.bincount(tgt, minlength=n)
        outdeg += np.bincount(src, minlength=n)
        bs, bt = _block_of(graph, starts, src), _block_of(graph, starts, tgt)
        if isinstance(bs, int) and isinstance(bt, int):
            pairs[bt, bs] += src.shape[0]
        else:
            key = np.asarray(bt, dtype=np.int64) * nb + np.asarray(bs, dtype=np.int64)
            pairs += np.bincount(np.broadcast_to(key, src.shape), minlength=nb * nb).reshape(nb, nb)
    layers = []
    for t, b in enumerate(graph.blocks):
        feeding = {graph.blocks[s].name: int(pairs[t, s]) for s in np.nonzero(pairs[t])[0]}
        width = sum(graph.blocks[s].count for s in np.nonzero(pairs[t])[0])
        edges = int(pairs[t].sum())
        pair_density = {graph.blocks[s].name: int(pairs[t, s]) / (b.count * graph.blocks[s].count)
                        for s in np.nonzero(pairs[t])[0]}
        layers.append(LayerSummary(b.name, b.kind, b.layer, b.count, edges, feeding,
                                   edges / (b.count * width) if width else 0.0, pair_density))
    return GraphSummary(n, graph.num_edges, np.bincount(indeg), np.bincount(outdeg), layers)


def group_by_channel(block: VertexBlock) -> np.ndarray:
    """Group index of each vertex of ``block``: its position along the first axis of the block's shape (the
    channel of a convolution's ``(C, H, W)`` output) when the shape has two or more axes, else the vertex."""
    if len(block.shape) >= 2:
        per = int(np.prod(block.shape[1:]))
        return np.arange(block.count, dtype=np.int64) // max(per, 1)
    return np.arange(block.count, dtype=np.int64)


Grouping = str | Callable[[VertexBlock], np.ndarray] | Mapping[str, np.ndarray]


def _groups(block: VertexBlock, grouping: Grouping) -> np.ndarray:
    if grouping == "channel":
        g = group_by_channel(block)
    elif grouping == "block":
        g = np.zeros(block.count, dtype=np.int64)
    elif callable(grouping):
        g = np.asarray(grouping(block))
    elif isinstance(grouping, Mapping):
        g = np.asarray(grouping[block.name]) if block.name in grouping else np.arange(block.count)
    else:
        raise ValueError(f"grouping must be 'channel', 'block', a function of a VertexBlock or a mapping from block "
                         f"names to group arrays, got {grouping!r}")
    if g.shape != (block.count,) or not np.issubdtype(g.dtype, np.integer) or (g.size and int(g.min()) < 0):
        raise ValueError(f"the grouping of block {block.name!r} must be {block.count} non-negative integers, got "
                         f"shape {g.shape} of {g.dtype}")
    _, dense = np.unique(g, return_inverse=True)
    return dense.astype(np.int64)


def collapse(graph: Graph, grouping: Grouping = "channel") -> Graph:
    """Merge each group of vertices of every block into one vertex; an edge ``A -> B`` of the result has the
    weight (an integer) of the number of connections from ``A``'s vertices to ``B``'s.

    ``grouping``: ``"channel"`` (each output channel of a convolution or pooling, a vertex per neuron for
    1-d blocks; see :func:`group_by_channel`), ``"block"`` (a vertex per block: a module-level view), a
    function ``VertexBlock -> array of group indices`` or a mapping ``block name -> array`` (blocks left out
    keep their neurons). Vertex ``k`` of a collapsed block is ``(block name, k)`` (explicit labels are kept
    when a block is not collapsed). The result is a graph of ``graph``'s class. Reads one chunk at a time;
    memory: one integer per vertex of the graph and the result.

    Examples
    --------
    >>> import torch
    >>> from deepstruct.transform import GraphTransform
    >>> g = GraphTransform(torch.randn(1, 1, 4, 4)).extract(torch.nn.Conv2d(1, 2, 3))
    >>> small = collapse(g)
    >>> [(b.name, b.count) for b in small.blocks], small.to_networkx().edges[("input", 0), ("output", 1)]
    ([('input', 1), ('output', 2)], {'weight': 36})
    """
    group_of = np.empty(graph.num_vertices, dtype=np.int64)
    blocks: list[VertexBlock] = []
    start = 0
    for b in graph.blocks:
        g = _groups(b, grouping)
        count = int(g.max()) + 1 if g.size else 0
        group_of[b.start:b.start + b.count] = g + start
        keep = b.labels is not None and count == b.count and np.array_equal(g, np.arange(b.count))
        shape = (count, *([] if len(b.shape) < 2 else [1] * (len(b.shape) - 1))) if count != b.count else b.shape
        blocks.append(VertexBlock(b.name, b.kind, b.layer, start, count, tuple(shape), b.labels if keep else None))
        start += count
    total = max(start, 1)
    keys: list[np.ndarray] = []
    counts: list[np.ndarray] = []
    for src, tgt, _ in graph.chunks():
        key = group_of[np.asarray(src)] * total + group_of[np.asarray(tgt)]
        k, c = np.unique(key, return_counts=True)
        keys.append(k)
        counts.append(c)
    if keys:
        k, inverse = np.unique(np.concatenate(keys), return_inverse=True)
        c = np.bincount(inverse, weights=np.concatenate(counts)).astype(np.int64)
    else:
        k, c = np.empty(0, np.int64), np.empty(0, np.int64)
    return type(graph)(k // total, k % total, blocks, c, graph.unsupported, "grouped")  # type: ignore[call-arg]

