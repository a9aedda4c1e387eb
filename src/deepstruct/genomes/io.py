"""Genome files: JSON (the versioned schema of :meth:`Genome.to_dict`) and GraphML.

Schema version 2 holds the whole network. In JSON: ``vertices`` and ``edges`` (the hidden DAG) plus
``input_edges`` (``{"input": i, "target": v, ...}``), ``output_edges`` (``{"source": v, "output": j, ...}``),
``direct_edges`` (``{"input": i, "output": j, ...}``) and ``output_biases`` (``{"output": j, "bias": b}``).
In GraphML the interface units are nodes ``input:i`` and ``output:j`` with a ``kind`` attribute (``"input"`` /
``"output"``; an output node may carry its ``bias``), joined to the hidden vertices by ordinary edges; only
the units with an edge or a bias are written (an input without one is a pruned feature). Files of version 1
(without an interface) are still read, migrated to the dense interface (every source reads every input, every
sink feeds every output).

Loading is strict and bounded: the file size is checked before anything is parsed, JSON objects with duplicate
keys, ``NaN``/``Infinity`` or absurd nesting are refused, GraphML is read with a bare expat parser that refuses
any DOCTYPE (so no entity can be declared or expanded and no external resource is fetched), and every count is
checked against :class:`GenomeLimits` while parsing. Any problem raises :class:`GenomeError` naming it; nothing
in a file is ever executed (no pickle).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from xml.parsers import expat
from xml.sax.saxutils import escape, quoteattr

from deepstruct.genomes.genome import SCHEMA_VERSION, Genome, GenomeError, GenomeLimits
from deepstruct.safe_files import UnsafeFileError, read_regular

__all__ = ["to_json", "from_json", "save_json", "load_json", "save_graphml", "load_graphml", "to_graphml",
           "max_file_bytes"]

_BYTES_PER_ITEM = 256
_MAX_DEPTH = 16


def max_file_bytes(limits: GenomeLimits) -> int:
    """The largest genome file accepted under ``limits`` (256 bytes per vertex and edge, plus 64 KiB)."""
    return 65_536 + _BYTES_PER_ITEM * (limits.max_vertices + limits.max_edges)


def _read_bounded(path: str | os.PathLike[str], limits: GenomeLimits) -> bytes:

    bound = max_file_bytes(limits)
    try:  # a regular file only: a FIFO or a device is refused at once, never waited on
        return read_regular(path, bound, what="genome file")
    except UnsafeFileError as err:
        raise GenomeError(str(err)) from err
    except OSError as err:
        raise GenomeError(f"cannot read genome file {path}: {err}") from err


# -- JSON ----------------------------------------------------------------------------------------------
def to_json(genome: Genome, *, indent: int | None = None) -> str:
    """The genome as JSON text (validated first)."""
    genome.validate()
    return json.dumps(genome.to_dict(), indent=indent, allow_nan=False)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise GenomeError(f"duplicate key {key!r} in a genome JSON object")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise GenomeError(f"genome JSON contains {name}, which is not a valid number")


def from_json(text: str | bytes, *, limits: GenomeLimits | None = None) -> Genome:
    """Parse and validate a genome from JSON text; anything malformed raises :class:`GenomeError`."""
    limits = limits if limits is not None else GenomeLimits()
    bound = max_file_bytes(limits)
    if isinstance(text, bytes):
        if len(text) > bound:
            raise GenomeError(f"genome JSON of {len(text)} bytes is over the limit of {bound} bytes")
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as err:
            raise GenomeError(f"genome JSON is not valid UTF-8: {err}") from err
    if not isinstance(text, str):
        raise GenomeError(f"genome JSON must be str or bytes, got {type(text).__name__}")
    if len(text) > bound:
        raise GenomeError(f"genome JSON of {len(text)} characters is over the limit of {bound}")
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except GenomeError:
        raise
    except (ValueError, RecursionError) as err:  # JSONDecodeError, too-long int literals
        raise GenomeError(f"not valid genome JSON: {err}") from err
    return Genome.from_dict(data, limits=limits)


def save_json(genome: Genome, path: str | os.PathLike[str]) -> None:
    """Write the genome as a JSON file."""
    Path(path).write_text(to_json(genome, indent=1), encoding="utf-8")


def load_json(path: str | os.PathLike[str], *, limits: GenomeLimits | None = None) -> Genome:
    """Read and validate a genome JSON file (size checked before parsing)."""
    limits = limits if limits is not None else GenomeLimits()
    return from_json(_read_bounded(path, limits), limits=limits)


# -- GraphML -------------------------------------------------------------------------------------------
_NS = "http://graphml.graphdrawing.org/xmlns"
_GRAPH_KEYS = (("num_inputs", "int"), ("num_outputs", "int"), ("next_id", "long"), ("schema_version", "int"))
_NODE_KEYS = (("activation", "string"), ("op", "string"), ("bias", "double"), ("kind", "string"))
_EDGE_KEYS = (("weight", "double"),)


def save_graphml(genome: Genome, path: str | os.PathLike[str]) -> None:
    """Write the genome as GraphML (readable by ``networkx.read_graphml`` and other tools)."""
    Path(path).write_text(to_graphml(genome), encoding="utf-8")


def to_graphml(genome: Genome) -> str:
    """The genome as GraphML text (what :func:`save_graphml` writes)."""
    genome.validate()
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f'<graphml xmlns="{_NS}">']
    for name, kind in _GRAPH_KEYS:
        lines.append(f'<key id="g_{name}" for="graph" attr.name="{name}" attr.type="{kind}"/>')
    for name, kind in _NODE_KEYS:
        lines.append(f'<key id="v_{name}" for="node" attr.name="{name}" attr.type="{kind}"/>')
    for name, kind in _EDGE_KEYS:
        lines.append(f'<key id="e_{name}" for="edge" attr.name="{name}" attr.type="{kind}"/>')
    lines.append('<graph id="genome" edgedefault="directed">')
    values = (genome.num_inputs, genome.num_outputs, genome.next_id, SCHEMA_VERSION)
    for (name, _), value in zip(_GRAPH_KEYS, values, strict=True):
        lines.append(f'<data key="g_{name}">{value}</data>')
    for v, d in genome.graph.nodes(data=True):
        for key, x in d.items():
            if isinstance(x, str) and any(ord(c) < 32 and c not in "\t\n\r" for c in x):
                raise GenomeError(f"vertex {v} attribute {key}={x!r} has control characters that XML cannot hold; "
                                  "save it as JSON")
        data = "".join(f'<data key="v_{k}">{escape(repr(float(x)) if k == "bias" else str(x))}</data>'
                       for k, x in d.items())
        lines.append(f"<node id={quoteattr(str(v))}>{data}</node>")
    inputs = sorted({i for inner in genome.input_edges.values() for i in inner} | set(genome.direct_edges))
    outputs = sorted({j for inner in genome.output_edges.values() for j in inner} | set(genome.output_biases)
                     | {j for inner in genome.direct_edges.values() for j in inner})
    lines.extend(f'<node id="input:{i}"><data key="v_kind">input</data></node>' for i in inputs)
    for j in outputs:
        bias = f'<data key="v_bias">{float(genome.output_biases[j])!r}</data>' if j in genome.output_biases else ""
        lines.append(f'<node id="output:{j}"><data key="v_kind">output</data>{bias}</node>')
    edges: list[tuple[str, str, dict[str, Any]]] = [(str(u), str(v), d) for u, v, d in genome.graph.edges(data=True)]
    edges += [(f"input:{i}", str(v), d) for v, inner in genome.input_edges.items() for i, d in inner.items()]
    edges += [(str(v), f"output:{j}", d) for v, inner in genome.output_edges.items() for j, d in inner.items()]
    edges += [(f"input:{i}", f"output:{j}", d) for i, inner in genome.direct_edges.items() for j, d in inner.items()]
    for u, v, d in edges:
        data = "".join(f'<data key="e_{k}">{repr(float(x))}</data>' for k, x in d.items())
        lines.append(f'<edge source="{u}" target="{v}">{data}</edge>')
    lines += ["</graph>", "</graphml>", ""]
    return "\n".join(lines)


def _parse_int(text: str, what: str) -> int:
    text = text.strip()
    body = text[1:] if text.startswith("-") else text
    if not body.isdigit() or not body.isascii() or len(body) > 18:
        raise GenomeError(f"GraphML {what} must be an integer, got {text[:40]!r}")
    return int(text)


def _parse_id(text: str, what: str) -> int | tuple[str, int]:
    """A hidden vertex id (an int) or an interface unit ``("input", i)`` / ``("output", j)``."""
    for kind in ("input", "output"):
        if text.startswith(kind + ":"):
            return kind, _parse_int(text[len(kind) + 1:], what)
    return _parse_int(text, what)


def _parse_float(text: str, what: str) -> float:
    text = text.strip()
    if len(text) > 40:
        raise GenomeError(f"GraphML {what} is not a number: {text[:40]!r}...")
    try:
        return float(text)
    except ValueError as err:
        raise GenomeError(f"GraphML {what} is not a number: {text!r}") from err


class _GraphMLReader:
    def __init__(self, limits: GenomeLimits) -> None:
        self.limits = limits
        self.keys: dict[str, tuple[str, str, str]] = {}
        self.graph_data: dict[str, str] = {}
        self.vertices: list[dict[str, Any]] = []
        self.edges: list[dict[str, Any]] = []
        self.units = 0  # interface nodes
        self.stack: list[str] = []
        self.current: dict[str, Any] | None = None
        self.data_key: str | None = None
        self.text: list[str] = []
        self.graphs = 0

    def doctype(self, *args: Any) -> None:
        raise GenomeError("GraphML with a DOCTYPE (entity declarations) is refused")

    def entity(self, *args: Any) -> None:
        raise GenomeError("GraphML with entity declarations is refused")

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        tag = tag.rsplit(" ", 1)[-1]
        if len(self.stack) >= _MAX_DEPTH:
            raise GenomeError(f"GraphML is nested deeper than {_MAX_DEPTH} elements")
        parent = self.stack[-1] if self.stack else None
        self.stack.append(tag)
        if tag == "key" and parent == "graphml":
            kid, scope = attrs.get("id"), attrs.get("for")
            name, kind = attrs.get("attr.name"), attrs.get("attr.type", "string")
            if not kid or scope not in ("graph", "node", "edge") or not name:
                raise GenomeError(f"GraphML <key> needs id, for=graph|node|edge and attr.name; got {attrs}")
            if len(self.keys) > 64:
                raise GenomeError("GraphML declares too many keys")
            self.keys[kid] = (scope, name, kind)
        elif tag == "graph" and parent != "graphml":
            raise GenomeError(f"GraphML <graph> inside a <{parent}>: the graph belongs directly in the <graphml>")
        elif tag == "graph":
            self.graphs += 1
            if self.graphs > 1:
                raise GenomeError("a genome GraphML file holds exactly one graph")
            if attrs.get("edgedefault", "directed") != "directed":
                raise GenomeError("a genome GraphML graph must be directed (edgedefault='directed')")
        elif tag in ("node", "edge") and parent != "graph":
            raise GenomeError(f"GraphML <{tag}> inside a <{parent}>: vertices and edges belong in the <graph>")
        elif tag == "node":
            vid = _parse_id(attrs.get("id", ""), "node id")
            self.units += isinstance(vid, tuple)
            if len(self.vertices) - self.units >= self.limits.max_vertices:
                raise GenomeError(f"GraphML has more than {self.limits.max_vertices} vertices (the limit)")
            if self.units > 2 * self.limits.max_interface:
                raise GenomeError(f"GraphML has more than {2 * self.limits.max_interface} interface nodes")
            self.current = {"id": vid}
            self.vertices.append(self.current)
        elif tag == "edge":
            if len(self.edges) >= self.limits.max_edges:
                raise GenomeError(f"GraphML has more than {self.limits.max_edges} edges (the limit)")
            if attrs.get("directed", "true") != "true":
                raise GenomeError("genome GraphML edges must be directed")
            self.current = {"source": _parse_id(attrs.get("source", ""), "edge source"),
                            "target": _parse_id(attrs.get("target", ""), "edge target")}
            self.edges.append(self.current)
        elif tag == "data" and parent in ("graph", "node", "edge"):
            self.data_key = attrs.get("key")
            self.text = []

    def chars(self, data: str) -> None:
        if self.data_key is not None:
            self.text.append(data)
            if len(self.text) > 1024:
                raise GenomeError("GraphML <data> value is too long")

    def end(self, tag: str) -> None:
        tag = self.stack.pop()
        parent = self.stack[-1] if self.stack else None
        if tag == "data" and self.data_key is not None:
            self._store(parent, self.data_key, "".join(self.text))
            self.data_key = None
        elif tag in ("node", "edge"):
            self.current = None

    def _store(self, parent: str | None, key: str, text: str) -> None:
        if key not in self.keys:
            raise GenomeError(f"GraphML <data> refers to an undeclared key {key!r}")
        scope, name, kind = self.keys[key]
        if scope != parent:
            raise GenomeError(f"GraphML key {key!r} is declared for {scope} but used on a {parent}")
        if scope == "graph":
            self.graph_data[name] = text
            return
        if self.current is None:
            raise GenomeError(f"GraphML <data> for a {scope} outside any <{scope}> element")
        if name in ("id", "source", "target"):
            raise GenomeError(f"GraphML attribute name {name!r} is reserved")
        if kind in ("double", "float") or name in ("bias", "weight"):
            self.current[name] = _parse_float(text, f"{scope} attribute {name!r}")
        elif kind in ("int", "long"):
            self.current[name] = _parse_int(text, f"{scope} attribute {name!r}")
        else:
            self.current[name] = text


def load_graphml(path: str | os.PathLike[str], *, limits: GenomeLimits | None = None) -> Genome:
    """Read and validate a genome GraphML file written by :func:`save_graphml` (strict, bounded, no DTDs)."""
    limits = limits if limits is not None else GenomeLimits()
    data = _read_bounded(path, limits)
    reader = _GraphMLReader(limits)
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = reader.doctype
    parser.EntityDeclHandler = reader.entity
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    parser.CharacterDataHandler = reader.chars
    try:
        parser.Parse(data, True)
    except GenomeError:
        raise
    except expat.ExpatError as err:
        raise GenomeError(f"{path}: not well-formed GraphML: {err}") from err
    except (LookupError, ValueError) as err:  # a bogus or multi-byte encoding in the XML declaration
        raise GenomeError(f"{path}: cannot read the GraphML file's text encoding: {err}") from err
    if reader.graphs != 1:
        raise GenomeError(f"{path}: no <graph> element in the GraphML file")
    info: dict[str, int] = {}
    for name in ("num_inputs", "num_outputs", "next_id", "schema_version"):
        if name not in reader.graph_data:
            raise GenomeError(f"{path}: the GraphML graph lacks the graph attribute {name!r}")
        info[name] = _parse_int(reader.graph_data[name], f"graph attribute {name!r}")
    data = {"schema": "deepstruct.genome", "version": info["schema_version"], "num_inputs": info["num_inputs"],
            "num_outputs": info["num_outputs"], "next_id": info["next_id"]}
    data.update(_split_interface(reader.vertices, reader.edges, path))
    return Genome.from_dict(data, limits=limits)


def _split_interface(vertices: list[dict[str, Any]], edges: list[dict[str, Any]],
                     path: str | os.PathLike[str]) -> dict[str, list[dict[str, Any]]]:
    """The hidden vertices and edges and the interface lists of a genome dict, from GraphML nodes and edges
    (interface nodes ``("input", i)`` / ``("output", j)``, which must say their ``kind``)."""
    out: dict[str, list[dict[str, Any]]] = {"vertices": [], "edges": []}
    units: set[tuple[str, int]] = set()
    for entry in vertices:
        vid = entry["id"]
        if not isinstance(vid, tuple):
            out["vertices"].append(entry)
            continue
        attrs = {k: x for k, x in entry.items() if k != "id"}
        if attrs.pop("kind", None) != vid[0]:
            raise GenomeError(f"{path}: GraphML node {vid[0]}:{vid[1]} needs the attribute kind={vid[0]!r}")
        if vid in units:
            raise GenomeError(f"{path}: GraphML node {vid[0]}:{vid[1]} appears twice")
        units.add(vid)
        if vid[0] == "output" and "bias" in attrs:
            out.setdefault("output_biases", []).append({"output": vid[1], "bias": attrs.pop("bias")})
        if attrs:
            raise GenomeError(f"{path}: GraphML node {vid[0]}:{vid[1]} has attributes {sorted(attrs)} "
                              "(an interface node holds its kind and, for an output, its bias)")
    for entry in edges:
        u, v = entry["source"], entry["target"]
        attrs = {k: x for k, x in entry.items() if k not in ("source", "target")}
        for end in (u, v):
            if isinstance(end, tuple) and end not in units:
                raise GenomeError(f"{path}: a GraphML edge refers to the undeclared node {end[0]}:{end[1]}")
        if not isinstance(u, tuple) and not isinstance(v, tuple):
            out["edges"].append(entry)
        elif isinstance(u, tuple) and u[0] == "input" and not isinstance(v, tuple):
            out.setdefault("input_edges", []).append({"input": u[1], "target": v, **attrs})
        elif not isinstance(u, tuple) and isinstance(v, tuple) and v[0] == "output":
            out.setdefault("output_edges", []).append({"source": u, "output": v[1], **attrs})
        elif isinstance(u, tuple) and isinstance(v, tuple) and (u[0], v[0]) == ("input", "output"):
            out.setdefault("direct_edges", []).append({"input": u[1], "output": v[1], **attrs})
        else:
            raise GenomeError(f"{path}: a GraphML edge {u!r} -> {v!r} runs against the interface "
                              "(edges leave inputs and enter outputs)")
    return out
