"""Saving and loading structures as GraphML (``LayeredGraph.save`` / ``.load``, deepstruct 0.10's format).

GraphML names vertices with strings, so the file's vertex names are ``"0" .. "n-1"`` (in the graph's order,
as 0.10 wrote them) and each vertex carries its own id as JSON in the attribute ``deepstruct_id``: ints,
floats, strings, bools and (nested) tuples of them come back as they were. A file without that attribute
(written by deepstruct 0.10 or another tool) gets int ids where every name is an integer, else the names.
Vertex, edge and graph attributes must be GraphML scalars (str, int, float, bool). Loading parses XML only
(no pickle).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import networkx as nx
import numpy as np

__all__ = ["write_structure", "read_structure", "encode_vertex", "decode_vertex", "ID_ATTRIBUTE"]

ID_ATTRIBUTE = "deepstruct_id"
_SCALARS = (str, int, float, bool)
G = TypeVar("G", bound=nx.DiGraph)


def _plain(vertex: Hashable) -> Any:
    if isinstance(vertex, (bool, str)):
        return vertex
    if isinstance(vertex, (int, np.integer)):
        return int(vertex)
    if isinstance(vertex, (float, np.floating)):
        if not np.isfinite(vertex):
            raise ValueError(f"vertex id {vertex!r} is not finite: it cannot be saved")
        return float(vertex)
    if isinstance(vertex, tuple):
        return {"tuple": [_plain(v) for v in vertex]}
    raise ValueError(f"vertex id {vertex!r} ({type(vertex).__name__}) cannot be saved: ids are ints, floats, "
                     "strings, bools or tuples of them")


def _unplain(value: Any) -> Hashable:
    if isinstance(value, dict):
        if set(value) != {"tuple"} or not isinstance(value["tuple"], list):
            raise ValueError(f"malformed vertex id {value!r}")
        return tuple(_unplain(v) for v in value["tuple"])
    if isinstance(value, list) or value is None:
        raise ValueError(f"malformed vertex id {value!r}")
    return value


def encode_vertex(vertex: Hashable) -> str:
    """A vertex id as JSON (tuples as ``{"tuple": [...]}``).

    Examples
    --------
    >>> encode_vertex(("layers.0", 3))
    '{"tuple": ["layers.0", 3]}'
    >>> decode_vertex(encode_vertex(("layers.0", 3)))
    ('layers.0', 3)
    """
    return json.dumps(_plain(vertex))


def decode_vertex(text: str) -> Hashable:
    """The vertex id that :func:`encode_vertex` wrote."""
    try:
        return _unplain(json.loads(text))
    except json.JSONDecodeError as error:
        raise ValueError(f"malformed vertex id {text!r}: {error}") from None


def _check_attributes(kind: str, owner: object, attributes: dict[str, Any]) -> dict[str, Any]:
    """The attributes with numpy scalars as Python ones; a ``ValueError`` names one GraphML cannot hold."""
    for key, value in attributes.items():
        if not isinstance(key, str) or not isinstance(value, (*_SCALARS, np.integer, np.floating)):
            raise ValueError(f"{kind} {owner!r} has attribute {key!r} = {value!r} ({type(value).__name__}); "
                             "GraphML holds only str, int, float and bool values")
    return {k: v.item() if isinstance(v, np.generic) else v for k, v in attributes.items()}


def write_structure(graph: nx.DiGraph, path: str | os.PathLike[str]) -> None:
    """Write a directed graph to GraphML with its vertex ids and scalar attributes."""
    if not isinstance(graph, nx.DiGraph):
        raise ValueError(f"expected a directed graph, got {type(graph).__name__}")
    names = {v: str(k) for k, v in enumerate(graph.nodes)}
    out = nx.DiGraph()
    out.graph.update(_check_attributes("the graph", "", graph.graph))
    for v, data in graph.nodes(data=True):
        if ID_ATTRIBUTE in data:
            raise ValueError(f"vertex {v!r} has an attribute named {ID_ATTRIBUTE!r}, which the format reserves")
        out.add_node(names[v], **_check_attributes("vertex", v, data), **{ID_ATTRIBUTE: encode_vertex(v)})
    for u, v, data in graph.edges(data=True):
        out.add_edge(names[u], names[v], **_check_attributes("edge", (u, v), data))
    nx.write_graphml(out, os.fspath(path))


def _ids(graph: nx.DiGraph) -> dict[Any, Hashable]:
    if all(ID_ATTRIBUTE in data for _, data in graph.nodes(data=True)):
        return {v: decode_vertex(data[ID_ATTRIBUTE]) for v, data in graph.nodes(data=True)}
    names = list(graph.nodes)
    try:
        as_int = {v: int(v) for v in names}
    except (TypeError, ValueError):
        return {v: v for v in names}
    if any(str(i) != v.strip() for v, i in as_int.items() if isinstance(v, str)):
        return {v: v for v in names}
    return as_int


def read_structure(path: str | os.PathLike[str], factory: Callable[[], G]) -> G:
    """Read a GraphML file written by :func:`write_structure` (or deepstruct 0.10) into ``factory()``."""
    try:
        raw = nx.read_graphml(os.fspath(path))
    except (nx.NetworkXError, SyntaxError, KeyError) as error:  # ElementTree's ParseError is a SyntaxError
        raise ValueError(f"{os.fspath(path)!r} is not a GraphML graph: {error}") from None
    if not raw.is_directed():
        raise ValueError(f"{os.fspath(path)!r} holds an undirected graph; a structure is directed")
    ids = _ids(raw)
    if len(set(ids.values())) != len(ids):
        raise ValueError(f"{os.fspath(path)!r} has two vertices with the same id")
    graph = factory()
    graph.graph.update(raw.graph)
    graph.add_nodes_from((ids[v], {k: x for k, x in d.items() if k != ID_ATTRIBUTE}) for v, d in raw.nodes(data=True))
    graph.add_edges_from((ids[u], ids[v], d) for u, v, d in raw.edges(data=True))
    if not nx.is_directed_acyclic_graph(graph):
        raise ValueError(f"{os.fspath(path)!r} holds a graph with a cycle: {nx.find_cycle(graph)}")
    return graph
