"""Crash-safe files of a run: the atomic JSON checkpoint and the append-only journal of evaluations.

A checkpoint is written to a temporary file in the same directory, flushed, fsync'd and moved over the old one
with :func:`os.replace`, so a reader sees the old or the new checkpoint, never a torn one. The journal gets one
JSON line per evaluated individual, fsync'd as it arrives; a torn last line (a kill mid-write) is ignored.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["write_json_atomic", "read_json", "Journal", "read_journal", "CHECKPOINT", "JOURNAL", "CONFIG"]

CHECKPOINT = "checkpoint.json"
JOURNAL = "journal.jsonl"
CONFIG = "config.json"


def write_json_atomic(path: str | Path, data: Any) -> None:
    """Write ``data`` as strict JSON to ``path`` atomically (temp file + fsync + ``os.replace``)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    text = json.dumps(data, allow_nan=False, separators=(",", ":"))
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    try:  # make the rename itself durable
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:  # pragma: no cover - directories cannot be fsync'd on some platforms
        pass


def read_json(path: str | Path) -> Any:
    """Read a JSON file; a malformed file raises ``ValueError`` naming it."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from None


class Journal:
    """Append-only JSON-lines file; every :meth:`append` is flushed and fsync'd before it returns."""

    def __init__(self, path: str | Path, *, fsync: bool = True) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self._repair()
        self._handle = open(self.path, "a", encoding="utf-8")

    def _repair(self) -> None:
        """Cut a torn last line so that new lines start on a line of their own."""
        if not self.path.exists():
            return
        raw = self.path.read_bytes()
        if raw and not raw.endswith(b"\n"):
            with open(self.path, "r+b") as handle:
                handle.truncate(raw.rfind(b"\n") + 1)

    def append(self, record: dict[str, Any]) -> None:
        self._handle.write(json.dumps(record, allow_nan=False, separators=(",", ":")) + "\n")
        self._handle.flush()
        if self.fsync:
            os.fsync(self._handle.fileno())

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_journal(path: str | Path) -> list[dict[str, Any]]:
    """Every complete record of a journal; a torn or malformed last line is skipped."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    lines = path.read_text(encoding="utf-8", errors="replace").split("\n")
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if number >= len(lines) - 2:  # the torn last line of a killed writer
                continue
            raise ValueError(f"{path}: line {number + 1} is not valid JSON") from None
        records.append(record)
    return records
