"""The file schema of genomes (``"deepstruct.genome"``, versions 1 and 2): :func:`genome_to_dict` writes it,
:func:`read_graph` reads and checks the header, the vertices and the hidden edges of a file's dict.

:meth:`deepstruct.genomes.Genome.to_dict` and :meth:`~deepstruct.genomes.Genome.from_dict` are built on these;
the interface lists of version 2 are read and written by :func:`deepstruct.genomes.interface.interface_from_dict`
and :func:`~deepstruct.genomes.interface.interface_to_dict`.
"""

from __future__ import annotations

from typing import Any

import networkx as nx

from deepstruct._validation import is_int, is_number
from deepstruct.genomes.interface import interface_to_dict
from deepstruct.genomes.limits import GenomeError, GenomeLimits

#: The largest ``next_id`` of a genome file: every id is below it and fits GraphML's 18-digit integers.
MAX_NEXT_ID = 10**18 - 1

__all__ = ["SCHEMA", "SCHEMA_VERSION", "INTERFACE_KEYS", "genome_to_dict", "read_graph"]

SCHEMA = "deepstruct.genome"
SCHEMA_VERSION = 2
"""The version of genome files this deepstruct writes; it reads versions 1 and 2 (version 1, without an
explicit interface, is migrated on read to the dense interface: every source reads every input, every sink
feeds every output)."""
INTERFACE_KEYS = frozenset({"input_edges", "output_edges", "direct_edges", "output_biases"})
"""The interface lists of a version-2 file."""


def genome_to_dict(genome: Any) -> dict[str, Any]:
    """A JSON-able dict of ``genome`` (the versioned schema of genome files)."""
    return {
        "schema": SCHEMA,
        "version": SCHEMA_VERSION,
        "num_inputs": genome.num_inputs,
        "num_outputs": genome.num_outputs,
        "next_id": genome.next_id,
        "vertices": [{"id": v, **d} for v, d in genome.graph.nodes(data=True)],
        "edges": [{"source": u, "target": v, **d} for u, v, d in genome.graph.edges(data=True)],
        **interface_to_dict(genome),
    }


def read_graph(data: Any, limits: GenomeLimits) -> tuple[int, nx.DiGraph, int]:
    """``(version, hidden graph, next_id)`` of a genome file's dict; a :class:`GenomeError` naming the first
    problem of its header, its vertices or its hidden edges (shapes, ints, duplicates, sizes)."""
    version = _read_header(data)
    vertices, edges = data.get("vertices"), data.get("edges")
    if not isinstance(vertices, list) or not isinstance(edges, list):
        raise GenomeError("a genome needs the lists 'vertices' and 'edges'")
    if len(vertices) > limits.max_vertices:
        raise GenomeError(f"the genome has {len(vertices)} vertices, over the limit {limits.max_vertices}")
    if len(edges) > limits.max_edges:
        raise GenomeError(f"the genome has {len(edges)} edges, over the limit {limits.max_edges}")
    next_id = data.get("next_id")
    if not is_int(next_id) or not 0 <= next_id <= MAX_NEXT_ID:
        raise GenomeError(f"next_id must be an int in [0, 10**18 - 1] (as GraphML), got {str(next_id)[:40]}")
    graph = nx.DiGraph()
    _read_vertices(vertices, graph)
    _read_edges(edges, graph)
    return version, graph, next_id


def _read_header(data: Any) -> int:
    if not isinstance(data, dict):
        raise GenomeError(f"a genome must be a JSON object, got {type(data).__name__}")
    if data.get("schema") != SCHEMA:
        raise GenomeError(f"not a deepstruct genome: schema is {data.get('schema')!r}")
    version = data.get("version")
    if not is_number(version) or version not in (1, SCHEMA_VERSION):  # 2.0 reads as 2, true does not
        raise GenomeError(f"unsupported genome schema version {version!r} "
                          f"(this deepstruct reads versions 1 and {SCHEMA_VERSION})")
    if version == 1 and INTERFACE_KEYS & set(data):
        raise GenomeError(f"a version-1 genome has no interface lists, got {sorted(INTERFACE_KEYS & set(data))}")
    return version


def _read_vertices(vertices: list[Any], graph: nx.DiGraph) -> None:
    for i, entry in enumerate(vertices):
        if not isinstance(entry, dict) or "id" not in entry:
            raise GenomeError(f"vertices[{i}] must be an object with an 'id'")
        attrs = {k: val for k, val in entry.items() if k != "id"}
        vid = entry["id"]
        if not is_int(vid):
            raise GenomeError(f"vertices[{i}] has a non-integer id {vid!r}")
        if vid in graph:
            raise GenomeError(f"vertex id {vid} appears twice")
        graph.add_node(vid, **attrs)


def _read_edges(edges: list[Any], graph: nx.DiGraph) -> None:
    for i, entry in enumerate(edges):
        if not isinstance(entry, dict) or "source" not in entry or "target" not in entry:
            raise GenomeError(f"edges[{i}] must be an object with 'source' and 'target'")
        u, v = entry["source"], entry["target"]
        for end in (u, v):
            if not is_int(end) or end not in graph:
                raise GenomeError(f"edges[{i}] refers to a missing vertex {end!r}")
        if graph.has_edge(u, v):
            raise GenomeError(f"edge {u} -> {v} appears twice")
        graph.add_edge(u, v, **{k: val for k, val in entry.items() if k not in ("source", "target")})
