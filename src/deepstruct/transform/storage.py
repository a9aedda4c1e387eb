"""Edge chunks of an extracted graph, in memory or streamed to a directory of ``.npy`` files.

On-disk format (``deepstruct.compact-graph`` version 1), readable with numpy and json alone::

    graph_dir/
        index.json               # format, version, counts, index dtype, the list of chunks
        vertices.json            # the vertex table: one entry per vertex block (a run of vertex indices)
        chunks/000000.sources.npy, 000000.targets.npy[, 000000.weights.npy], 000001.sources.npy, ...

``index.json`` holds ``{"format": "deepstruct.compact-graph", "version": 1, "granularity", "complete",
"unsupported": [...], "num_vertices", "num_edges", "index_dtype": "int32" | "int64", "weighted": bool,
"chunks": [{"sources": path, "targets": path, "weights": path | null, "count": n}, ...]}`` (paths relative to
the directory). Chunk ``k`` holds edges ``sources[e] -> targets[e]`` (1-d arrays of ``index_dtype``, vertex
indices) and optional ``float32`` weights; a graph's edges are the chunks in order. ``vertices.json`` is
``{"blocks": [{"name", "kind", "layer", "start", "count", "shape", "labels"}, ...]}``: vertex ``v`` belongs to
the block with ``start <= v < start + count``; its id is ``labels[v - start]`` when ``labels`` is a list
(lists stand for tuples) and ``[name, v - start]`` otherwise.

Example, without deepstruct::

    index = json.load(open("graph_dir/index.json"))
    for chunk in index["chunks"]:
        src = numpy.load("graph_dir/" + chunk["sources"], mmap_mode="r")
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deepstruct._validation import is_int

__all__ = ["EdgeChunk", "EdgeSink", "default_memory_budget", "index_dtype", "FORMAT", "read_index"]

FORMAT = "deepstruct.compact-graph"
VERSION = 1
CHUNK_EDGES = 1 << 23  # 8 M edges: 64 MiB of int32 sources and targets per chunk


def default_memory_budget(fraction: float = 0.25) -> int:
    """``fraction`` of the machine's physical memory in bytes (the default budget for in-memory edges)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 << 30
    return int(total * fraction)


def index_dtype(num_vertices: int) -> np.dtype:
    """The smallest integer type of vertex indices below ``num_vertices``: int32 below 2**31, else int64."""
    return np.dtype(np.int32) if num_vertices <= np.iinfo(np.int32).max else np.dtype(np.int64)


@dataclass
class EdgeChunk:
    """One chunk of edges: arrays in memory, or ``.npy`` files (memory-mapped when read)."""

    count: int
    sources: np.ndarray | None = None
    targets: np.ndarray | None = None
    weights: np.ndarray | None = None
    files: tuple[Path, Path, Path | None] | None = None

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        if self.files is None:
            return self.sources, self.targets, self.weights  # type: ignore[return-value]
        src, tgt, w = self.files
        load = lambda p: np.load(p, mmap_mode="r", allow_pickle=False)  # noqa: E731
        return load(src), load(tgt), None if w is None else load(w)

    @property
    def nbytes(self) -> int:
        if self.files is None:
            return sum(a.nbytes for a in (self.sources, self.targets, self.weights) if a is not None)
        return 0


def _npy_header(dtype: np.dtype, n: int) -> bytes:
    """A version 1.0 ``.npy`` header of a 1-d array, padded to 128 bytes (so it can be rewritten in place)."""
    text = f"{{'descr': '{dtype.str}', 'fortran_order': False, 'shape': ({n},), }}"
    text = text.ljust(128 - 10 - 1) + "\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text.encode("latin1")


