"""Layered views of directed acyclic graphs: ``LayeredGraph``, ``CachedLayeredGraph`` and ``AcyclicLayeredGraph``."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterable
from typing import Any, cast

import networkx as nx

from deepstruct.graph.graphml import read_structure, write_structure
from deepstruct.graph.layering import compute_layers, find_cycle_message

__all__ = ["LayeredGraph", "CachedLayeredGraph", "AcyclicLayeredGraph"]


class LayeredGraph(ABC):
    """Interface of a directed acyclic graph whose vertices are grouped into layers.

    The layer of a vertex is the length of the longest path that reaches it from a source, so every edge
    goes from a lower to a strictly higher layer and sources form layer 0.
    """

    @property
    @abstractmethod
    def layers(self) -> list[int]:
        """The layer indices, ``0 .. num_layers - 1``."""

    @abstractmethod
    def get_layer(self, vertex: Hashable) -> int:
        """The layer of ``vertex``."""

    @abstractmethod
    def get_vertices(self, layer: int) -> list[Hashable]:
        """The vertices of ``layer`` in a stable order (insertion order of the graph)."""

    @abstractmethod
    def layer_connection_size(self, layer_source: int, layer_target: int) -> int:
        """Number of edges from ``layer_source`` into ``layer_target``."""

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    @property
    def first_layer(self) -> int:
        return 0

    @property
    def last_layer(self) -> int:
        return self.num_layers - 1

    @property
    def first_layer_size(self) -> int:
        return self.get_layer_size(self.first_layer)

    @property
    def last_layer_size(self) -> int:
        return self.get_layer_size(self.last_layer)

    def get_layer_size(self, layer: int) -> int:
        return len(self.get_vertices(layer))

    def layer_connected(self, layer_source: int, layer_target: int) -> bool:
        """Whether at least one edge goes from ``layer_source`` into ``layer_target``."""
        return self.layer_connection_size(layer_source, layer_target) > 0

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the structure to a GraphML file (vertex ids and scalar attributes kept; see
        :mod:`deepstruct.graph.graphml`)."""
        write_structure(cast(nx.DiGraph, self), path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> CachedLayeredGraph:
        """Read a structure written by :meth:`save` (or by deepstruct 0.10) into a ``CachedLayeredGraph``
        (into ``cls`` when ``cls`` is a ``CachedLayeredGraph`` subclass).

        Examples
        --------
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "s.graphml")
        >>> CachedLayeredGraph([(0, ("a", 1))]).save(path)
        >>> sorted(CachedLayeredGraph.load(path).edges)
        [(0, ('a', 1))]
        """
        factory = cls if isinstance(cls, type) and issubclass(cls, CachedLayeredGraph) else CachedLayeredGraph
        return read_structure(path, factory)


class _LayerIndex:
    """Everything derived from the layering, computed together in O(V + E)."""

    __slots__ = ("layer_of", "vertices", "connections", "feeding")

    def __init__(self, graph: nx.DiGraph) -> None:
        if graph.number_of_nodes() == 0:
            raise ValueError("the graph is empty: a layered graph needs at least one vertex")
        self.layer_of = compute_layers(graph)
        num_layers = max(self.layer_of.values()) + 1
        self.vertices: list[list[Hashable]] = [[] for _ in range(num_layers)]
        layer_of = self.layer_of
        for v in graph:  # insertion order, stable
            self.vertices[layer_of[v]].append(v)
        self.connections: dict[tuple[int, int], int] = {}
        for u, nbrs in graph.adjacency():
            lu = layer_of[u]
            for w in nbrs:
                key = (lu, layer_of[w])
                self.connections[key] = self.connections.get(key, 0) + 1
        self.feeding: list[list[int]] = [[] for _ in range(num_layers)]
        for source, target in sorted(self.connections):
            self.feeding[target].append(source)


def _invalidating(name: str):
    base = getattr(nx.DiGraph, name)

    def method(self, *args, **kwargs):
        self._layer_index = None
        return base(self, *args, **kwargs)

    method.__name__ = name
    method.__qualname__ = f"CachedLayeredGraph.{name}"
    method.__doc__ = base.__doc__
    return method


class CachedLayeredGraph(nx.DiGraph, LayeredGraph):
    """An ``nx.DiGraph`` with a lazily computed layer index.

    The index is computed on first use and dropped by every mutation of the graph structure, whichever
    networkx method (or networkx function calling it) makes it. Any hashable vertex id works.

    Examples
    --------
    >>> g = CachedLayeredGraph([(0, 1), (1, 2), (0, 2)])
    >>> g.num_layers, g.get_vertices(1)
    (3, [1])
    >>> g.add_edge(3, 2)
    >>> g.get_layer(3)
    0
    """

    _MUTATORS = (
        "add_node", "add_nodes_from", "remove_node", "remove_nodes_from", "add_edge", "add_edges_from",
        "add_weighted_edges_from", "remove_edge", "remove_edges_from", "update", "clear", "clear_edges",
    )

    def __init__(self, incoming_graph_data: Any = None, **attr: Any) -> None:
        self._layer_index: _LayerIndex | None = None
        super().__init__(incoming_graph_data, **attr)

    def _index(self) -> _LayerIndex:
        if self._layer_index is None:
            self._layer_index = _LayerIndex(self)
        return self._layer_index

    @property
    def layers(self) -> list[int]:
        return list(range(len(self._index().vertices)))

    @property
    def num_layers(self) -> int:
        return len(self._index().vertices)

    def get_layer(self, vertex: Hashable) -> int:
        try:
            return self._index().layer_of[vertex]
        except KeyError:
            raise ValueError(f"vertex {vertex!r} is not in the graph") from None

    def _layer(self, layer: int) -> list[Hashable]:
        vertices = self._index().vertices
        if not 0 <= layer < len(vertices):
            raise ValueError(f"layer {layer} does not exist: the graph has layers 0..{len(vertices) - 1}")
        return vertices[layer]

    def get_vertices(self, layer: int) -> list[Hashable]:
        return list(self._layer(layer))

    def get_layer_size(self, layer: int) -> int:
        return len(self._layer(layer))

    def layer_connection_size(self, layer_source: int, layer_target: int) -> int:
        return self._index().connections.get((layer_source, layer_target), 0)

    @property
    def _has_changed(self) -> bool:
        """Whether the layer index will be recomputed on next use (deepstruct 0.10's flag)."""
        return self._layer_index is None

    def layer_index(self) -> dict[Hashable, int]:
        """The layer of every vertex, as a dict (a copy)."""
        return dict(self._index().layer_of)

    def feeding_layers(self, layer_target: int) -> list[int]:
        """The layers with at least one edge into ``layer_target``, ascending."""
        return list(self._index().feeding[layer_target])

    @classmethod
    def from_graph(cls, graph: nx.Graph | nx.DiGraph) -> CachedLayeredGraph:
        """A layered copy of a directed graph (vertex and edge attributes kept)."""
        if not graph.is_directed():
            raise ValueError(
                "the graph is undirected: orient it first, e.g. deepstruct.graph.orient(graph, method='bfs')"
            )
        out = cls()
        out.add_nodes_from(graph.nodes(data=True))
        out.add_edges_from(graph.edges(data=True))
        return out


for _name in CachedLayeredGraph._MUTATORS:
    setattr(CachedLayeredGraph, _name, _invalidating(_name))
del _name


class AcyclicLayeredGraph(CachedLayeredGraph):
    """A ``CachedLayeredGraph`` that stays acyclic: adding an edge that closes a cycle raises ``ValueError``.

    (Called ``LabeledDAG`` before; that name is deepstruct 0.10's auto-labelled DAG again, see
    :class:`deepstruct.graph.LabeledDAG`.)

    Examples
    --------
    >>> dag = AcyclicLayeredGraph([(0, 1), (1, 2)])
    >>> dag.add_edge(2, 0)
    Traceback (most recent call last):
    ...
    ValueError: edge 2 -> 0 would close a cycle: 0 -> 1 -> 2 -> 0
    """

    def add_edge(self, u: Hashable, v: Hashable, **attr: Any) -> None:
        self._refuse_cycle(u, v)
        super().add_edge(u, v, **attr)

    def add_edges_from(self, ebunch_to_add: Iterable, **attr: Any) -> None:
        """Add the edges, all or none: edges that would close a cycle raise and leave the graph unchanged."""
        edges = list(ebunch_to_add)
        trial = nx.DiGraph(self)
        trial.add_edges_from(edges, **attr)
        if not nx.is_directed_acyclic_graph(trial):
            raise ValueError(f"the edges would close a cycle: {find_cycle_message(trial)}")
        super().add_edges_from(edges, **attr)

    def add_weighted_edges_from(self, ebunch_to_add: Iterable, weight: str = "weight", **attr: Any) -> None:
        self.add_edges_from(((u, v, {weight: w}) for u, v, w in ebunch_to_add), **attr)

    def _refuse_cycle(self, u: Hashable, v: Hashable) -> None:
        if u == v:
            raise ValueError(f"edge {u!r} -> {v!r} is a self-loop: a DAG has none")
        if u in self and v in self and nx.has_path(self, v, u):
            path = nx.shortest_path(self, v, u)
            cycle = " -> ".join(repr(x) for x in [*path, v])
            raise ValueError(f"edge {u!r} -> {v!r} would close a cycle: {cycle}")
