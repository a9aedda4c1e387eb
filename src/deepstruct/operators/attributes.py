"""Mutations of what a genome's vertices and edges carry: attributes (activation, operation, bias) and inherited
weights, in DEAP's convention: ``mut_x(genome, *, rng, ...) -> (genome,)``, in place.

Examples
--------
>>> import numpy as np
>>> from deepstruct.genomes import Genome
>>> g = Genome(4, 2, edges=[(0, 1)])
>>> (g,) = mut_change_attribute(g, rng=np.random.default_rng(0), attribute="activation", choices=["tanh"])
>>> sorted({d["activation"] for _, d in g.graph.nodes(data=True) if "activation" in d})
['tanh']
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence

import numpy as np

from deepstruct._validation import check_int
from deepstruct.genomes import Genome
from deepstruct.genomes.genome import ACTIVATION_NAMES, OPERATION_NAMES
from deepstruct.operators._sampling import check_rng, randbelow, random_vertex
from deepstruct.operators.repair import remove_dangling, remove_edge_of_kind

__all__ = ["mut_change_attribute", "mut_prune_weights"]


def mut_change_attribute(genome: Genome, *, rng: np.random.Generator, attribute: str = "activation",
                         choices: Sequence[str] | None = None, sigma: float = 0.1) -> tuple[Genome]:
    """Change one attribute of a random vertex.

    ``activation`` and ``op`` take a new value from ``choices`` (default: every name the decoder knows),
    different from the current one; ``bias`` (an inherited weight) gets Gaussian noise of scale ``sigma``.

    Parameters
    ----------
    genome : Genome
        Mutated in place.
    rng : numpy.random.Generator
        All randomness.
    attribute : {"activation", "op", "bias"}
        Which vertex attribute to change.
    choices : sequence of str, optional
        The values ``activation`` or ``op`` may take.
    sigma : float
        Noise scale for ``bias``.

    Returns
    -------
    tuple of Genome
        ``(genome,)``, DEAP's convention.
    """
    check_rng(rng)
    if attribute == "bias" and not (math.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"sigma must be a finite, non-negative noise scale, got {sigma!r}")
    v = random_vertex(genome, rng)
    if v is None:
        return (genome,)
    data = genome.graph.nodes[v]  # the vertex's own attribute dict: changed in place below
    if attribute == "bias":
        data["bias"] = float(data.get("bias", 0.0)) + float(rng.normal(0.0, sigma))
        return (genome,)
    if attribute not in ("activation", "op"):
        raise ValueError(f"mut_change_attribute cannot change {attribute!r}: use 'activation', 'op' or 'bias'")
    options = list(choices) if choices is not None else list(
        ACTIVATION_NAMES if attribute == "activation" else OPERATION_NAMES)
    if not options:
        raise ValueError("mut_change_attribute needs at least one choice")
    current = data.get(attribute)
    options = [o for o in options if o != current] or options
    data[attribute] = options[randbelow(rng, len(options))]
    return (genome,)


def mut_prune_weights(genome: Genome, *, rng: np.random.Generator, k: int = 1) -> tuple[Genome]:
    """Remove the ``k`` edges (hidden, input, output or input-to-output) with the smallest inherited weight
    magnitude (ties broken at random), then the vertices left on no input-to-output path, as encoding a
    pruned phenotype does.

    Edges without an inherited ``weight`` are never pruned; a genome without weights is left unchanged, and so
    is one that the pruning would leave without a vertex.

    Parameters
    ----------
    genome : Genome
        Mutated in place.
    rng : numpy.random.Generator
        All randomness.
    k : int
        How many edges to remove.

    Returns
    -------
    tuple of Genome
        ``(genome,)``, DEAP's convention.
    """
    check_rng(rng)
    check_int("k", k, low=0)
    weighted = [(abs(float(d["weight"])), "h", u, v) for u, v, d in genome.graph.edges(data=True) if "weight" in d]
    for kind, table in (("i", genome.input_edges), ("o", genome.output_edges), ("d", genome.direct_edges)):
        weighted.extend((abs(float(d["weight"])), kind, *((b, a) if kind == "i" else (a, b)))  # (source, target)
                        for a, inner in table.items() for b, d in inner.items() if "weight" in d)
    if not weighted or k == 0:
        return (genome,)
    ties = rng.random(len(weighted))
    smallest = heapq.nsmallest(k, range(len(weighted)), key=lambda i: (weighted[i][0], ties[i]))
    trial = genome.copy()
    for index in smallest:
        _, kind, source, target = weighted[index]
        remove_edge_of_kind(trial, kind, source, target)
    remove_dangling(trial)
    if len(trial.graph):
        genome.adopt(trial)
    return (genome,)