class _ChunkFiles:
    """``.npy`` files of one chunk, written piece by piece by a background thread, headers fixed at close."""

    def __init__(self, base: Path, dtype: np.dtype, weighted: bool, pool: ThreadPoolExecutor) -> None:
        self.paths = (base.with_suffix(".sources.npy"), base.with_suffix(".targets.npy"),
                      base.with_suffix(".weights.npy") if weighted else None)
        self.dtypes = (dtype, dtype, np.dtype(np.float32))
        self.files = [open(p, "wb") if p is not None else None for p in self.paths]  # noqa: SIM115
        for f, dt in zip(self.files, self.dtypes, strict=True):
            if f is not None:
                f.write(_npy_header(dt, 0))
        self.pool = pool
        self.pending: deque[tuple[Future[None], int]] = deque()
        self.pending_bytes = 0
        self.staged: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []
        self.staged_edges = 0
        self.count = 0

    def write(self, arrays: tuple[np.ndarray, np.ndarray, np.ndarray | None]) -> None:
        """Queue a piece; small pieces are gathered into one write of about ``WRITE_EDGES`` edges."""
        self.staged.append(arrays)
        self.staged_edges += int(arrays[0].shape[0])
        if self.staged_edges >= WRITE_EDGES:
            self._submit()

    def _submit(self) -> None:
        if not self.staged:
            return
        staged = self.staged
        arrays = staged[0] if len(staged) == 1 else tuple(  # type: ignore[assignment]
            None if staged[0][k] is None else np.concatenate([p[k] for p in staged]) for k in range(3))
        self.staged, self.staged_edges = [], 0
        nbytes = sum(a.nbytes for a in arrays if a is not None)
        self.pending.append((self.pool.submit(self._write, arrays), nbytes))
        self.pending_bytes += nbytes
        self.count += int(arrays[0].shape[0])  # type: ignore[index]
        while self.pending and (self.pending[0][0].done() or self.pending_bytes > PENDING_BYTES):
            future, b = self.pending.popleft()
            future.result()
            self.pending_bytes -= b

    def _write(self, arrays: tuple[np.ndarray, np.ndarray, np.ndarray | None]) -> None:
        for f, a in zip(self.files, arrays, strict=True):
            if f is not None and a is not None:
                f.write(memoryview(np.ascontiguousarray(a)).cast("B"))

    def close(self) -> tuple[Path, Path, Path | None]:
        self._submit()
        while self.pending:
            self.pending.popleft()[0].result()
        for f, dt in zip(self.files, self.dtypes, strict=True):
            if f is not None:
                f.seek(0)
                f.write(_npy_header(dt, self.count))
                f.close()
        return self.paths  # type: ignore[return-value]


PENDING_BYTES = 256 << 20
WRITE_EDGES = 1 << 21


class EdgeSink:
    """Collects edges in chunks of about ``chunk_edges``; keeps them in memory up to ``memory_budget`` bytes,
    then (or from the start, when ``directory`` is given) streams every piece to disk as it comes, from a
    background thread, so that producing edges and writing them overlap.

    Without ``directory`` a spill goes to a new temporary directory (``spilled_to``), which the caller owns.
    """

    def __init__(self, dtype: np.dtype, *, weighted: bool, memory_budget: int | None = None,
                 directory: str | os.PathLike[str] | None = None, chunk_edges: int = CHUNK_EDGES) -> None:
        if memory_budget is not None and (not is_int(memory_budget) or memory_budget < 0):
            raise ValueError(f"memory_budget must be a number of bytes >= 0, got {memory_budget!r}")
        if not is_int(chunk_edges) or chunk_edges < 1:
            raise ValueError(f"chunk_edges must be a positive integer, got {chunk_edges!r}")
        self.dtype = np.dtype(dtype)
        self.weighted = weighted
        self.budget = default_memory_budget() if memory_budget is None else memory_budget
        self.chunk_edges = chunk_edges
        self.directory: Path | None = None
        self.spilled_to: Path | None = None
        self.chunks: list[EdgeChunk] = []
        self.in_memory = 0
        self._pieces: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []
        self._fill = 0
        self._files: _ChunkFiles | None = None
        self._pool: ThreadPoolExecutor | None = None
        if directory is not None:
            self._open(Path(directory))

    def _open(self, directory: Path) -> None:
        if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
            raise ValueError(f"{directory} must be a new or empty directory to write the graph to")
        (directory / "chunks").mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="deepstruct-edges")
        memory, self.chunks = self.chunks, []
        for c in memory:  # spill what was held in memory
            files = self._new_files()
            files.write(c.arrays())
            self.chunks.append(EdgeChunk(c.count, files=files.close()))
        self.in_memory = 0

    def _new_files(self) -> _ChunkFiles:
        assert self.directory is not None and self._pool is not None
        return _ChunkFiles(self.directory / "chunks" / f"{len(self.chunks):06d}", self.dtype, self.weighted,
                           self._pool)

    @property
    def num_edges(self) -> int:
        return sum(c.count for c in self.chunks) + self._fill

    def add(self, sources: np.ndarray, targets: np.ndarray, weights: np.ndarray | None = None) -> None:
        """Append edges (integer arrays of one length; ``weights`` of a weighted sink default to 1)."""
        n = int(sources.shape[0])
        if n == 0:
            return
        src = sources.astype(self.dtype, copy=False)
        tgt = targets.astype(self.dtype, copy=False)
        w = None
        if self.weighted:
            w = np.ones(n, np.float32) if weights is None else weights.astype(np.float32, copy=False)
        if self.directory is not None:
            if self._files is None:
                self._files = self._new_files()
            self._files.write((src, tgt, w))
        else:
            self._pieces.append((src, tgt, w))
        self._fill += n
        if self._fill >= self.chunk_edges:
            self._flush()

    def _flush(self) -> None:
        if self._fill == 0:
            return
        if self._files is not None:
            self.chunks.append(EdgeChunk(self._fill, files=self._files.close()))
            self._files = None
        else:
            pieces = self._pieces
            cat = lambda k: pieces[0][k] if len(pieces) == 1 else np.concatenate([p[k] for p in pieces])  # noqa: E731
            chunk = EdgeChunk(self._fill, cat(0), cat(1), cat(2) if self.weighted else None)
            self.chunks.append(chunk)
            self.in_memory += chunk.nbytes
        self._pieces, self._fill = [], 0
        if self.directory is None and self.in_memory > self.budget:
            self.spilled_to = Path(tempfile.mkdtemp(prefix="deepstruct-graph-"))
            self._open(self.spilled_to)

    def finish(self) -> list[EdgeChunk]:
        """Flush the last partial chunk; the chunks in order (files when written to disk)."""
        self._flush()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        return self.chunks


