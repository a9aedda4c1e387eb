"""The names a genome and its phenotype decoder share, and the check of a genome's attributes.

This module owns the registries of the genotype; everything else derives its lists from them:

- :data:`TORCH_ACTIVATIONS` (name -> ``torch.nn`` class name) owns the activation names:
  :data:`ACTIVATION_NAMES` is its keys and :data:`deepstruct.genomes.phenotype.ACTIVATIONS` builds the torch
  modules from it;
- :data:`OPERATION_NAMES`: the ``op`` values of cell phenotypes (the keys of
  :data:`deepstruct.genomes.phenotype.OPERATIONS`);
- :data:`PHENOTYPE_KINDS`: the ``kind`` values of :func:`deepstruct.genomes.decode` (the run configuration's
  ``training.phenotype`` derives its choices from it).

It imports neither torch nor networkx.
"""

from __future__ import annotations

import math
import sys
from typing import Any

from deepstruct._validation import is_number

__all__ = ["VERTEX_ATTRIBUTES", "EDGE_ATTRIBUTES", "TORCH_ACTIVATIONS", "ACTIVATION_NAMES", "OPERATION_NAMES",
           "PHENOTYPE_KINDS", "attribute_problem"]

VERTEX_ATTRIBUTES = ("activation", "op", "bias")
EDGE_ATTRIBUTES = ("weight",)
TORCH_ACTIVATIONS: dict[str, str] = {
    "relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid", "elu": "ELU", "gelu": "GELU", "selu": "SELU",
    "silu": "SiLU", "leaky_relu": "LeakyReLU", "identity": "Identity",
}
"""The values of the ``activation`` vertex attribute, each with the ``torch.nn`` module that computes it."""
ACTIVATION_NAMES = tuple(TORCH_ACTIVATIONS)
"""Values of the ``activation`` vertex attribute that the phenotype decoder knows."""
OPERATION_NAMES = ("conv3x3", "conv5x5", "conv1x1", "reduce")
"""Values of the ``op`` vertex attribute that the phenotype decoder knows (cell phenotypes)."""
PHENOTYPE_KINDS = ("dan", "ffn", "cell", "auto")
"""The phenotype families :func:`deepstruct.genomes.decode` builds (``"auto"`` picks one of the others)."""
_FLOAT_MAX = int(sys.float_info.max)


def attribute_problem(kind: str, key: str, value: Any) -> str | None:
    """Why ``key=value`` is not a valid ``kind`` (``"vertex"`` or ``"edge"``) attribute, or None when it is.

    Examples
    --------
    >>> attribute_problem("edge", "weight", 0.5) is None
    True
    >>> attribute_problem("vertex", "bias", True)
    'a non-numeric bias True'
    """
    allowed = VERTEX_ATTRIBUTES if kind == "vertex" else EDGE_ATTRIBUTES
    if key not in allowed:
        return f"an unknown attribute {key!r} (allowed: {', '.join(allowed)})"
    if key in ("bias", "weight"):
        if not is_number(value):
            return f"a non-numeric {key} {value!r}"
        if isinstance(value, int) and not -_FLOAT_MAX <= value <= _FLOAT_MAX:
            return f"a {key} too large for a float (an int of {value.bit_length()} bits)"
        if not math.isfinite(value):
            return f"a non-finite {key} {value!r}"
    elif not isinstance(value, str) or len(value) > 64:
        return f"a malformed {key} {value!r} (a string of at most 64 chars)"
    return None
