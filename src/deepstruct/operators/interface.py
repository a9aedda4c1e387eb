"""Mutations of a genome's interface: which inputs a vertex reads and which outputs it feeds (DEAP convention).

An input without any edge is a pruned input feature, so :func:`mut_remove_input_edge` is heritable input
pruning and :func:`mut_add_input_edge` revives or adds one. Every mutation keeps every hidden vertex on an
input-to-output path (an edge that is a vertex's last way in or out is never removed) and the genome within
``max_edges`` (which counts interface edges); when it cannot apply, the genome is returned unchanged.

Examples
--------
>>> import numpy as np
>>> from deepstruct.genomes import Genome
>>> g = Genome(4, 2, edges=[(0, 1)], input_edges=[(0, 0)], output_edges=[(1, 0)])
>>> (g,) = mut_add_input_edge(g, rng=np.random.default_rng(0))
>>> g.num_interface_edges
3
"""

from __future__ import annotations

import math

import numpy as np

from deepstruct.genomes import Genome
from deepstruct.operators._sampling import check_rng, edges_fit, randbelow, random_pair

__all__ = ["mut_add_input_edge", "mut_remove_input_edge", "mut_add_output_edge", "mut_remove_output_edge"]


def _check_weight(weight: float | None) -> None:
    if weight is not None and not (isinstance(weight, (int, float)) and math.isfinite(weight)):
        raise ValueError(f"weight must be a finite number, got {weight!r}")


def _add(genome: Genome, rng: np.random.Generator, max_tries: int, weight: float | None, outputs: bool) -> None:
    _check_weight(weight)
    if not edges_fit(genome, 1):
        return
    nodes = list(genome.graph)
    table = genome.output_edges if outputs else genome.input_edges
    size = genome.num_outputs if outputs else genome.num_inputs
    for _ in range(max_tries):
        v, k = nodes[randbelow(rng, len(nodes))], randbelow(rng, size)
        if k in table.get(v, {}):
            continue
        data = {} if weight is None else {"weight": float(weight)}
        if outputs:
            genome.add_output_edge(v, k, **data)
        else:
            genome.add_input_edge(k, v, **data)
        return


def _remove(genome: Genome, rng: np.random.Generator, max_tries: int, outputs: bool) -> None:
    table = genome.output_edges if outputs else genome.input_edges
    neighbours = genome.graph.succ if outputs else genome.graph.pred
    for _ in range(max_tries):
        pair = random_pair(table, rng)
        if pair is None:
            return
        v, k = pair
        if len(table[v]) == 1 and not neighbours[v]:
            continue  # v's last way out (in): removing it would leave v on no input-to-output path
        if outputs:
            genome.remove_output_edge(v, k)
        else:
            genome.remove_input_edge(k, v)
        return


def mut_add_input_edge(genome: Genome, *, rng: np.random.Generator, max_tries: int = 16,
                       weight: float | None = None) -> tuple[Genome]:
    """Let a random vertex read a random input it does not read yet (any vertex, in any layer).

    Parameters
    ----------
    genome : Genome
        Mutated in place.
    rng : numpy.random.Generator
        All randomness.
    max_tries : int
        Random (vertex, input) pairs tried before giving up (a pair already joined is skipped).
    weight : float, optional
        The new edge's inherited weight (none by default: the phenotype initialises it).

    Returns
    -------
    tuple of Genome
        ``(genome,)``, DEAP's convention.

    Examples
    --------
    >>> g = Genome(3, 1, vertices=[0], input_edges=[(0, 0)])
    >>> (g,) = mut_add_input_edge(g, rng=np.random.default_rng(1), max_tries=100)
    >>> len(g.input_edges[0])
    2
    """
    check_rng(rng)
    _add(genome, rng, max_tries, weight, outputs=False)
    return (genome,)


def mut_remove_input_edge(genome: Genome, *, rng: np.random.Generator, max_tries: int = 16) -> tuple[Genome]:
    """Remove a uniformly random input edge that is not its vertex's last way in (heritable input pruning).

    Parameters
    ----------
    genome : Genome
        Mutated in place.
    rng : numpy.random.Generator
        All randomness.
    max_tries : int
        Random input edges tried before giving up (a vertex's last way in is skipped).

    Returns
    -------
    tuple of Genome
        ``(genome,)``, DEAP's convention.

    Examples
    --------
    >>> g = Genome(3, 1, vertices=[0])  # the dense interface: vertex 0 reads inputs 0, 1 and 2
    >>> (g,) = mut_remove_input_edge(g, rng=np.random.default_rng(0))
    >>> len(g.input_edges[0])
    2
    """
    check_rng(rng)
    _remove(genome, rng, max_tries, outputs=False)
    return (genome,)


def mut_add_output_edge(genome: Genome, *, rng: np.random.Generator, max_tries: int = 16,
                        weight: float | None = None) -> tuple[Genome]:
    """Let a random vertex feed a random output it does not feed yet (any vertex, not only sinks).

    Parameters
    ----------
    genome : Genome
        Mutated in place.
    rng : numpy.random.Generator
        All randomness.
    max_tries : int
        Random (vertex, output) pairs tried before giving up.
    weight : float, optional
        The new edge's inherited weight (none by default).

    Returns
    -------
    tuple of Genome
        ``(genome,)``, DEAP's convention.

    Examples
    --------
    >>> g = Genome(2, 1, edges=[(0, 1)])
    >>> (g,) = mut_add_output_edge(g, rng=np.random.default_rng(0), max_tries=100)
    >>> sorted(g.output_edges)
    [0, 1]
    """
    check_rng(rng)
    _add(genome, rng, max_tries, weight, outputs=True)
    return (genome,)


def mut_remove_output_edge(genome: Genome, *, rng: np.random.Generator, max_tries: int = 16) -> tuple[Genome]:
    """Remove a uniformly random output edge that is not its vertex's last way out.

    Parameters
    ----------
    genome : Genome
        Mutated in place.
    rng : numpy.random.Generator
        All randomness.
    max_tries : int
        Random output edges tried before giving up.

    Returns
    -------
    tuple of Genome
        ``(genome,)``, DEAP's convention.

    Examples
    --------
    >>> g = Genome(2, 3, vertices=[0])  # vertex 0 feeds outputs 0, 1 and 2
    >>> (g,) = mut_remove_output_edge(g, rng=np.random.default_rng(0))
    >>> len(g.output_edges[0])
    2
    """
    check_rng(rng)
    _remove(genome, rng, max_tries, outputs=True)
    return (genome,)
