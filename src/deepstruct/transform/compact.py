"""``CompactGraph``: an extracted graph as numpy edge arrays over integer vertex indices, with vertex blocks.

Vertices are numbered ``0 .. num_vertices - 1`` in blocks (the model input, then one block per layer or
operation that creates neurons, then the model output). A vertex's id in networkx is its block's explicit
label (e.g. the structure's own vertex id of a ``MaskedDeepDAN``) or ``(block name, neuron index)``: inputs
are ``("input", i)`` and outputs ``("output", j)`` with ``i``, ``j`` flat indices of one sample.
"""

from __future__ import annotations

import json
import os
from collections.abc import Hashable, Iterator, Sequence
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from deepstruct.graph import CachedLayeredGraph
from deepstruct.transform.blocks import VertexBlock
from deepstruct.transform.storage import (
    EdgeChunk,
    copy_chunks,
    default_memory_budget,
    index_dtype,
    read_index,
    write_index,
)
from deepstruct.transform.summary import collapse, summarize

__all__ = ["VertexBlock", "CompactGraph", "to_json", "save_json", "save_graphml", "load_graph"]

FORMAT = "deepstruct.extracted-graph"


class CompactGraph:
    """An extracted graph: ``sources[e] -> targets[e]`` over vertex indices, optional ``weights[e]``.

    Edges are held in chunks, in memory or as ``.npy`` files of a graph directory (see
    :mod:`deepstruct.transform.storage` for the format); integer arrays use int32 below 2**31 vertices. Memory
    is a few bytes per edge (8 for int32 indices, plus 4 for float32 weights); :meth:`to_networkx` builds the
    (much larger) networkx graph when asked, :meth:`chunks` reads the edges piece by piece, :meth:`summary`
    and :meth:`collapse` work chunk by chunk without loading all edges.

    Parameters
    ----------
    sources, targets : numpy.ndarray, optional
        Edge arrays of one chunk (or pass ``chunks``).
    blocks : list of VertexBlock
        The vertex table.
    weights : numpy.ndarray, optional
    unsupported : list of str
        Operations connected conservatively by the extraction.
    granularity : {"neuron", "module", "grouped"}
    chunks : list of EdgeChunk, optional
    directory : path, optional
        The graph directory the chunks live in, if any.

    Examples
    --------
    >>> g = CompactGraph(np.array([0, 1]), np.array([2, 2]), [VertexBlock("input", "input", 0, 0, 2, (2,)),
    ...                  VertexBlock("output", "output", 1, 2, 1, (1,))])
    >>> g.num_vertices, g.num_edges, sorted(g.to_networkx().edges)
    (3, 2, [(('input', 0), ('output', 0)), (('input', 1), ('output', 0))])
    """

    def __init__(self, sources: np.ndarray | None = None, targets: np.ndarray | None = None,
                 blocks: Sequence[VertexBlock] = (), weights: np.ndarray | None = None,
                 unsupported: Sequence[str] = (), granularity: str = "neuron", *,
                 chunks: Sequence[EdgeChunk] | None = None, directory: str | os.PathLike[str] | None = None) -> None:
        if chunks is None:
            if sources is None or targets is None:
                raise ValueError("pass sources and targets, or chunks")
            sources, targets = np.asarray(sources), np.asarray(targets)
            if sources.shape != targets.shape or sources.ndim != 1:
                raise ValueError(f"sources and targets must be 1-d arrays of one length, got shapes "
                                 f"{sources.shape} and {targets.shape}")
            if weights is not None and np.shape(weights) != sources.shape:
                raise ValueError(f"weights has shape {np.shape(weights)}, the edges {sources.shape}")
            chunks = [EdgeChunk(int(sources.shape[0]), sources, targets, weights)]
        self._chunks = list(chunks)
        self.blocks = list(blocks)
        self.unsupported = list(unsupported)
        self.granularity = granularity
        self.directory = None if directory is None else Path(directory)
        self._cache: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None

    # --- sizes and vertex table --------------------------------------------------------------------------
    @property
    def num_vertices(self) -> int:
        return self.blocks[-1].start + self.blocks[-1].count if self.blocks else 0

    @property
    def num_edges(self) -> int:
        return sum(c.count for c in self._chunks)

    @property
    def num_chunks(self) -> int:
        return len(self._chunks)

    @property
    def weighted(self) -> bool:
        return bool(self._chunks) and (self._chunks[0].weights is not None or
                                       (self._chunks[0].files is not None and self._chunks[0].files[2] is not None))

    @property
    def complete(self) -> bool:
        """False when some operation was not understood (see ``unsupported``) and connected conservatively."""
        return not self.unsupported

    @property
    def nbytes(self) -> int:
        """Bytes of edge arrays held in memory (0 for chunks that live on disk)."""
        return sum(c.nbytes for c in self._chunks)

    @property
    def disk_bytes(self) -> int:
        """Bytes of the chunk files on disk (0 for a graph held in memory)."""
        return sum(Path(f).stat().st_size for c in self._chunks if c.files for f in c.files if f is not None)

    def block(self, name: str) -> VertexBlock:
        for b in self.blocks:
            if b.name == name:
                return b
        raise ValueError(f"no vertex block named {name!r}; blocks are {[b.name for b in self.blocks]}")

    def block_index(self, vertices: np.ndarray) -> np.ndarray:
        """The position in ``blocks`` of the block of each vertex index."""
        starts = np.asarray([b.start for b in self.blocks], dtype=np.int64)
        return np.searchsorted(starts, vertices, side="right") - 1

    def vertex_ids(self) -> list[Hashable]:
        """The id of every vertex, by index."""
        return [b.label(k) for b in self.blocks for k in range(b.count)]

    def _vertex_items(self) -> Iterator[tuple[Hashable, dict[str, Any]]]:
        for b in self.blocks:
            for k in range(b.count):
                yield b.label(k), {"layer": b.layer, "module": b.name, "neuron": k, "kind": b.kind}

    # --- edges ---------------------------------------------------------------------------------------------
    def chunks(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
        """``(sources, targets, weights)`` chunk by chunk (memory-mapped from disk for a saved graph)."""
        for c in self._chunks:
            yield c.arrays()

    def _all(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        if self._cache is None:
            if len(self._chunks) == 1 and self._chunks[0].files is None:
                self._cache = self._chunks[0].arrays()
            else:
                parts = list(self.chunks())
                dtype = index_dtype(self.num_vertices)
                cat = lambda k, dt: np.concatenate([p[k] for p in parts]).astype(dt, copy=False) if parts \
                    else np.empty(0, dt)  # noqa: E731
                w = cat(2, np.float32) if parts and parts[0][2] is not None else None
                self._cache = cat(0, dtype), cat(1, dtype), w
        return self._cache

    @property
    def sources(self) -> np.ndarray:
        """All edge sources in one array (loads every chunk; prefer :meth:`chunks` for large graphs)."""
        return self._all()[0]

    @property
    def targets(self) -> np.ndarray:
        return self._all()[1]

    @property
    def weights(self) -> np.ndarray | None:
        return self._all()[2]

    # --- conversions -----------------------------------------------------------------------------------------
    def to_networkx(self, *, include_weights: bool = True, max_edges: int | None = None) -> nx.DiGraph:
        """A networkx DAG (a :class:`~deepstruct.graph.CachedLayeredGraph`, so ``num_layers``,
        ``get_layer_size`` etc. answer by longest path) with vertex attributes ``layer``, ``module``,
        ``neuron``, ``kind`` and, if the extraction kept them and ``include_weights``, a ``weight`` edge
        attribute.

        Refuses (``ValueError``) a graph of more than ``max_edges`` edges (default: what half the machine's
        memory holds at about 500 bytes per networkx edge); :meth:`collapse` shrinks a graph that does not fit.
        """
        limit = default_memory_budget(0.5) // NX_BYTES_PER_EDGE if max_edges is None else max_edges
        if self.num_edges + self.num_vertices // 2 > limit:
            raise ValueError(f"the graph has {self.num_edges:,} edges and {self.num_vertices:,} vertices, more than "
                             f"networkx can hold here (limit {limit:,} edges, about {NX_BYTES_PER_EDGE} bytes each); "
                             "use summary() or collapse() to analyse it, or pass max_edges")
        graph = CachedLayeredGraph(complete=self.complete, unsupported=",".join(self.unsupported),
                                   granularity=self.granularity)
        items = list(self._vertex_items())
        graph.add_nodes_from(items)
        ids = np.empty(len(items), dtype=object)
        ids[:] = [vid for vid, _ in items] if items else []
        for src, tgt, w in self.chunks():
            s, t = ids[np.asarray(src)].tolist(), ids[np.asarray(tgt)].tolist()
            if include_weights and w is not None:
                graph.add_weighted_edges_from(zip(s, t, np.asarray(w).tolist(), strict=True))
            else:
                graph.add_edges_from(zip(s, t, strict=True))
        return graph

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-able): vertices with attributes, and the edge arrays as lists."""
        return {
            "format": FORMAT, "version": 1, "granularity": self.granularity, "complete": self.complete,
            "unsupported": list(self.unsupported),
            "vertices": [{"id": _plain(vid), **attrs} for vid, attrs in self._vertex_items()],
            "sources": self.sources.tolist(), "targets": self.targets.tolist(),
            "weights": None if self.weights is None else self.weights.tolist(),
        }

    def save(self, directory: str | os.PathLike[str]) -> CompactGraph:
        """Write the graph directory (format: :mod:`deepstruct.transform.storage`); the graph backed by it.

        A graph streamed to ``directory`` during extraction is only indexed again.
        """
        directory = Path(directory)
        if directory.exists() and not directory.is_dir():
            raise ValueError(f"{directory} exists and is not a directory")
        directory.mkdir(parents=True, exist_ok=True)
        chunks = copy_chunks(self._chunks, directory)
        meta = {"granularity": self.granularity, "complete": self.complete, "unsupported": self.unsupported,
                "num_vertices": self.num_vertices, "num_edges": self.num_edges,
                "index_dtype": index_dtype(self.num_vertices).name, "weighted": self.weighted}
        write_index(directory, meta, chunks, [_block_dict(b) for b in self.blocks])
        return CompactGraph(blocks=self.blocks, unsupported=self.unsupported, granularity=self.granularity,
                            chunks=chunks, directory=directory)

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> CompactGraph:
        """Open a graph directory written by :meth:`save` or by an extraction with ``directory=``; edges stay
        on disk until read."""
        index, chunks, block_dicts = read_index(directory)
        try:
            blocks = [VertexBlock(str(b["name"]), str(b["kind"]), int(b["layer"]), int(b["start"]), int(b["count"]),
                                  tuple(int(x) for x in b.get("shape", ())),
                                  None if b.get("labels") is None else [_hashable(v) for v in b["labels"]])
                      for b in block_dicts]
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{directory}: bad vertex table ({type(e).__name__}: {e})") from e
        graph = cls(blocks=blocks, unsupported=index.get("unsupported", []),
                    granularity=index.get("granularity", "neuron"), chunks=chunks, directory=directory)
        if graph.num_edges != index.get("num_edges") or graph.num_vertices != index.get("num_vertices"):
            raise ValueError(f"{directory}: the index says {index.get('num_edges')} edges and "
                             f"{index.get('num_vertices')} vertices, the chunks and blocks hold "
                             f"{graph.num_edges} and {graph.num_vertices}")
        return graph

    def summary(self, **kwargs: Any) -> Any:
        """:func:`deepstruct.transform.summarize` of this graph."""
        return summarize(self, **kwargs)

    def collapse(self, grouping: Any = "channel") -> CompactGraph:
        """:func:`deepstruct.transform.collapse` of this graph."""
        return collapse(self, grouping)

    def __repr__(self) -> str:
        where = f", directory={str(self.directory)!r}" if self.directory is not None else ""
        return (f"CompactGraph({self.num_vertices} vertices, {self.num_edges} edges in {self.num_chunks} chunks, "
                f"{len(self.blocks)} blocks, granularity={self.granularity!r}{where})")


NX_BYTES_PER_EDGE = 500


def _block_dict(b: VertexBlock) -> dict[str, Any]:
    return {"name": b.name, "kind": b.kind, "layer": b.layer, "start": b.start, "count": b.count,
            "shape": list(b.shape), "labels": None if b.labels is None else [_plain(v) for v in b.labels]}


def _hashable(v: Any) -> Hashable:
    """JSON lists back to tuples (vertex ids must be hashable)."""
    return tuple(_hashable(x) for x in v) if isinstance(v, list) else v


def _plain(v: Any) -> Any:
    """JSON-able: tuples become lists, numpy scalars Python numbers."""
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    return v.item() if isinstance(v, np.generic) else v


def _graph_dict(graph: nx.DiGraph) -> dict[str, Any]:
    index = {v: i for i, v in enumerate(graph.nodes)}
    return {
        "format": FORMAT, "version": 1, "graph": {k: _plain(v) for k, v in graph.graph.items()},
        "vertices": [{"id": _plain(v), **{k: _plain(x) for k, x in attrs.items()}}
                     for v, attrs in graph.nodes(data=True)],
        "edges": [[index[u], index[v], *([_plain(d["weight"])] if "weight" in d else [])]
                  for u, v, d in graph.edges(data=True)],
    }


def to_json(graph: CompactGraph | nx.DiGraph) -> str:
    """JSON text of an extracted graph (tuple vertex ids become lists; edges refer to vertex positions)."""
    if isinstance(graph, CompactGraph):
        return json.dumps(graph.to_dict())
    if isinstance(graph, nx.DiGraph):
        return json.dumps(_graph_dict(graph))
    raise ValueError(f"expected a CompactGraph or nx.DiGraph, got {type(graph).__name__}")


def save_json(graph: CompactGraph | nx.DiGraph, path: str | os.PathLike[str]) -> None:
    """Write :func:`to_json` to ``path``."""
    text = to_json(graph)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def save_graphml(graph: CompactGraph | nx.DiGraph, path: str | os.PathLike[str]) -> None:
    """Write GraphML (vertex ids written as ``str(id)``; attributes are scalars)."""
    if isinstance(graph, CompactGraph):
        graph = graph.to_networkx()
    if not isinstance(graph, nx.DiGraph):
        raise ValueError(f"expected a CompactGraph or nx.DiGraph, got {type(graph).__name__}")
    nx.write_graphml(graph, path)


def load_graph(directory: str | os.PathLike[str]) -> CompactGraph:
    """Open a saved graph directory (:meth:`CompactGraph.load`)."""
    return CompactGraph.load(directory)
