"""Local input connectivity: which contiguous window of inputs a vertex reads (DEAP convention, in place).

Inputs of many tasks are ordered (a 1-D signal, the pixels of an image row after row), and a unit that reads a
window of adjacent inputs is what a convolution's filter is without the weight sharing. The mutations here keep
an input-reading vertex's input edges a window: :func:`mut_input_window` moves, widens or narrows the window of
one vertex, and :func:`mut_add_local_unit` adds a vertex beside an input-reading one that reads a shifted
window. Both keep the genome valid and within its limits; with inherited weights, the edges a window keeps keep
their weights and a new vertex starts with zero outgoing weights (the network computes its parent's function).

Examples
--------
>>> import numpy as np
>>> from deepstruct.genomes import Genome
>>> g = Genome(10, 2, vertices=[0], input_edges=[(i, 0) for i in range(3, 6)])
>>> window(g, 0)
(3, 6)
>>> (g,) = mut_add_local_unit(g, rng=np.random.default_rng(0))
>>> g.num_vertices, window(g, 0)
(2, (3, 6))
"""

from __future__ import annotations

import numpy as np

from deepstruct.genomes import Genome, InnovationRegistry
from deepstruct.operators._sampling import check_rng, edges_fit

__all__ = ["mut_input_window", "mut_add_local_unit", "window", "set_window"]


def window(genome: Genome, v: int) -> tuple[int, int] | None:
    """The half-open span ``(first, last + 1)`` of the inputs vertex ``v`` reads, or ``None`` if it reads none."""
    inputs = genome.input_edges.get(v)
    if not inputs:
        return None
    return min(inputs), max(inputs) + 1


def set_window(genome: Genome, v: int, start: int, stop: int) -> None:
    """Let ``v`` read exactly inputs ``start .. stop - 1``; edges it keeps keep their attributes (weights).

    A new edge into a vertex that carries inherited weights gets weight 0, so that the change adds nothing to
    the function until training moves it.
    """
    old = genome.input_edges.get(v, {})
    weighted = any("weight" in data for data in old.values())
    for i in [i for i in old if not start <= i < stop]:
        genome.remove_input_edge(i, v)
    for i in range(start, stop):
        if i not in old:
            genome.add_input_edge(i, v, **({"weight": 0.0} if weighted else {}))


def _readers(genome: Genome) -> list[int]:
    return sorted(v for v, inputs in genome.input_edges.items() if inputs)


def _clip(start: int, width: int, size: int) -> tuple[int, int]:
    width = max(1, min(width, size))
    start = max(0, min(start, size - width))
    return start, start + width


def mut_input_window(genome: Genome, *, rng: np.random.Generator, max_shift: int = 2,
                     max_width: int | None = None) -> tuple[Genome]:
    """Move, widen or narrow the input window of a random input-reading vertex by one step.

    The vertex's inputs become a contiguous window first (its current span); then one of: shift by
    ``1..max_shift`` positions left or right, widen by one input, narrow by one input (never below one).

    Parameters
    ----------
    genome : Genome
        Mutated in place.
    rng : numpy.random.Generator
        All randomness.
    max_shift : int
        The largest shift.
    max_width : int, optional
        The widest window (default: every input).

    Returns
    -------
    tuple of Genome
        ``(genome,)``; unchanged when no vertex reads an input or a limit would be passed.

    Examples
    --------
    >>> g = Genome(10, 2, vertices=[0], input_edges=[(i, 0) for i in range(3, 6)])
    >>> (g,) = mut_input_window(g, rng=np.random.default_rng(3))
    >>> window(g, 0) != (3, 6)
    True
    """
    check_rng(rng)
    readers = _readers(genome)
    if not readers:
        return (genome,)
    v = readers[int(rng.integers(len(readers)))]
    first, stop = window(genome, v)  # type: ignore[misc]
    width, size = stop - first, genome.num_inputs
    limit = min(max_width or size, size)
    move = int(rng.integers(3))
    if move == 0:
        shift = int(rng.integers(1, max_shift + 1)) * (1 if rng.random() < 0.5 else -1)
        start, stop = _clip(first + shift, width, size)
    elif move == 1:
        grow_left = rng.random() < 0.5
        start, stop = _clip(first - grow_left, min(width + 1, limit), size)
    else:
        start, stop = _clip(first + (rng.random() < 0.5), max(width - 1, 1), size)
    added = sum(1 for i in range(start, stop) if i not in genome.input_edges[v])
    if edges_fit(genome, added):
        set_window(genome, v, start, stop)
    return (genome,)


def mut_add_local_unit(genome: Genome, *, rng: np.random.Generator, max_shift: int | None = None,
                       registry: InnovationRegistry | None = None) -> tuple[Genome]:
    """Add a vertex beside a random input-reading vertex ``v``: it reads ``v``'s window shifted and feeds
    what ``v`` feeds.

    The shift is ``1..max_shift`` positions (default: the window's width) to either side, clipped to the
    inputs. The new vertex has ``v``'s attributes and successors and outputs; with inherited weights its
    outgoing edges start at weight 0 (the network computes its parent's function) and its input edges are
    initialised by the phenotype. With a ``registry`` the new vertex gets the population's id of the event
    ``("local", v, shift)``.

    Parameters
    ----------
    genome : Genome
        Mutated in place.
    rng : numpy.random.Generator
        All randomness.
    max_shift : int, optional
        The largest shift (default: the width of ``v``'s window).
    registry : InnovationRegistry, optional
        The population's ids of structural events.

    Returns
    -------
    tuple of Genome
        ``(genome,)``; unchanged when no vertex reads an input or a limit would be passed.
    """
    check_rng(rng)
    readers = _readers(genome)
    g = genome.graph
    if not readers or len(g) + 1 > genome.limits.max_vertices:
        return (genome,)
    v = readers[int(rng.integers(len(readers)))]
    first, stop = window(genome, v)  # type: ignore[misc]
    width = stop - first
    reach = max(1, max_shift if max_shift is not None else width)
    shift = int(rng.integers(1, reach + 1)) * (1 if rng.random() < 0.5 else -1)
    start, stop = _clip(first + shift, width, genome.num_inputs)
    outs = genome.output_edges.get(v, {})
    if not edges_fit(genome, (stop - start) + len(g.succ[v]) + len(outs)):
        return (genome,)
    attributes = {k: value for k, value in g.nodes[v].items() if k != "bias"}
    w = genome.add_vertex(**attributes) if registry is None else registry.add_vertex(
        genome, ("local", v, start - first), **attributes)
    for i in range(start, stop):
        genome.add_input_edge(i, w)
    for x, data in g.succ[v].items():
        g.add_edge(w, x, **({"weight": 0.0} if "weight" in data else {}))
    for j, data in outs.items():
        genome.add_output_edge(w, j, **({"weight": 0.0} if "weight" in data else {}))
    return (genome,)
