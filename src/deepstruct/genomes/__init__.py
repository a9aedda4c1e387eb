"""The genotype: genomes holding the whole network (a DAG with persistent vertex ids and an explicit interface),
their I/O (schema version 2; version 1 files are migrated), hashing, initialisers, the innovation registry,
the phenotype's shape (:func:`member_shape`), decode and encode.

Importing this package does not import torch; :mod:`deepstruct.genomes.phenotype` (decode/encode) does, and
``deepstruct.genomes.decode`` / ``deepstruct.genomes.encode`` import it on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from deepstruct.genomes.genome import SCHEMA_VERSION, Genome, GenomeError, GenomeLimits
from deepstruct.genomes.hashing import canonical_hash
from deepstruct.genomes.initialisers import (
    INITIALISERS,
    init_barabasi_albert,
    init_erdos_renyi,
    init_local,
    init_newman_watts_strogatz,
    init_random_layered,
    init_watts_strogatz,
    initialise,
)
from deepstruct.genomes.innovation import InnovationRegistry
from deepstruct.genomes.io import from_json, load_graphml, load_json, save_graphml, save_json, to_graphml, to_json
from deepstruct.genomes.shape import member_shape

__all__ = [
    "Genome", "GenomeError", "GenomeLimits", "SCHEMA_VERSION", "canonical_hash",
    "to_json", "from_json", "save_json", "load_json", "save_graphml", "load_graphml", "to_graphml",
    "INITIALISERS", "initialise", "init_watts_strogatz", "init_newman_watts_strogatz", "init_erdos_renyi",
    "init_barabasi_albert", "init_random_layered", "init_local", "InnovationRegistry", "member_shape",
]


def __getattr__(name: str) -> Any:
    if name in ("decode", "encode"):
        return getattr(importlib.import_module("deepstruct.genomes.phenotype"), name)
    raise AttributeError(f"module 'deepstruct.genomes' has no attribute {name!r}")
