"""Crash-safe files of a run: the atomic JSON checkpoint and the append-only journal of evaluations.

A checkpoint is written to a temporary file in the same directory, flushed, fsync'd and moved over the old one
with :func:`os.replace`, so a reader sees the old or the new checkpoint, never a torn one. The journal gets one
JSON line per evaluated individual, fsync'd as it arrives; a torn last line (a kill mid-write) is ignored.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

__all__ = ["write_json_atomic", "read_json", "Journal", "BackgroundWriter", "read_journal", "CHECKPOINT", "JOURNAL",
           "CONFIG"]

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


class BackgroundWriter:
    """Writes JSON snapshots with :func:`write_json_atomic` on a background thread, one at a time, in order.

    ``submit`` waits for the previous write first; ``wait`` waits for the last one. An error of a write is
    raised by the next ``submit`` or ``wait``. A process killed mid-write leaves the previous file in place.
    """

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def _write(self, path: Path, data: Any) -> None:
        try:
            write_json_atomic(path, data)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller by wait()
            self._error = exc

    def submit(self, path: str | Path, data: Any) -> None:
        self.wait()
        self._thread = threading.Thread(target=self._write, args=(Path(path), data), name="checkpoint-writer")
        self._thread.start()

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error


def read_json(path: str | Path) -> Any:
    """Read a JSON file; a malformed file raises ``ValueError`` naming it."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from None


class Journal:
    """Append-only JSON-lines file.

    Every :meth:`append` writes and flushes its line to the operating system before it returns, so a killed
    process (even SIGKILL) loses nothing it appended. The ``fsync`` that makes the lines durable against a power
    loss runs on a background thread right after each append (``fsync="async"``, the default: the evaluation
    loop never waits for the disk), after each append (``"always"``) or never (``"never"``). :meth:`close` ends
    with a final fsync.
    """

    def __init__(self, path: str | Path, *, fsync: str | bool = "async") -> None:
        self.path = Path(path)
        self.fsync = {True: "always", False: "never"}.get(fsync, fsync)  # type: ignore[call-overload]
        if self.fsync not in ("async", "always", "never"):
            raise ValueError(f"fsync must be 'async', 'always' or 'never', got {fsync!r}")
        self._repair()
        self._handle = open(self.path, "a", encoding="utf-8")
        self._pending = threading.Event()
        self._closing = False
        self._thread: threading.Thread | None = None
        if self.fsync == "async":
            self._thread = threading.Thread(target=self._sync_loop, name="journal-fsync", daemon=True)
            self._thread.start()

    def _repair(self) -> None:
        """Cut a torn last line so that new lines start on a line of their own."""
        if not self.path.exists():
            return
        raw = self.path.read_bytes()
        if raw and not raw.endswith(b"\n"):
            with open(self.path, "r+b") as handle:
                handle.truncate(raw.rfind(b"\n") + 1)

    def _sync_loop(self) -> None:
        while True:
            self._pending.wait()
            self._pending.clear()
            try:
                os.fsync(self._handle.fileno())
            except (OSError, ValueError):  # closed underneath us
                return
            if self._closing:
                return

    def append(self, record: dict[str, Any]) -> None:
        self._handle.write(json.dumps(record, allow_nan=False, separators=(",", ":")) + "\n")
        self._handle.flush()
        if self.fsync == "always":
            os.fsync(self._handle.fileno())
        elif self.fsync == "async":
            self._pending.set()

    def close(self) -> None:
        if self._handle.closed:
            return
        if self._thread is not None:
            self._closing = True
            self._pending.set()
            self._thread.join()
        if self.fsync != "never":
            os.fsync(self._handle.fileno())
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
