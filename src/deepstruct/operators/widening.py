"""Widening mutation: a new vertex beside an existing one (DEAP convention: in place, returns ``(genome,)``)."""

from __future__ import annotations

import numpy as np

from deepstruct.genomes import Genome
from deepstruct.operators._sampling import check_rng

__all__ = ["mut_duplicate_vertex"]


def mut_duplicate_vertex(genome: Genome, *, rng: np.random.Generator) -> tuple[Genome]:
    """Widen a layer: add a vertex ``w`` with the predecessors and successors of a random vertex ``v``.

    ``w`` lands in the layer of ``v``; a source stays a source, so it reads the network input. This is the
    growth that :func:`deepstruct.operators.mut_add_vertex` (which splits an edge, i.e. deepens) does not give.
    With inherited weights, ``w`` copies ``v``'s incoming weights and bias and the outgoing weights of both are
    halved (Net2Net widening): for a vertex that is neither a source nor a sink the network computes the same
    function. A source's input weights and a sink's output weights are not part of a genome, so there ``w``
    starts from fresh ones. A genome without vertices gets one.

    Parameters
    ----------
    genome : Genome
        Mutated in place.
    rng : numpy.random.Generator
        All randomness.

    Returns
    -------
    tuple of Genome
        ``(genome,)``; unchanged when a limit would be passed.

    Examples
    --------
    >>> g = Genome(4, 2, edges=[(0, 1)])
    >>> (g,) = mut_duplicate_vertex(g, rng=np.random.default_rng(0))
    >>> g.num_vertices, g.num_edges
    (3, 2)
    """
    check_rng(rng)
    g = genome.graph
    if len(g) + 1 > genome.limits.max_vertices:
        return (genome,)
    if len(g) == 0:
        genome.add_vertex()
        return (genome,)
    vertices = sorted(g.nodes)
    v = vertices[int(rng.integers(len(vertices)))]
    if g.number_of_edges() + g.in_degree(v) + g.out_degree(v) > genome.limits.max_edges:
        return (genome,)
    w = genome.add_vertex(**dict(g.nodes[v]))
    for u, data in list(g.pred[v].items()):
        g.add_edge(u, w, **dict(data))
    for x, data in list(g.succ[v].items()):
        if "weight" in data:
            data["weight"] = float(data["weight"]) / 2.0
        g.add_edge(w, x, **dict(data))
    return (genome,)

