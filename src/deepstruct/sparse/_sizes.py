"""Validation of model sizes shared by the sparse models."""

from __future__ import annotations

import math
from collections.abc import Sequence


def input_features(size_input: int | Sequence[int]) -> int:
    """Number of input features: ``size_input`` itself, or the product of a shape such as ``(1, 28, 28)``."""
    if isinstance(size_input, bool):
        raise ValueError(f"size_input must be a positive int or a shape, got {size_input!r}")
    if isinstance(size_input, int):
        dims = [size_input]
    else:
        try:
            dims = [int(d) for d in size_input]
        except TypeError:
            raise ValueError(f"size_input must be a positive int or a shape, got {size_input!r}") from None
    if not dims or any(d <= 0 for d in dims):
        raise ValueError(f"size_input must be positive (every dimension), got {size_input!r}")
    return math.prod(dims)


def positive(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def magnitude_threshold(name: str, value: float) -> float:
    """A weight-magnitude threshold: a real number >= 0 (not a bool, not NaN)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or value < 0:
        raise ValueError(f"{name} must be a non-negative magnitude, got {value!r}")
    return float(value)
