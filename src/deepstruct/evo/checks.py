"""Checks of configuration values: each raises :class:`ConfigError` with a message that names the field and shows
the value (shortened: a value read from a file may be a megabyte long, and the message must stay one line)."""

from __future__ import annotations

import math
import reprlib
from typing import Any

from deepstruct._validation import is_int, is_number

__all__ = ["ConfigError", "MAX_INT", "MAX_DEPTH", "MAX_CONFIG_BYTES", "short_repr", "check_int", "check_float",
           "check_choice", "check_plain", "check_name", "check_key_depth"]

#: The largest integer a field may hold (int64: every count and seed reaches numpy or torch).
MAX_INT = 2**63 - 1
#: How deep the free-form tables (``task.params``, ``genome.params``) may nest.
MAX_DEPTH = 32
#: The largest config file read (a run configuration is a few kB).
MAX_CONFIG_BYTES = 1 << 20

_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 80
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = 8


def short_repr(value: Any) -> str:
    """``repr(value)``, shortened (a value read from a file may be a megabyte long); one line."""
    return _REPR.repr(value)


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the field."""


def check_int(where: str, value: Any, low: int = 1, high: int = MAX_INT) -> None:
    """An int (not a bool) in ``[low, high]``."""
    if not is_int(value) or not low <= value <= high:
        top = "2**63 - 1" if high == MAX_INT else f"{high:_}"
        raise ConfigError(f"{where} must be an int in [{low}, {top}], got {short_repr(value)}")


def check_plain(where: str, value: Any, depth: int = 0) -> None:
    """Refuse anything in a free-form table that a JSON run directory cannot hold: dates, non-finite numbers,
    integers beyond int64, nesting deeper than :data:`MAX_DEPTH`."""
    if depth > MAX_DEPTH:
        raise ConfigError(f"{where} nests deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ConfigError(f"{where} has a key that is not a string: {short_repr(key)}")
            check_plain(f"{where}.{key}" if key.isidentifier() else f"{where}.{short_repr(key)}", item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_plain(f"{where}[]", item, depth + 1)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"{where} must be a finite number, got {short_repr(value)}")
    elif is_int(value):
        if not -MAX_INT - 1 <= value <= MAX_INT:
            raise ConfigError(f"{where} must be an int64, got {short_repr(value)}")
    elif not isinstance(value, (str, bool)):
        raise ConfigError(f"{where} must be a string, number, boolean, list or table, got {type(value).__name__}")


def check_name(where: str, value: Any, prefix: str = "") -> None:
    """An operator or initialiser name: a Python identifier (ASCII) starting with ``prefix``."""
    if not isinstance(value, str) or not value.isascii() or not value.isidentifier() or not value.startswith(prefix):
        kind = f"a name {prefix}..." if prefix else "a name"
        raise ConfigError(f"{where} must be {kind} (letters, digits, _), got {short_repr(value)}")


def check_float(where: str, value: Any, low: float, high: float = math.inf, *, open_low: bool = False) -> None:
    """A finite number (not a bool) in ``[low, high]`` (``(low, high]`` with ``open_low``)."""
    if not is_number(value) or not math.isfinite(value):
        raise ConfigError(f"{where} must be a finite number, got {short_repr(value)}")
    if value < low or value > high or (open_low and value == low):
        bound = f"({low}, {high}]" if open_low else f"[{low}, {high}]"
        raise ConfigError(f"{where} must lie in {bound}, got {short_repr(value)}")


def check_choice(where: str, value: Any, allowed: tuple[str, ...]) -> None:
    """One of ``allowed``."""
    if value not in allowed:
        raise ConfigError(f"{where} must be one of {', '.join(allowed)}; got {short_repr(value)}")


def check_key_depth(text: str, where: str) -> None:
    """Refuse a key of more dotted parts than any table may nest before parsing it: the parser takes time
    quadratic in the parts of a key (20,000 take 14 s)."""
    limit = 4 * MAX_DEPTH
    for number, line in enumerate(text.splitlines(), start=1):
        head = line.lstrip()
        if not head.startswith("["):
            head = head.split("=", 1)[0] if "=" in head else ""
        if head.split("#", 1)[0].count(".") > limit:
            raise ConfigError(f"{where}, line {number}: a key of more than {limit} dotted parts (tables nest at "
                              f"most {MAX_DEPTH} deep)")
