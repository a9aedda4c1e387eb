"""What a genome may be: its size limits (:class:`GenomeLimits`) and the error every genome check raises
(:class:`GenomeError`). Both are re-exported by :mod:`deepstruct.genomes` and :mod:`deepstruct.genomes.genome`."""

from __future__ import annotations

from dataclasses import dataclass

from deepstruct._validation import check_int

__all__ = ["GenomeError", "GenomeLimits"]


class GenomeError(ValueError):
    """A genome (or a genome file) is invalid; the message says what is wrong."""


@dataclass(frozen=True)
class GenomeLimits:
    """Size limits that every operator and loader respects (``max_weights``: decoding, see
    :func:`deepstruct.genomes.phenotype.phenotype_weights`).

    ``max_depth`` bounds the vertices on the longest path, that is the hidden layers of the phenotype, which
    run one after another in a forward pass (a 10,000-vertex chain within every other limit took seconds to
    decode and run once). A run's limits keep this default 256 whatever its ``genome.max_vertices`` (operators
    keep every genome within it); decode plus one forward pass of a 256-deep chain takes about 0.1 s.

    Examples
    --------
    >>> GenomeLimits(max_depth=0)
    Traceback (most recent call last):
    ...
    deepstruct.genomes.limits.GenomeError: GenomeLimits.max_depth must be a positive int, got 0
    """

    max_vertices: int = 10_000
    max_edges: int = 200_000  # hidden, input, output and input-to-output edges together
    max_interface: int = 1_000_000  # inputs or outputs of the phenotype
    max_weights: int = 50_000_000  # entries of the phenotype's masked matrices
    max_depth: int = 256  # vertices on the longest path: hidden layers of the phenotype

    def __post_init__(self) -> None:
        for name in ("max_vertices", "max_edges", "max_interface", "max_weights", "max_depth"):
            check_int(f"GenomeLimits.{name}", getattr(self, name), error=GenomeError)
