"""The genotype: DAG genomes with persistent vertex ids, their I/O, hashing, initialisers, decode and encode.

Importing this package does not import torch; :mod:`deepstruct.genomes.phenotype` (decode/encode) does.
"""

from deepstruct.genomes.genome import SCHEMA_VERSION, Genome, GenomeError, GenomeLimits

__all__ = ["Genome", "GenomeError", "GenomeLimits", "SCHEMA_VERSION"]
