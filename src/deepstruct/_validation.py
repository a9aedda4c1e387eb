"""The value checks that every package shares (config, genomes, sparse, pruning, the run store, ...).

One rule runs through them: a ``bool`` is never an int or a number here (``True`` is an ``int`` to Python, but a
size, a count, an index or a weight of ``True`` is a mistake in a file or a call). The predicates answer a
question; the ``check_*`` functions raise ``error`` (``ValueError`` unless the caller names its own subclass, such
as ``GenomeError``) with a message that names the value and shows it.

This module imports nothing of deepstruct, torch or numpy, so every package may import it.

Examples
--------
>>> is_int(3), is_int(True), is_int(3.0)
(True, False, False)
>>> is_number(2.5), is_number(False)
(True, False)
>>> is_index(2, 3), is_index(3, 3), is_index(True, 3)
(True, False, False)
>>> check_int("rounds", 0, low=0)
0
>>> check_int("size_output", True)
Traceback (most recent call last):
...
ValueError: size_output must be a positive int, got True
"""

from __future__ import annotations

import math
from typing import Any, TypeGuard

__all__ = ["is_int", "is_number", "is_index", "check_int", "check_fraction", "check_magnitude"]


def is_int(value: Any) -> TypeGuard[int]:
    """Whether ``value`` is an ``int`` and not a ``bool``."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> TypeGuard[int | float]:
    """Whether ``value`` is an ``int`` or a ``float`` and not a ``bool`` (NaN and infinities included)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_index(value: Any, size: int) -> TypeGuard[int]:
    """Whether ``value`` is an int (not a bool) in ``[0, size)``."""
    return is_int(value) and 0 <= value < size


def _at_least(low: int) -> str:
    return {0: "a non-negative int", 1: "a positive int"}.get(low, f"an int >= {low}")


def check_int(what: str, value: Any, *, low: int = 1, error: type[Exception] = ValueError) -> int:
    """``value`` if it is an int (not a bool) of at least ``low``; ``error`` naming ``what`` otherwise.

    The message says ``"<what> must be a positive int, got <value!r>"`` (``low=1``), ``"a non-negative int"``
    (``low=0``) or ``"an int >= <low>"``.
    """
    if not is_int(value) or value < low:
        raise error(f"{what} must be {_at_least(low)}, got {value!r}")
    return value


def check_fraction(what: str, value: Any, *, error: type[Exception] = ValueError) -> float:
    """``float(value)`` if it is a number (not a bool, not NaN) in ``[0, 1]``; ``error`` naming ``what`` otherwise."""
    if not is_number(value) or math.isnan(value) or not 0 <= value <= 1:
        raise error(f"{what} must be a fraction in [0, 1], got {value!r}")
    return float(value)


def check_magnitude(what: str, value: Any, *, error: type[Exception] = ValueError) -> float:
    """``float(value)`` if it is a number (not a bool, not NaN) >= 0; ``error`` naming ``what`` otherwise."""
    if not is_number(value) or math.isnan(value) or value < 0:
        raise error(f"{what} must be a non-negative magnitude, got {value!r}")
    return float(value)