def write_index(directory: Path, meta: dict[str, Any], chunks: list[EdgeChunk], blocks: list[dict[str, Any]]) -> None:
    """Write ``index.json`` and ``vertices.json`` for chunks already stored under ``directory``."""
    entries = []
    for c in chunks:
        assert c.files is not None
        rel = [None if f is None else Path(f).relative_to(directory).as_posix() for f in c.files]
        entries.append({"sources": rel[0], "targets": rel[1], "weights": rel[2], "count": c.count})
    index = {"format": FORMAT, "version": VERSION, **meta, "chunks": entries}
    (directory / "vertices.json").write_text(json.dumps({"blocks": blocks}), encoding="utf-8")
    (directory / "index.json").write_text(json.dumps(index, indent=1), encoding="utf-8")


def read_index(directory: str | os.PathLike[str]) -> tuple[dict[str, Any], list[EdgeChunk], list[dict[str, Any]]]:
    """Read a graph directory's index: metadata, chunks (files) and block dicts; clear errors on bad input."""
    directory = Path(directory)
    path = directory / "index.json"
    if not path.is_file():
        raise ValueError(f"{directory} is not a saved graph: {path.name} is missing")
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
        blocks = json.loads((directory / "vertices.json").read_text(encoding="utf-8"))["blocks"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise ValueError(f"{directory}: unreadable graph index ({type(e).__name__}: {e})") from e
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        found = index.get("format") if isinstance(index, dict) else None
        raise ValueError(f"{path} is not a {FORMAT} index (format {found!r})")
    if index.get("version") != VERSION:
        raise ValueError(f"{path}: unsupported version {index.get('version')!r} (this library reads {VERSION})")
    chunks = []
    for k, entry in enumerate(index.get("chunks", [])):
        files = []
        for key in ("sources", "targets", "weights"):
            rel = entry.get(key)
            if rel is None:
                files.append(None)
                continue
            p = (directory / rel).resolve()
            if directory.resolve() not in p.parents or not p.is_file():
                raise ValueError(f"{path}: chunk {k} names {rel!r}, which is not a file inside {directory}")
            files.append(p)
        if files[0] is None or files[1] is None:
            raise ValueError(f"{path}: chunk {k} lacks its sources or targets file")
        chunks.append(EdgeChunk(int(entry["count"]), files=(files[0], files[1], files[2])))
    return index, chunks, blocks


def copy_chunks(chunks: list[EdgeChunk], directory: Path) -> list[EdgeChunk]:
    """The chunks stored under ``directory/chunks`` (written, or copied from their files)."""
    (directory / "chunks").mkdir(parents=True, exist_ok=True)
    out = []
    for k, c in enumerate(chunks):
        base = directory / "chunks" / f"{k:06d}"
        files = (base.with_suffix(".sources.npy"), base.with_suffix(".targets.npy"))
        src, tgt, w = c.arrays()
        wfile = base.with_suffix(".weights.npy") if w is not None else None
        for arr, f, old in zip((src, tgt, w), (*files, wfile), c.files or (None, None, None), strict=True):
            if arr is None or f is None:
                continue
            if old is not None and Path(old).resolve() == f.resolve():
                continue
            if old is not None:
                shutil.copyfile(old, f)
            else:
                np.save(f, arr, allow_pickle=False)
        out.append(EdgeChunk(c.count, files=(files[0], files[1], wfile)))
    return out


def iter_arrays(chunks: list[EdgeChunk]) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
    for c in chunks:
        yield c.arrays()
