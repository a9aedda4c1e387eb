"""Mutations of genome JSON files, on the parsed tree (wrong types, bad ids, cycles, schema versions, big
vertex counts) or on the text (NaN/Infinity and huge literals, duplicate keys, deep nesting)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

from tests.fuzzing.byte_mutations import Rng

__all__ = ["JSON_MUTATIONS", "TEXT_MUTATIONS"]


def _hostile_value(rng: Rng) -> Any:
    values: list[Any] = [None, True, False, "", "x" * 70, "1", -1, 0, 2**63, 10**400, -(10**30), 1e308, 0.5,
                         float("nan"), float("inf"), float("-inf"), [], {}, [1, 2], {"id": 0}, "\u0000", -0.0]
    return values[int(rng.integers(len(values)))]


def _nodes(tree: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    yield path, tree
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from _nodes(v, (*path, k))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from _nodes(v, (*path, i))


def _pick_node(tree: Any, rng: Rng, kind: type | None = None) -> tuple[tuple[Any, ...], Any] | None:
    nodes = [(p, n) for p, n in _nodes(tree) if kind is None or isinstance(n, kind)]
    return nodes[int(rng.integers(len(nodes)))] if nodes else None


def _set(tree: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = tree
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    return tree


def _wrong_type(tree: Any, rng: Rng) -> Any:
    picked = _pick_node(tree, rng)
    return tree if picked is None else _set(tree, picked[0], _hostile_value(rng))


def _drop_or_add_key(tree: Any, rng: Rng) -> Any:
    picked = _pick_node(tree, rng, dict)
    if picked is not None:
        obj = picked[1]
        if obj and rng.random() < 0.5:
            del obj[list(obj)[int(rng.integers(len(obj)))]]
        else:
            obj[["unknown", "bias", "weight", "activation", "op", "id", "source"][int(rng.integers(7))]] = \
                _hostile_value(rng)
    return tree


def _list_surgery(tree: Any, rng: Rng) -> Any:
    """Duplicate, delete or reverse the entries of a random list (duplicate ids and edges, missing vertices)."""
    picked = _pick_node(tree, rng, list)
    if picked is not None and picked[1]:
        items = picked[1]
        choice = int(rng.integers(3))
        if choice == 0:
            items.append(json.loads(json.dumps(items[int(rng.integers(len(items)))])))
        elif choice == 1:
            del items[int(rng.integers(len(items)))]
        else:
            items.reverse()
    return tree


def _ids(tree: Any) -> list[int]:
    vertices = tree.get("vertices") if isinstance(tree, dict) else None
    if not isinstance(vertices, list):
        return []
    return [v["id"] for v in vertices if isinstance(v, dict) and isinstance(v.get("id"), int)]


def _bad_ids(tree: Any, rng: Rng) -> Any:
    """Negative, duplicate or huge vertex ids, dangling edges, self-loops and cycles."""
    ids = _ids(tree)
    edges = tree.get("edges") if isinstance(tree, dict) else None
    if not ids or not isinstance(edges, list):
        return _wrong_type(tree, rng)
    u = ids[int(rng.integers(len(ids)))]
    choice = int(rng.integers(6))
    if choice == 0:
        entries = [v for v in tree["vertices"] if isinstance(v, dict) and "id" in v]
        entries[int(rng.integers(len(entries)))]["id"] = -int(rng.integers(1, 5))
    elif choice == 1:
        tree["vertices"].append({"id": u})
    elif choice == 2:
        edges.append({"source": u, "target": max(ids) + int(rng.integers(1, 1000))})
    elif choice == 3:
        edges.append({"source": u, "target": u})
    elif choice == 4 and edges:  # close a cycle: an edge back from a target to its source
        e = edges[int(rng.integers(len(edges)))]
        if isinstance(e, dict):
            edges.append({"source": e.get("target"), "target": e.get("source")})
    else:
        tree["next_id"] = [0, -1, max(ids), 2**62, 10**40][int(rng.integers(5))]
    return tree


def _attributes(tree: Any, rng: Rng) -> Any:
    """A hostile value for a vertex or edge attribute: numbers too large for a float, NaN, tiny, wrong types."""
    lists = [tree.get(key) for key in ("vertices", "edges")] if isinstance(tree, dict) else []
    entries = [(i, e) for i, entries in enumerate(lists) if isinstance(entries, list) for e in entries
               if isinstance(e, dict)]
    if not entries:
        return _wrong_type(tree, rng)
    numbers: list[Any] = [10**400, -(10**309), 2**1024, 2**1023, 1e308, -1e308, 5e-324, float("nan"), float("inf"),
                          "0.5", True, None, [], 0, -7]
    names: list[Any] = ["relu", "tanh", "conv3x3", "x" * 65, "", "\u0000", "RELU", 1, None, ["relu"]]
    which, entry = entries[int(rng.integers(len(entries)))]
    key = "weight" if which == 1 else ["bias", "bias", "activation", "op"][int(rng.integers(4))]
    values = numbers if key in ("bias", "weight") else names
    entry[key] = values[int(rng.integers(len(values)))]
    return tree


def _schema(tree: Any, rng: Rng) -> Any:
    if isinstance(tree, dict):
        key = ["version", "schema"][int(rng.integers(2))]
        values: list[Any] = [0, -1, 2, 3, 99, "1", 1.0, None, "deepstruct.genome", "deepstruct.genomes", ""]
        tree[key] = values[int(rng.integers(len(values)))]
    return tree


def _big(tree: Any, rng: Rng, sizes: tuple[int, ...]) -> Any:
    """Many vertices (over or at the limit), or a long chain (over the depth limit)."""
    if not isinstance(tree, dict):
        return tree
    n = sizes[int(rng.integers(len(sizes)))]
    tree["vertices"] = [{"id": i} for i in range(n)]
    tree["edges"] = [{"source": i, "target": i + 1} for i in range(n - 1)] if rng.random() < 0.5 else []
    tree["next_id"] = n
    return tree


def _json_text(tree: Any) -> bytes:
    return json.dumps(tree, allow_nan=True).encode("utf-8")


_NUMBER = re.compile(rb"(?<![\w.])-?\d+(\.\d+)?([eE][-+]?\d+)?")


def _text_numbers(data: bytes, rng: Rng) -> bytes:
    """Replace some number literals with NaN/Infinity, huge or overlong literals."""
    literals = [b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e999", b"9" * 5000, b"1" * 400, b"0x10", b"1_0",
                b"01", b"1.", b".5", b"+1", b"1e", b"--1"]
    matches = list(_NUMBER.finditer(data))
    if not matches:
        return data
    for m in sorted((matches[int(i)] for i in set(rng.integers(len(matches), size=int(rng.integers(1, 4))))),
                    key=lambda m: -m.start()):
        data = data[:m.start()] + literals[int(rng.integers(len(literals)))] + data[m.end():]
    return data


def _duplicate_key(data: bytes, rng: Rng) -> bytes:
    starts = [m.end() for m in re.finditer(rb"\{", data)]
    if not starts:
        return data
    at = starts[int(rng.integers(len(starts)))]
    key = [b'"id": 0, ', b'"version": 1, ', b'"schema": "deepstruct.genome", ', b'"source": 1, '][int(rng.integers(4))]
    return data[:at] + key + key + data[at:]


def _deep_nesting(data: bytes, rng: Rng) -> bytes:
    depth = int([20, 500, 5_000, 100_000][int(rng.integers(4))])
    opener, closer = (b"[", b"]") if rng.random() < 0.5 else (b'{"a":', b"}")
    at = data.find(b"[")
    if at < 0 or rng.random() < 0.3:
        return opener * depth + data + closer * depth
    return data[:at + 1] + opener * depth + b"1" + closer * depth + b"," + data[at + 1:]


JSON_MUTATIONS: dict[str, Callable[..., bytes]] = {
    "wrong_type": lambda tree, text, rng, sizes: _json_text(_wrong_type(tree, rng)),
    "drop_or_add_key": lambda tree, text, rng, sizes: _json_text(_drop_or_add_key(tree, rng)),
    "list_surgery": lambda tree, text, rng, sizes: _json_text(_list_surgery(tree, rng)),
    "bad_ids": lambda tree, text, rng, sizes: _json_text(_bad_ids(tree, rng)),
    "attributes": lambda tree, text, rng, sizes: _json_text(_attributes(tree, rng)),
    "schema": lambda tree, text, rng, sizes: _json_text(_schema(tree, rng)),
    "big": lambda tree, text, rng, sizes: _json_text(_big(tree, rng, sizes)),
    "text_numbers": lambda tree, text, rng, sizes: _text_numbers(text, rng),
    "duplicate_key": lambda tree, text, rng, sizes: _duplicate_key(text, rng),
    "deep_nesting": lambda tree, text, rng, sizes: _deep_nesting(text, rng),
    "not_an_object": lambda tree, text, rng, sizes: [b"[]", b"null", b"1", b'"genome"', b"", b"{}"][
        int(rng.integers(6))],
}
TEXT_MUTATIONS = frozenset({"text_numbers", "duplicate_key", "deep_nesting", "not_an_object"})
"""The mutations that work on the text (any bytes, parsable or not)."""
