"""The journal's compact form of genomes: a tenth of the plain JSON and less, exact, still one JSON line.

A journalled result carries the genome that was evaluated and, in a Lamarckian run, the re-encoded one. As plain
JSON a genome of the default digits run takes ~40 KB (every interface edge an object ``{"input": 3, "target":
7}``); a journal line holds it as ``{"codec": "columns+zlib", "data": "<base64>"}``:

1. *columns*: every list of objects with the same keys in the same order becomes ``{"@columns": [keys],
   "@rows": [column per key]}``; a column of floats (weights, biases) becomes ``{"@f64": "<base64>"}``, the
   IEEE-754 doubles byte-shuffled (all first bytes, then all second bytes, ...), so the zero bytes of float32
   weights compress to nothing;
2. the result as compact JSON, compressed with zlib (level 6) and written as base64.

:func:`unpack_genome` gives back exactly the original dict (same keys in the same order, same floats bit for bit),
so a resumed run replays exactly what it journalled, and the line's seal covers the packed text. Reading refuses
(``ValueError``) a packed text that is not valid base64, not zlib, or that would unpack to more than ``limit``
bytes (a decompression bomb), before it is parsed. Read a journal's genomes in Python with
``unpack_result(record["result"])``.

Examples
--------
>>> genome = {"schema": "deepstruct.genome", "input_edges": [{"input": i, "target": 0, "weight": i / 3}
...                                                         for i in range(64)]}
>>> packed = pack_genome(genome)
>>> sorted(packed), len(str(packed)) * 5 < len(str(genome))
(['codec', 'data'], True)
>>> unpack_genome(packed) == genome
True
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from typing import Any

import numpy as np

__all__ = ["CODEC", "pack_genome", "unpack_genome", "pack_result", "unpack_result", "DEFAULT_LIMIT"]

CODEC = "columns+zlib"
#: The most bytes one packed genome may unpack to (its JSON), unless the caller gives its own limit.
DEFAULT_LIMIT = 64 << 20
_GENOMES = ("evaluated", "genome")  # the fields of a journalled result that hold a genome


def _floats(column: list[Any]) -> bool:
    return bool(column) and all(type(v) is float for v in column)


def _columns(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _columns(v) for k, v in value.items()}
    if isinstance(value, list):
        if len(value) > 1 and all(type(e) is dict for e in value):
            keys = list(value[0])
            if keys and all(len(e) == len(keys) and list(e) == keys for e in value):
                rows = []
                for k in keys:
                    column = [e[k] for e in value]
                    rows.append(_pack_floats(column) if _floats(column) else [_columns(v) for v in column])
                return {"@columns": keys, "@rows": rows}
        return [_columns(v) for v in value]
    return value


def _pack_floats(column: list[float]) -> dict[str, str]:
    raw = np.asarray(column, dtype="<f8").view(np.uint8).reshape(-1, 8).T.tobytes()  # byte-shuffled
    return {"@f64": base64.b64encode(raw).decode("ascii")}


def _unpack_floats(text: Any) -> list[float]:
    if not isinstance(text, str):
        raise ValueError("a packed float column must be a base64 string")
    raw = base64.b64decode(text, validate=True)
    if len(raw) % 8:
        raise ValueError("a packed float column is not a whole number of doubles")
    planes = np.frombuffer(raw, dtype=np.uint8).reshape(8, -1)
    return np.ascontiguousarray(planes.T).view("<f8").ravel().tolist()


def _rows(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"@columns", "@rows"}:
            keys, rows = value["@columns"], value["@rows"]
            if not isinstance(keys, list) or not isinstance(rows, list) or len(keys) != len(rows) or not keys:
                raise ValueError("a packed table needs as many columns as keys")
            columns = [_unpack_floats(r["@f64"]) if isinstance(r, dict) and set(r) == {"@f64"} else _rows(r)
                       for r in rows]
            if not all(isinstance(c, list) and len(c) == len(columns[0]) for c in columns):
                raise ValueError("the columns of a packed table differ in length")
            return [dict(zip(keys, row, strict=True)) for row in zip(*columns, strict=True)]
        return {k: _rows(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rows(v) for v in value]
    return value


def pack_genome(genome: dict[str, Any]) -> dict[str, str]:
    """The journal's compact form of a genome dict (see the module docstring)."""
    text = json.dumps(_columns(genome), allow_nan=False, separators=(",", ":")).encode("utf-8")
    return {"codec": CODEC, "data": base64.b64encode(zlib.compress(text, 6)).decode("ascii")}


def unpack_genome(packed: Any, limit: int = DEFAULT_LIMIT) -> Any:
    """The genome dict of :func:`pack_genome`'s output; anything else (a plain genome dict of an older journal,
    ``None``) is returned as it is. A damaged packed form raises ``ValueError``."""
    if not isinstance(packed, dict) or packed.get("codec") is None:
        return packed
    if packed.get("codec") != CODEC or set(packed) != {"codec", "data"} or not isinstance(packed["data"], str):
        raise ValueError(f"a packed genome has an unknown codec {str(packed.get('codec'))[:40]!r}")
    try:
        compressed = base64.b64decode(packed["data"], validate=True)
        inflater = zlib.decompressobj()
        text = inflater.decompress(compressed, limit)
        if inflater.unconsumed_tail or not inflater.eof:
            raise ValueError(f"a packed genome unpacks to more than {limit} bytes, or is cut short")
        return _rows(json.loads(text.decode("utf-8")))
    except (binascii.Error, zlib.error, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"a packed genome is damaged ({type(exc).__name__})") from None
    except RecursionError:
        raise ValueError("a packed genome nests too deeply") from None


def pack_result(result: dict[str, Any]) -> dict[str, Any]:
    """A journalled result (:meth:`EvaluationResult.to_dict`) with its genomes packed (a shallow copy)."""
    return {k: pack_genome(v) if k in _GENOMES and isinstance(v, dict) else v for k, v in result.items()}


def unpack_result(result: Any, limit: int = DEFAULT_LIMIT) -> Any:
    """:func:`pack_result` undone (a result of an older journal, with plain genomes, comes back as it is)."""
    if not isinstance(result, dict):
        return result
    return {k: unpack_genome(v, limit) if k in _GENOMES else v for k, v in result.items()}
