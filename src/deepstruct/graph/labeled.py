"""``LabeledDAG``: deepstruct 0.10's DAG whose vertices are labelled ``0, 1, 2, ...`` by the graph itself.

Each vertex is placed in a layer when it is created (``add_vertices(n, layer=...)``) and keeps it; an edge
must go from a lower to a higher layer. Labels passed to ``add_node`` / ``add_edge`` / ``add_edges_from``
that the graph does not hold yet do not become vertex ids: they ask for *new* vertices, which get the next
free integer ids. Within one ``add_edges_from`` call, a label the graph did not hold before the call names one
new vertex for its uses as a source (in layer ``source_layer``, default 0) and another for its uses as a
target (in ``target_layer``, default the layer after its first source), so
``add_edges_from(itertools.product(range(3), range(4)))`` builds a complete bipartite pair of new layers.

A graph with your own vertex ids that refuses cycles is :class:`~deepstruct.graph.AcyclicLayeredGraph`;
``LabeledDAG(edges)`` (with graph data, which 0.10 never took) still builds one, with a ``DeprecationWarning``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Hashable, Iterable
from typing import Any

import networkx as nx
import numpy as np

from deepstruct.graph.graphml import read_structure, write_structure
from deepstruct.graph.layered import AcyclicLayeredGraph, LayeredGraph
from deepstruct.graph.layering import compute_layers

__all__ = ["LabeledDAG", "LayerOrderError"]


class LayerOrderError(ValueError, AssertionError):
    """An edge that would not go from a lower to a higher layer (a ``ValueError``; also an ``AssertionError``,
    which deepstruct 0.10 raised, so code catching that keeps working)."""


class _New:
    """A vertex an ``add_edges_from`` call will create: one per (side, label)."""

    __slots__ = ("side", "label")

    def __init__(self, side: str, label: Hashable) -> None:
        self.side, self.label = side, label

    def __hash__(self) -> int:
        return hash((_New, self.side, self.label))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _New) and (self.side, self.label) == (other.side, other.label)


def _layer_number(layer: object, what: str = "layer") -> int:
    if isinstance(layer, bool) or not isinstance(layer, int) or layer < 0:
        raise ValueError(f"{what} must be an int >= 0, got {layer!r}")
    return layer


class LabeledDAG(nx.DiGraph, LayeredGraph):
    """deepstruct 0.10's auto-labelled layered DAG (see the module documentation).

    Examples
    --------
    >>> dag = LabeledDAG()
    >>> dag.add_vertices(2, layer=0), dag.add_vertices(3, layer=1)
    ([0, 1], [2, 3, 4])
    >>> dag.add_edges_from([(0, 2), (1, 4)])
    >>> dag.num_layers, dag.last_layer_size, dag.index_in_layer(4)
    (2, 3, 2)
    >>> dag.add_edge(4, 0)
    Traceback (most recent call last):
    ...
    deepstruct.graph.labeled.LayerOrderError: edge 4 -> 0 goes from layer 1 to layer 0: edges go to higher layers
    """

    def __new__(cls, incoming_graph_data: Any = None, **attr: Any) -> Any:
        if incoming_graph_data is not None:
            warnings.warn("LabeledDAG(graph data) builds an AcyclicLayeredGraph (your vertex ids, cycles refused); "
                          "use deepstruct.graph.AcyclicLayeredGraph. LabeledDAG() is deepstruct 0.10's "
                          "auto-labelled DAG", DeprecationWarning, stacklevel=2)
            return AcyclicLayeredGraph(incoming_graph_data, **attr)
        return super().__new__(cls)

    def __init__(self, incoming_graph_data: Any = None, **attr: Any) -> None:
        self._layer_of: dict[Hashable, int] = {}
        self._by_layer: dict[int, list[Hashable]] = {}
        super().__init__(None, **attr)

    # -- vertices --------------------------------------------------------------------------------------------
    def _next_id(self) -> int:
        candidate = len(self._adj)
        while candidate in self._adj:
            candidate += 1
        return candidate

    def _insert(self, vertex: Hashable, layer: int, attr: dict[str, Any] | None = None) -> Hashable:
        super().add_node(vertex, **(attr or {}))
        self._layer_of[vertex] = layer
        self._by_layer.setdefault(layer, []).append(vertex)
        return vertex

    def add_vertex(self, layer: int = 0) -> int:
        """Create a vertex in ``layer``; returns its id (the next free integer)."""
        return self._insert(self._next_id(), _layer_number(layer))  # type: ignore[return-value]

    def add_vertices(self, num_vertices: int, layer: int = 0) -> list[int]:
        """Create ``num_vertices`` vertices in ``layer``; returns their ids."""
        if isinstance(num_vertices, bool) or not isinstance(num_vertices, int) or num_vertices < 1:
            raise ValueError(f"num_vertices must be an int >= 1, got {num_vertices!r}")
        layer = _layer_number(layer)
        return [self._insert(self._next_id(), layer) for _ in range(num_vertices)]  # type: ignore[misc]

    def add_node(self, node_for_adding: Hashable = None, **attr: Any) -> int:  # type: ignore[override]
        """Create a vertex in layer ``attr.pop("layer", 0)``; the label is not its id (a warning says so when
        it differs from the id the vertex gets)."""
        layer = _layer_number(attr.pop("layer", 0))
        vertex = self._next_id()
        if node_for_adding is not None and node_for_adding != vertex:
            warnings.warn(f"LabeledDAG numbers its vertices itself: add_node({node_for_adding!r}) created vertex "
                          f"{vertex}", UserWarning, stacklevel=2)
        return self._insert(vertex, layer, attr)  # type: ignore[return-value]

    def add_nodes_from(self, nodes_for_adding: Iterable[Any], **attr: Any) -> list[int]:  # type: ignore[override]
        """Create one vertex (layer 0 unless ``layer=``) per item; returns their ids."""
        layer = _layer_number(attr.pop("layer", 0))
        return [self._insert(self._next_id(), layer, dict(attr)) for _ in list(nodes_for_adding)]  # type: ignore[misc]

    def remove_node(self, n: Hashable) -> None:
        super().remove_node(n)
        self._by_layer[self._layer_of.pop(n)].remove(n)
        self._by_layer = {k: vs for k, vs in self._by_layer.items() if vs}

    def remove_nodes_from(self, nodes: Iterable[Hashable]) -> None:
        for n in list(nodes):
            if n in self._adj:
                self.remove_node(n)

    def clear(self) -> None:
        super().clear()
        self._layer_of, self._by_layer = {}, {}

    # -- edges -----------------------------------------------------------------------------------------------
    def add_edge(self, u_of_edge: Hashable, v_of_edge: Hashable, **attr: Any) -> None:
        """Add ``u -> v``; a label the graph does not hold creates a vertex (``source_layer=`` /
        ``target_layer=`` place them). Raises :class:`LayerOrderError` unless ``layer(u) < layer(v)``."""
        self.add_edges_from([(u_of_edge, v_of_edge)], **attr)

    def add_edges_from(self, ebunch_to_add: Iterable[tuple[Any, ...]], **attr: Any) -> None:
        """Add the edges (all or none: a wrong layer order raises before anything changes)."""
        source_layer = _layer_number(attr.pop("source_layer", 0), "source_layer")
        target_layer = attr.pop("target_layer", None)
        if target_layer is not None:
            target_layer = _layer_number(target_layer, "target_layer")
        new_layers: dict[_New, int] = {}
        planned = []
        for edge in ebunch_to_add:
            if len(edge) not in (2, 3):
                raise ValueError(f"an edge is (u, v) or (u, v, data), got {edge!r}")
            s, t = (int(x) if isinstance(x, np.integer) else x for x in edge[:2])
            ks: Hashable = s if s in self._adj else _New("source", s)
            ls = self._layer_of[ks] if ks in self._layer_of else new_layers.setdefault(ks, source_layer)  # type: ignore[arg-type]
            kt: Hashable = t if t in self._adj else _New("target", t)
            default = target_layer if target_layer is not None else max(1, ls + 1)
            lt = self._layer_of[kt] if kt in self._layer_of else new_layers.setdefault(kt, default)  # type: ignore[arg-type]
            if not ls < lt:
                raise LayerOrderError(f"edge {s!r} -> {t!r} goes from layer {ls} to layer {lt}: edges go to higher "
                                      "layers")
            planned.append((ks, kt, {**attr, **(edge[2] if len(edge) == 3 else {})}))
        ids = {key: self._insert(self._next_id(), layer) for key, layer in new_layers.items()}
        super().add_edges_from((ids.get(s, s), ids.get(t, t), data) for s, t, data in planned)

    def add_weighted_edges_from(self, ebunch_to_add: Iterable[tuple[Any, Any, Any]], weight: str = "weight",
                                **attr: Any) -> None:
        self.add_edges_from(((u, v, {weight: w}) for u, v, w in ebunch_to_add), **attr)

    # -- layers ----------------------------------------------------------------------------------------------
    @property
    def layers(self) -> list[int]:
        return sorted(self._by_layer)

    @property
    def num_layers(self) -> int:
        return len(self._by_layer)

    @property
    def first_layer(self) -> int | None:  # type: ignore[override]
        return min(self._by_layer) if self._by_layer else None

    @property
    def last_layer(self) -> int | None:  # type: ignore[override]
        return max(self._by_layer) if self._by_layer else None

    @property
    def first_layer_size(self) -> int:
        return self.get_layer_size(self.first_layer) if self._by_layer else 0  # type: ignore[arg-type]

    @property
    def last_layer_size(self) -> int:
        return self.get_layer_size(self.last_layer) if self._by_layer else 0  # type: ignore[arg-type]

    def get_layer(self, vertex: Hashable) -> int:
        try:
            return self._layer_of[vertex]
        except KeyError:
            raise ValueError(f"vertex {vertex!r} is not in the graph") from None

    def get_vertices(self, layer: int) -> list[Hashable]:
        if layer not in self._by_layer:
            raise ValueError(f"layer {layer!r} has no vertices; the layers are {self.layers}")
        return list(self._by_layer[layer])

    def get_layer_size(self, layer: int) -> int:
        return len(self._by_layer.get(layer, ()))

    def index_in_layer(self, vertex: Hashable) -> int:
        """Position of ``vertex`` among the vertices of its layer."""
        return self._by_layer[self.get_layer(vertex)].index(vertex)

    def layer_connection_size(self, layer_source: int, layer_target: int) -> int:
        targets = set(self._by_layer.get(layer_target, ()))
        return sum(1 for u in self._by_layer.get(layer_source, ()) for v in self._succ[u] if v in targets)

    def append(self, other: LabeledDAG) -> None:
        """Glue ``other`` on top: its first layer *is* this graph's last layer (matched by position), its later
        layers become new layers above it, with its edges."""
        if not isinstance(other, LabeledDAG) or other.num_layers < 2 or self.num_layers == 0:
            raise ValueError("append needs a non-empty LabeledDAG and another LabeledDAG of at least two layers")
        if self.last_layer_size != other.first_layer_size:
            raise ValueError(f"the last layer has {self.last_layer_size} vertices but the other graph's first "
                             f"layer {other.first_layer_size}")
        offset = self.last_layer - other.first_layer  # type: ignore[operator]
        mapping = dict(zip(other.get_vertices(other.first_layer), self.get_vertices(self.last_layer), strict=True))  # type: ignore[arg-type]
        for layer in other.layers[1:]:
            for v in other.get_vertices(layer):
                mapping[v] = self._insert(self._next_id(), layer + offset, dict(other.nodes[v]))
        nx.DiGraph.add_edges_from(self, ((mapping[u], mapping[v], d) for u, v, d in other.edges(data=True)))

    # -- copies and files ------------------------------------------------------------------------------------
    def copy(self, as_view: bool = False) -> LabeledDAG:  # type: ignore[override]
        if as_view:
            return super().copy(as_view=True)  # type: ignore[return-value]
        out = LabeledDAG(**self.graph)
        for layer in self.layers:
            for v in self._by_layer[layer]:
                out._insert(v, layer, dict(self.nodes[v]))
        nx.DiGraph.add_edges_from(out, self.edges(data=True))
        return out

    def save(self, path: str | os.PathLike[str]) -> None:
        """GraphML with each vertex's layer in the attribute ``layer`` (:meth:`load` restores it)."""
        plain = nx.DiGraph(self)
        for v, layer in self._layer_of.items():
            plain.nodes[v]["layer"] = layer
        write_structure(plain, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LabeledDAG:  # type: ignore[override]
        """Read a file written by :meth:`save` (vertex ids and layers kept; a file without ``layer``
        attributes is layered by longest path)."""
        plain = read_structure(path, nx.DiGraph)
        layer_of = {v: d.pop("layer") for v, d in plain.nodes(data=True) if "layer" in d}
        if len(layer_of) != plain.number_of_nodes():
            layer_of = compute_layers(plain) if plain.number_of_nodes() else {}
        out = cls()
        for v, d in sorted(plain.nodes(data=True), key=lambda item: layer_of[item[0]]):
            out._insert(v, _layer_number(layer_of[v]), d)
        out.add_edges_from(plain.edges(data=True))
        return out
