"""Byte-level mutations of any file: bit flips, truncation, spliced spans, broken encodings."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["BYTE_MUTATIONS", "mutate_bytes", "Rng"]

Rng = np.random.Generator


def _flip(data: bytes, rng: Rng) -> bytes:
    buf = bytearray(data)
    for _ in range(int(rng.integers(1, 9))):
        if buf:
            buf[int(rng.integers(len(buf)))] ^= 1 << int(rng.integers(8))
    return bytes(buf)


def _truncate(data: bytes, rng: Rng) -> bytes:
    return data[: int(rng.integers(0, max(1, len(data))))]


def _splice(data: bytes, rng: Rng) -> bytes:
    """Copy, delete or insert a random span (random bytes or a copy of another part of the file)."""
    if not data:
        return bytes(rng.integers(0, 256, size=8, dtype=np.uint8))
    a = int(rng.integers(len(data)))
    b = min(len(data), a + int(rng.integers(1, 64)))
    choice = int(rng.integers(3))
    if choice == 0:
        return data[:a] + data[b:]
    if choice == 1:
        c = int(rng.integers(len(data)))
        return data[:c] + data[a:b] * int(rng.integers(1, 4)) + data[c:]
    return data[:a] + bytes(rng.integers(0, 256, size=int(rng.integers(1, 16)), dtype=np.uint8)) + data[a:]


def _encoding_bytes(data: bytes, rng: Rng) -> bytes:
    """A BOM, invalid UTF-8, overlong sequences or a UTF-16 re-encoding."""
    choice = int(rng.integers(4))
    if choice == 0:
        return b"\xef\xbb\xbf" + data
    if choice == 1:
        a = int(rng.integers(len(data) + 1))
        return data[:a] + [b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\x00"][int(rng.integers(4))] + data[a:]
    if choice == 2:
        return data.decode("utf-8", "replace").encode("utf-16")
    return data.replace(b" ", b"\xc2\xa0", int(rng.integers(1, 8)))


BYTE_MUTATIONS: dict[str, Callable[[bytes, Rng], bytes]] = {
    "byte_flip": _flip, "truncate": _truncate, "splice": _splice, "encoding_bytes": _encoding_bytes}


def mutate_bytes(data: bytes, rng: Rng) -> tuple[str, bytes]:
    """Apply one random byte-level mutation; return its name and the result."""
    name = list(BYTE_MUTATIONS)[int(rng.integers(len(BYTE_MUTATIONS)))]
    return name, BYTE_MUTATIONS[name](data, rng)
