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

from deepstruct._validation import check_int, is_number
from deepstruct.genomes import Genome
from deepstruct.genomes.genome import ACTIVATION_NAMES, OPERATION_NAMES
from deepstruct.operators._sampling import check_rng, randbelow, random_vertex
from deepstruct.operators.repair import remove_dangling, remove_edge_of_kind

__all__ = ["mut_change_attribute", "mut_prune_weights", "mut_prune_fraction"]


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
    _prune_smallest(genome, _weighted_edges(genome), k, rng)
    return (genome,)


def mut_prune_fraction(genome: Genome, *, rng: np.random.Generator, low: float = 0.1,
                       high: float = 0.5) -> tuple[Genome]:
    """Magnitude pruning as a mutation: remove a share, drawn uniformly from ``[low, high]``, of the weighted
    edges, those of smallest inherited magnitude (as :func:`mut_prune_weights`, at least one edge).

    Where single-edge removals hardly move a network of thousands of connections, this shrinks a trained
    network by a large step that its short Lamarckian fine-tuning can recover from, the step of iterative
    magnitude pruning: it lets a search with a size objective (NSGA-II on accuracy and parameters) spread
    along the size axis. A genome without inherited weights (a fresh sample) is left unchanged.

    Parameters
    ----------
    genome : Genome
        Mutated in place.
    rng : numpy.random.Generator
        All randomness.
    low, high : float
        The range of the pruned share, ``0 < low <= high < 1``.

    Returns
    -------
    tuple of Genome
        ``(genome,)``, DEAP's convention.

    Examples
    --------
    >>> import numpy as np
    >>> from deepstruct.genomes import Genome
    >>> g = Genome(2, 1, vertices=[0, 1], edges=[(0, 1, {"weight": 0.5})],
    ...            input_edges=[(0, 0, {"weight": 0.1}), (1, 0, {"weight": 0.2})],
    ...            output_edges=[(1, 0, {"weight": 1.0})])
    >>> (g,) = mut_prune_fraction(g, rng=np.random.default_rng(0), low=0.25, high=0.25)
    >>> sorted(g.input_edges[0])  # one of the four weighted edges, the smallest: input 0 -> vertex 0
    [1]
    """
    check_rng(rng)
    if not (is_number(low) and is_number(high) and 0 < low <= high < 1):
        raise ValueError(f"mut_prune_fraction needs 0 < low <= high < 1, got low={low!r}, high={high!r}")
    weighted = _weighted_edges(genome)
    share = float(rng.uniform(low, high))
    _prune_smallest(genome, weighted, max(1, round(share * len(weighted))), rng)
    return (genome,)


def _weighted_edges(genome: Genome) -> list[tuple[float, str, int, int]]:
    """(|weight|, kind, source, target) of every edge with an inherited weight."""
    weighted = [(abs(float(d["weight"])), "h", u, v) for u, v, d in genome.graph.edges(data=True) if "weight" in d]
    for kind, table in (("i", genome.input_edges), ("o", genome.output_edges), ("d", genome.direct_edges)):
        weighted.extend((abs(float(d["weight"])), kind, *((b, a) if kind == "i" else (a, b)))  # (source, target)
                        for a, inner in table.items() for b, d in inner.items() if "weight" in d)
    return weighted


def _prune_smallest(genome: Genome, weighted: list[tuple[float, str, int, int]], k: int,
                    rng: np.random.Generator) -> None:
    """Remove the ``k`` smallest of ``weighted`` (ties at random) and what dangles, unless no vertex would be left."""
    if not weighted or k == 0:
        return
    ties = rng.random(len(weighted))
    smallest = heapq.nsmallest(k, range(len(weighted)), key=lambda i: (weighted[i][0], ties[i]))
    trial = genome.copy()
    for index in smallest:
        _, kind, source, target = weighted[index]
        remove_edge_of_kind(trial, kind, source, target)
    remove_dangling(trial)
    if len(trial.graph):
        genome.adopt(trial)
