"""deepstruct: graphs and sparse neural networks, joined for pruning, architecture search and neuroevolution.

Sub-packages are imported on use (``import deepstruct.sparse``), so that the light ones (``graph``,
``genomes``, ``operators``, and the plain-data module ``batch_plan``) never pull in torch or ray.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = ("graph", "sparse", "pruning", "transform", "genomes", "operators", "evo", "cli", "batch_plan", "util",
               "recurrent", "scalable")


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"deepstruct.{name}")
    raise AttributeError(f"module 'deepstruct' has no attribute {name!r}")
