"""Validation of model sizes shared by the sparse models."""

from __future__ import annotations

import math
from collections.abc import Sequence

from deepstruct._validation import check_magnitude, is_int


def input_features(size_input: int | Sequence[int]) -> int:
    """Number of input features: ``size_input`` itself, or the product of a shape such as ``(1, 28, 28)``."""
    if is_int(size_input):
        dims = [size_input]
    else:
        try:
            dims = [int(d) for d in size_input]
        except TypeError:
            raise ValueError(f"size_input must be a positive int or a shape, got {size_input!r}") from None
    if not dims or any(d <= 0 for d in dims):
        raise ValueError(f"size_input must be positive (every dimension), got {size_input!r}")
    return math.prod(dims)


def magnitude_threshold(name: str, value: float) -> float:
    """A weight-magnitude threshold: a real number >= 0 (not a bool, not NaN)."""
    return check_magnitude(name, value)
