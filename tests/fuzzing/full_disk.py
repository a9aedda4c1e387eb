"""A disk that fills up: :class:`FullDisk` stands in for ``open`` in :mod:`deepstruct.evo.persistence`.

The n-th write to a chosen file (``journal.jsonl``, ``checkpoint.json`` by its temporary file, ``config.json``)
writes the first half of its data and raises ``OSError(ENOSPC)``, as a write on a full file system does; from
then on every write through persistence fails the same way (the disk stays full) until :meth:`FullDisk.free`.
Successful checkpoint writes are recorded, so a test knows which checkpoint must be on disk after the failure.
"""

from __future__ import annotations

import builtins
import errno
import os
from pathlib import Path
from typing import Any

__all__ = ["FullDisk"]


class _Handle:
    """A file handle whose writes draw on the disk's space."""

    def __init__(self, handle: Any, disk: FullDisk, target: str) -> None:
        self._handle, self._disk, self._target = handle, disk, target

    def write(self, data: Any) -> int:
        if self._disk.fail_now(self._target):
            self._handle.write(data[: len(data) // 2])  # what fitted: a torn line, a half-written temporary file
            self._handle.flush()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self._handle.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)

    def __enter__(self) -> _Handle:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()


class FullDisk:
    """Fail the ``nth`` write (1-based) to the file named ``target`` with ENOSPC, and every write after it.

    Use with ``monkeypatch.setattr(persistence, "open", disk.open, raising=False)``.
    """

    def __init__(self, target: str, nth: int) -> None:
        self.target, self.nth = target, nth
        self.writes: dict[str, int] = {}
        self.full = False
        self.failed_at: str | None = None

    @staticmethod
    def _name(path: Any) -> str:
        """``checkpoint.json`` for its temporary file ``.checkpoint.json.<pid>.tmp`` too."""
        name = Path(path).name
        return name[1:].rsplit(".", 2)[0] if name.startswith(".") and name.endswith(".tmp") else name

    def fail_now(self, name: str) -> bool:
        if self.full:
            return True
        self.writes[name] = self.writes.get(name, 0) + 1
        if name == self.target and self.writes[name] == self.nth:
            self.full, self.failed_at = True, f"{name} write #{self.nth}"
        return self.full

    def free(self) -> None:
        """Space again: writes succeed from now on."""
        self.full = False
        self.nth = -1

    def open(self, file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        handle = builtins.open(file, mode, *args, **kwargs)
        if any(flag in mode for flag in "wax+"):
            return _Handle(handle, self, self._name(file))
        return handle
