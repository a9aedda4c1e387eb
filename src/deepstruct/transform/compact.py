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
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np

__all__ = ["VertexBlock", "CompactGraph", "to_json", "save_json", "save_graphml"]

FORMAT = "deepstruct.extracted-graph"


@dataclass
class VertexBlock:
    """A run of consecutive vertex indices created by one layer or operation.

    Attributes
    ----------
    name : str
        Module name (``"layers.0"``), operation name (``"add_1"``), ``"input"`` or ``"output"``.
    kind : str
        What created the vertices (``"linear"``, ``"conv"``, ``"pool"``, ``"add"``, ``"neuron"``, ...); the
        model's interface is ``"input"`` and ``"output"`` (which ``MaskedDeepDAN`` leaves out of a structure).
    layer : int
        Position of the block in creation order (the input is 0); a ``MaskedDeepDAN`` uses its layers + 1.
    start, count : int
        The block holds vertex indices ``start .. start + count - 1``.
    shape : tuple of int
        Shape of one sample's tensor of these neurons (``neuron`` attributes are flat indices into it).
    labels : sequence, optional
        Explicit vertex ids, one per vertex; ``(name, neuron)`` otherwise.
    """

    name: str
    kind: str
    layer: int
    start: int
    count: int
    shape: tuple[int, ...] = ()
    labels: Sequence[Hashable] | None = None

    def label(self, k: int) -> Hashable:
        return self.labels[k] if self.labels is not None else (self.name, k)


@dataclass
class CompactGraph:
    """An extracted graph: ``sources[e] -> targets[e]`` over vertex indices, optional ``weights[e]``.

    Memory is a few bytes per edge (two integer arrays, 4 or 8 bytes each, plus 4 for float32 weights);
    :meth:`to_networkx` builds the (much larger) networkx graph when asked.
    """

    sources: np.ndarray
    targets: np.ndarray
    blocks: list[VertexBlock]
    weights: np.ndarray | None = None
    unsupported: list[str] = field(default_factory=list)
    granularity: str = "neuron"

    @property
    def num_vertices(self) -> int:
        return self.blocks[-1].start + self.blocks[-1].count if self.blocks else 0

    @property
    def num_edges(self) -> int:
        return int(self.sources.shape[0])

    @property
    def complete(self) -> bool:
        """False when some operation was not understood (see ``unsupported``) and connected conservatively."""
        return not self.unsupported

    @property
    def nbytes(self) -> int:
        """Bytes held by the edge arrays."""
        return self.sources.nbytes + self.targets.nbytes + (0 if self.weights is None else self.weights.nbytes)

    def block(self, name: str) -> VertexBlock:
        for b in self.blocks:
            if b.name == name:
                return b
        raise ValueError(f"no vertex block named {name!r}; blocks are {[b.name for b in self.blocks]}")

    def vertex_ids(self) -> list[Hashable]:
        """The id of every vertex, by index."""
        return [b.label(k) for b in self.blocks for k in range(b.count)]

    def _vertex_items(self) -> Iterator[tuple[Hashable, dict[str, Any]]]:
        for b in self.blocks:
            for k in range(b.count):
                yield b.label(k), {"layer": b.layer, "module": b.name, "neuron": k, "kind": b.kind}

    def to_networkx(self, *, include_weights: bool = True) -> nx.DiGraph:
        """A networkx DAG with vertex attributes ``layer``, ``module``, ``neuron``, ``kind`` and, if the
        extraction kept them and ``include_weights``, a ``weight`` edge attribute."""
        graph = nx.DiGraph(complete=self.complete, unsupported=",".join(self.unsupported),
                           granularity=self.granularity)
        items = list(self._vertex_items())
        graph.add_nodes_from(items)
        ids = np.empty(len(items), dtype=object)
        ids[:] = [vid for vid, _ in items] if items else []
        src, tgt = ids[self.sources].tolist(), ids[self.targets].tolist()
        if include_weights and self.weights is not None:
            graph.add_weighted_edges_from(zip(src, tgt, self.weights.tolist(), strict=True))
        else:
            graph.add_edges_from(zip(src, tgt, strict=True))
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
