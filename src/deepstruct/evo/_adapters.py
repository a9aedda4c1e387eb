"""How the run calls the library: decode, encode, prune and the fitness-cache key, with the run's settings.

One place for the choices the evolution makes (a ``MaskedDeepDAN`` phenotype, pruning only the connections a
genome can hold); not public API.
"""

from __future__ import annotations

from typing import Any

from deepstruct.genomes import Genome, canonical_hash

__all__ = ["decode", "encode", "genome_key", "prune"]


def genome_key(genome: Genome) -> str:
    """The fitness-cache key: the canonical hash (inherited weights included), equal for isomorphic genomes."""
    return str(canonical_hash(genome))


def decode(genome: Genome, *, generator: Any = None, load_weights: bool = True) -> Any:
    """Genome -> :class:`deepstruct.sparse.MaskedDeepDAN`."""
    from deepstruct.genomes.phenotype import decode as decode_genome

    return decode_genome(genome, kind="dan", generator=generator, load_weights=load_weights)


def encode(model: Any, genome: Genome, *, include_weights: bool) -> Genome:
    """Trained (pruned) model -> genome with the same vertex ids; vertices cut off by pruning are removed."""
    from deepstruct.genomes.phenotype import encode as encode_model

    return encode_model(model, num_inputs=genome.num_inputs, include_weights=include_weights, template=genome)


def prune(model: Any, amount: float) -> None:
    """Magnitude pruning of ``amount`` of the structure's connections, layer by layer.

    Only the hidden layers' masks (the genome's edges) are pruned: the input and output layers are dense in
    every genome, so pruning them would give a fitness (and a parameter count) that the re-encoded genome
    cannot reproduce.
    """
    from torch import nn

    from deepstruct.pruning import prune_by_magnitude

    hidden = list(model.layers[1:])
    if hidden:
        prune_by_magnitude(nn.ModuleList(hidden), amount, scope="layer")
