"""Crash-safe files of a run: the atomic JSON checkpoint and the append-only journal of evaluations.

A checkpoint is written to a temporary file in the same directory, flushed, fsync'd and moved over the old one
with :func:`os.replace`, so a reader sees the old or the new checkpoint, never a torn one; a write that fails (a
full disk) removes its temporary file and leaves the old checkpoint. The journal gets one JSON line per evaluated
individual, fsync'd as it arrives; a torn last line (a kill mid-write: no newline yet) is ignored.

Both are sealed against damage: a checkpoint ends with a ``"checksum"`` member (SHA-256 of the rest of the
object as written), every journal line with a ``"sum"`` (its first 16 hex digits); :func:`unseal` checks it. A
changed byte, a lost line or a hand edit then ends a resume with an error instead of continuing from wrong state.
Any ``OSError`` of a write names the file it was writing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["write_json_atomic", "read_json", "Journal", "BackgroundWriter", "read_journal", "sealed_json", "unseal",
           "naming", "CHECKPOINT", "JOURNAL", "CONFIG", "SEAL", "LINE_SEAL"]

#: The largest checkpoint or journal read (a bound against a planted huge or endless file, far above real runs).
MAX_RUN_FILE_BYTES = 1 << 34

CHECKPOINT = "checkpoint.json"
JOURNAL = "journal.jsonl"
CONFIG = "config.json"
SEAL = "checksum"  # the member that seals a checkpoint (64 hex digits)
LINE_SEAL = "sum"  # the member that seals a journal line (16 hex digits)
_DIGITS = {SEAL: 64, LINE_SEAL: 16}


def _dumps(data: Any) -> str:
    return json.dumps(data, allow_nan=False, separators=(",", ":"))


def _digest(text: str, member: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[: _DIGITS.get(member, 64)]


def sealed_json(data: dict[str, Any], member: str = SEAL) -> str:
    """``data`` as compact strict JSON with a last member ``member`` holding the digest of the JSON before it."""
    if not isinstance(data, dict) or member in data:
        raise ValueError(f"only a JSON object without a {member!r} member can be sealed")
    text = _dumps(data)
    return f'{text[:-1]}{"," if data else ""}"{member}":"{_digest(text, member)}"}}'


def unseal(data: Any, member: str = SEAL) -> tuple[Any, bool]:
    """``(data without its seal, True)`` for a sealed object whose seal matches, ``(data, False)`` for an object
    without one; a seal that does not match raises ``ValueError``. The digest is recomputed from the parsed object
    (members in file order), so it detects any change of content."""
    if not isinstance(data, dict) or member not in data:
        return data, False
    rest = {k: v for k, v in data.items() if k != member}
    try:
        expected = _digest(_dumps(rest), member)
    except ValueError:  # NaN or Infinity in the file: never written by deepstruct
        raise ValueError("it holds a value that is not strict JSON (NaN or Infinity)") from None
    if data[member] != expected:
        raise ValueError(f"its {member} does not match its content (a changed byte or a hand edit)")
    return rest, True


@contextlib.contextmanager
def naming(path: Path) -> Iterator[None]:
    """Re-raise an ``OSError`` without a file name (a failed ``write`` or ``flush``) with ``path`` as its name."""
    try:
        yield
    except OSError as exc:
        if exc.filename is not None:
            raise
        raise type(exc)(exc.errno, exc.strerror or str(exc), str(path)) from exc


def write_json_atomic(path: str | Path, data: Any, *, seal: bool = False) -> None:
    """Write ``data`` as strict JSON to ``path`` atomically (temp file + fsync + ``os.replace``); ``seal`` adds a
    ``"checksum"`` member (:func:`sealed_json`). On failure the temporary file is removed and ``path`` is as it
    was; the ``OSError`` names ``path``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    text = sealed_json(data) if seal else _dumps(data)
    try:
        tmp.unlink(missing_ok=True)  # never write through a planted symlink: the file is new (O_EXCL | O_NOFOLLOW)
        with naming(path), open(tmp, "x", encoding="utf-8") as handle:  # O_EXCL: a symlink there is refused
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
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

    def _write(self, path: Path, data: Any, seal: bool) -> None:
        try:
            write_json_atomic(path, data, seal=seal)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller by wait()
            self._error = exc

    def submit(self, path: str | Path, data: Any, *, seal: bool = False) -> None:
        self.wait()
        self._thread = threading.Thread(target=self._write, args=(Path(path), data, seal), name="checkpoint-writer")
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
        return json.loads(_read(path).decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from None
    except RecursionError:
        raise ValueError(f"{path} is not valid JSON: it nests too deeply") from None


def _no_follow(path: str, flags: int) -> int:
    """``open``'s opener that refuses a symlink as the last part of the path (``O_NOFOLLOW``)."""
    return os.open(path, flags | getattr(os, "O_NOFOLLOW", 0), 0o644)


def _read(path: Path) -> bytes:
    """The bytes of a run file: a regular file only (a FIFO or a device is refused at once, never waited on)."""
    from deepstruct.safe_files import read_regular

    return read_regular(path, MAX_RUN_FILE_BYTES, what="run file")


class Journal:
    """Append-only JSON-lines file.

    Every :meth:`append` writes and flushes its line to the operating system before it returns, so a killed
    process (even SIGKILL) loses nothing it appended. The ``fsync`` that makes the lines durable against a power
    loss runs on a background thread right after each append (``fsync="async"``, the default: the evaluation
    loop never waits for the disk), after each append (``"always"``) or never (``"never"``). :meth:`close` ends
    with a final fsync. With ``seal`` every line gets a ``"sum"`` member (:func:`sealed_json`).
    """

    def __init__(self, path: str | Path, *, fsync: str | bool = "async", seal: bool = False) -> None:
        self.path = Path(path)
        self.seal = seal
        self.fsync = {True: "always", False: "never"}.get(fsync, fsync)  # type: ignore[call-overload]
        if self.fsync not in ("async", "always", "never"):
            raise ValueError(f"fsync must be 'async', 'always' or 'never', got {fsync!r}")
        self._repair()
        self._handle = open(self.path, "a", encoding="utf-8", opener=_no_follow)  # never through a symlink
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
        raw = _read(self.path)
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
        line = (sealed_json(record, LINE_SEAL) if self.seal else _dumps(record)) + "\n"
        with naming(self.path):
            self._handle.write(line)
            self._handle.flush()
            if self.fsync == "always":
                os.fsync(self._handle.fileno())
        if self.fsync == "async":
            self._pending.set()

    def sync(self) -> None:
        """Make every appended line durable now (a checkpoint is written only after the lines it counts)."""
        with naming(self.path):
            self._handle.flush()
            os.fsync(self._handle.fileno())

    def close(self) -> None:
        """The last fsync, then close (the file is closed even when the fsync or the last flush fails)."""
        if self._handle.closed:
            return
        if self._thread is not None:
            self._closing = True
            self._pending.set()
            self._thread.join()
        with naming(self.path):
            try:
                if self.fsync != "never":
                    self._handle.flush()
                    os.fsync(self._handle.fileno())
            finally:
                self._handle.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_journal(path: str | Path, *, sealed: bool = False) -> list[Any]:
    """Every complete record of a journal; a torn last line (no newline: what :class:`Journal` cuts before it
    appends again) is skipped. A complete line that is not JSON raises ``ValueError`` naming it.

    ``sealed`` checks the ``"sum"`` of every line and removes it: a line whose sum does not match, or a line
    without one after a line with one (only lines written before seals existed may lack it), raises
    ``ValueError``.
    """
    path = Path(path)
    if not path.exists():
        return []
    records = []
    *lines, _torn = _read(path).split(b"\n")
    seen_seal = False
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ValueError(f"{path}: line {number} is not valid JSON") from None
        if sealed:
            try:
                record, has_seal = unseal(record, LINE_SEAL)
            except ValueError as exc:
                raise ValueError(f"{path}: line {number} is damaged: {exc}") from None
            if seen_seal and not has_seal:
                raise ValueError(f"{path}: line {number} has no {LINE_SEAL!r} after sealed lines (a hand edit)")
            seen_seal = seen_seal or has_seal
        records.append(record)
    return records
