"""Reads and writes that a hostile directory cannot turn against their caller.

A run directory or a genome file may come from someone else. Three rules hold for every file deepstruct opens
there:

- Only a *regular file* is read: a FIFO, a device (``/dev/zero``), a socket or a directory is refused at once
  (the file is opened with ``O_NONBLOCK``, so opening a FIFO does not wait for a writer), and never more than a
  stated number of bytes is read.
- A write inside a run directory never follows a symlink: every directory between the run directory and the file
  must be a real directory, the data goes to a fresh temporary file (``O_EXCL | O_NOFOLLOW``) that then replaces
  the target name (``os.replace`` replaces a symlink, it does not write through it).
- The run directory's lock file is opened with ``O_NOFOLLOW`` too.

Errors are :class:`UnsafeFileError` (a ``ValueError``) with a one-line message naming the file; callers turn it
into their own error type. This module imports nothing of deepstruct, so every layer may use it.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

__all__ = ["UnsafeFileError", "read_regular", "write_inside", "directory_inside", "open_lock_file", "kind_of"]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class UnsafeFileError(ValueError):
    """A file that is not what it must be (not a regular file, too large, a symlink where none may be)."""


def kind_of(mode: int) -> str:
    """A few words for the kind of file ``mode`` (``st_mode``) describes."""
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory"),
                       (stat.S_ISLNK, "a symlink")):
        if test(mode):
            return name
    return "not a regular file"


def read_regular(path: str | os.PathLike[str], limit: int, *, what: str = "file") -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them.

    Parameters
    ----------
    path : path
        The file (a symlink to a regular file is followed: reading one is harmless).
    limit : int
        The most bytes the file may hold; a larger file raises :class:`UnsafeFileError` without being read.
    what : str
        What the file is, for the message (``"config file"``).

    Raises
    ------
    UnsafeFileError
        ``path`` is a FIFO, device, socket or directory, or holds more than ``limit`` bytes.
    OSError
        It does not exist or cannot be opened (``FileNotFoundError``, ``PermissionError``).

    Examples
    --------
    >>> read_regular("/dev/zero", 10)
    Traceback (most recent call last):
    ...
    deepstruct.safe_files.UnsafeFileError: file /dev/zero is a character device, not a regular file
    """
    fd = os.open(path, os.O_RDONLY | _NONBLOCK | _CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeFileError(f"{what} {_short(path)} is {kind_of(info.st_mode)}, not a regular file")
        if info.st_size > limit:
            raise UnsafeFileError(f"{what} {_short(path)} holds {info.st_size} bytes, over the limit of {limit}")
        chunks, total = [], 0
        while True:  # read what is there (a file that grows after fstat is cut at the limit)
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise UnsafeFileError(f"{what} {_short(path)} grew over the limit of {limit} bytes")
        return b"".join(chunks)
    finally:
        os.close(fd)


def _short(path: str | os.PathLike[str], width: int = 200) -> str:
    text = os.fspath(path)
    return text if len(text) <= width else text[: width - 3] + "..."


def directory_inside(root: str | os.PathLike[str], relative: str | os.PathLike[str] = ".") -> Path:
    """``root / relative`` as a real directory (made if missing), with no symlink from ``root`` down to it.

    Raises :class:`UnsafeFileError` when ``root`` or a directory below it on the way is a symlink or not a
    directory.
    """
    root = Path(root)
    info = os.stat(root)  # the run directory itself is the caller's choice (it may be a symlink)
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeFileError(f"{_short(root)} is {kind_of(info.st_mode)}, not a directory")
    current = root
    for part in Path(relative).parts:
        if part in (".", ""):
            continue
        if part == ".." or os.sep in part:
            raise UnsafeFileError(f"{_short(relative)} leaves the directory {_short(root)}")
        current = current / part
        try:
            info = os.lstat(current)
        except FileNotFoundError:
            current.mkdir()
            info = os.lstat(current)
        if stat.S_ISLNK(info.st_mode):
            raise UnsafeFileError(f"{_short(current)} is a symlink: deepstruct writes only into real directories "
                                  "of a run directory")
        if not stat.S_ISDIR(info.st_mode):
            raise UnsafeFileError(f"{_short(current)} is {kind_of(info.st_mode)}, not a directory")
    return current


def write_inside(root: str | os.PathLike[str], relative: str | os.PathLike[str], data: bytes, *,
                 durable: bool = False) -> Path:
    """Write ``data`` to ``root / relative`` without following any symlink below ``root``; return the path.

    The data goes to a new temporary file beside the target (created with ``O_EXCL | O_NOFOLLOW``), which then
    replaces the target's name: a symlink (or a hard link) at the target is replaced, its target untouched. A
    reader sees the old or the new file, never a torn one. ``durable`` fsyncs the file before the rename.
    """
    relative = Path(relative)
    folder = directory_inside(root, relative.parent)
    target = folder / relative.name
    tmp = folder / f".{relative.name}.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)  # a stale one (a killed writer of the same pid) or a planted symlink
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o644)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return target


def open_lock_file(path: str | os.PathLike[str]) -> int:
    """Open (create) a lock file for writing without following a symlink; return the descriptor.

    Raises :class:`UnsafeFileError` when ``path`` is a symlink or not a regular file.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | _NOFOLLOW | _NONBLOCK | _CLOEXEC, 0o644)
    except OSError as exc:
        if os.path.islink(path):
            raise UnsafeFileError(f"{_short(path)} is a symlink; a run directory's lock must be a file") from None
        raise exc
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise UnsafeFileError(f"{_short(path)} is {kind_of(info.st_mode)}, not a regular file")
    return fd
