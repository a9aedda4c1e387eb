"""The Reber grammar and the embedded Reber grammar (Reber 1967; Hochreiter & Schmidhuber 1997), generated
locally, and a balanced classification task: is a string grammatical?

The Reber automaton (states 0-5, ``B`` before state 0, ``E`` after state 5)::

    0 -T-> 1   0 -P-> 2   1 -S-> 1   1 -X-> 3   2 -T-> 2   2 -V-> 4
    3 -X-> 2   3 -S-> 5   4 -P-> 3   4 -V-> 5

An embedded Reber string is ``B c <Reber string> c E`` with ``c`` in ``{T, P}``: the second and the second-to-last
symbols must agree, a dependency over the whole inner string (the part recurrent networks find hard).
Ungrammatical examples come from grammatical ones by :func:`corrupt` (half of them break that long-range
agreement, half substitute one inner symbol), so both classes have the same length distribution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from deepstruct._validation import check_int, is_int

__all__ = ["SYMBOLS", "ReberData", "reber_string", "embedded_reber_string", "is_reber", "is_embedded_reber",
           "corrupt", "reber_dataset"]

SYMBOLS = "BTSXPVE"
_NEXT: dict[int, tuple[tuple[str, int], tuple[str, int]]] = {
    0: (("T", 1), ("P", 2)), 1: (("S", 1), ("X", 3)), 2: (("T", 2), ("V", 4)), 3: (("X", 2), ("S", 5)),
    4: (("P", 3), ("V", 5)),
}


def _rng(rng: np.random.Generator | int) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if is_int(rng) or isinstance(rng, np.integer):
        return np.random.default_rng(int(rng))
    raise ValueError(f"rng must be a numpy Generator or an integer seed, got {type(rng).__name__}")


def reber_string(rng: np.random.Generator | int) -> str:
    """A random Reber string (each transition taken with probability 1/2).

    Examples
    --------
    >>> s = reber_string(np.random.default_rng(0))
    >>> s[0], s[-1], is_reber(s)
    ('B', 'E', True)
    """
    rng = _rng(rng)
    out, state = ["B"], 0
    while state != 5:
        symbol, state = _NEXT[state][int(rng.integers(2))]
        out.append(symbol)
    return "".join(out) + "E"


def embedded_reber_string(rng: np.random.Generator | int) -> str:
    """``B c <Reber string> c E`` with ``c`` drawn from ``{T, P}``.

    Examples
    --------
    >>> s = embedded_reber_string(1)
    >>> is_embedded_reber(s), s[1] == s[-2]
    (True, True)
    """
    rng = _rng(rng)
    c = "TP"[int(rng.integers(2))]
    return "B" + c + reber_string(rng) + c + "E"


def is_reber(s: str) -> bool:
    """Whether ``s`` is a Reber string (the automaton is deterministic: each state's two symbols differ)."""
    if len(s) < 2 or s[0] != "B" or s[-1] != "E":
        return False
    state = 0
    for symbol in s[1:-1]:
        if state == 5:
            return False
        moves = dict(_NEXT[state])
        if symbol not in moves:
            return False
        state = moves[symbol]
    return state == 5


def is_embedded_reber(s: str) -> bool:
    """Whether ``s`` is an embedded Reber string."""
    return len(s) >= 4 and s[0] == "B" and s[-1] == "E" and s[1] in "TP" and s[-2] == s[1] and is_reber(s[2:-2])


def corrupt(s: str, rng: np.random.Generator | int, *, embedded: bool = True) -> str:
    """An ungrammatical string of the same length: with probability 1/2 (embedded strings only) the
    second-to-last symbol no longer matches the second; otherwise one inner symbol is replaced by another
    symbol of the alphabet until the result is ungrammatical."""
    rng = _rng(rng)
    valid = is_embedded_reber if embedded else is_reber
    if not valid(s):
        raise ValueError(f"{s!r} is not grammatical; corrupt() expects a grammatical string")
    if embedded and rng.random() < 0.5:
        return s[:-2] + ("P" if s[-2] == "T" else "T") + s[-1]
    letters = SYMBOLS[1:-1]
    while True:
        k = int(rng.integers(1, len(s) - 1))
        out = s[:k] + letters[int(rng.integers(len(letters)))] + s[k + 1:]
        if not valid(out):
            return out


@dataclass(frozen=True)
class ReberData:
    """``inputs`` ``(n, T, 7)`` one-hot over :data:`SYMBOLS`, left-padded with zero vectors to the longest
    string (the last step is every string's last symbol); ``labels`` ``(n,)``: 1 grammatical, 0 not."""

    inputs: torch.Tensor
    labels: torch.Tensor
    strings: list[str]


def encode(strings: list[str], length: int | None = None) -> torch.Tensor:
    """One-hot ``(n, T, 7)`` of ``strings``, left-padded with zero vectors to ``length`` (default: the longest)."""
    length = max(map(len, strings), default=0) if length is None else length
    out = torch.zeros(len(strings), length, len(SYMBOLS))
    for i, s in enumerate(strings):
        if len(s) > length:
            raise ValueError(f"string {i} has {len(s)} symbols, more than length={length}")
        for t, symbol in enumerate(s, start=length - len(s)):
            out[i, t, SYMBOLS.index(symbol)] = 1.0
    return out


def reber_dataset(n: int, rng: np.random.Generator | int, *, embedded: bool = True,
                  max_length: int | None = None) -> ReberData:
    """``n`` strings, half grammatical and half :func:`corrupt` ed copies of other grammatical strings,
    shuffled; grammatical strings longer than ``max_length`` are drawn again.

    Examples
    --------
    >>> data = reber_dataset(6, 0, max_length=20)
    >>> data.inputs.shape[0], data.labels.tolist().count(1), all(len(s) <= 20 for s in data.strings)
    (6, 3, True)
    """
    check_int("n", n, low=2)
    shortest = 9 if embedded else 5
    if max_length is not None and max_length < shortest:
        raise ValueError(f"max_length must be at least {shortest} (the shortest string), got {max_length!r}")
    rng = _rng(rng)
    draw = embedded_reber_string if embedded else reber_string

    def grammatical() -> str:
        while True:
            s = draw(rng)
            if max_length is None or len(s) <= max_length:
                return s

    good = [grammatical() for _ in range(n - n // 2)]
    bad = [corrupt(grammatical(), rng, embedded=embedded) for _ in range(n // 2)]
    order = rng.permutation(n)
    strings = [(good + bad)[k] for k in order]
    labels = torch.tensor([1 if k < len(good) else 0 for k in order])
    return ReberData(encode(strings), labels, strings)
