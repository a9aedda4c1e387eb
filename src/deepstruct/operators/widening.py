"""Widening mutation: a new vertex beside an existing one (DEAP convention: in place, returns ``(genome,)``)."""

from __future__ import annotations

import numpy as np

from deepstruct.genomes import Genome, InnovationRegistry
from deepstruct.operators._sampling import check_rng, edges_fit

__all__ = ["mut_duplicate_vertex"]


def mut_duplicate_vertex(genome: Genome, *, rng: np.random.Generator,
                         registry: InnovationRegistry | None = None) -> tuple[Genome]:
    """Widen a layer: add a vertex ``w`` with the predecessors, successors, inputs and outputs of a random
    vertex ``v``.

    ``w`` lands in the layer of ``v`` and reads and feeds what ``v`` reads and feeds. This is the growth that
    :func:`deepstruct.operators.mut_add_vertex` (which splits an edge, i.e. deepens) does not give. With
    inherited weights, ``w`` copies ``v``'s incoming weights (hidden and input edges) and bias, and the
    outgoing weights of both (hidden and output edges) are halved (Net2Net widening): when every edge of
    ``v`` carries a weight the network computes the same function (an edge without one is initialised by the
    phenotype). With a ``registry`` the new vertex gets the population's id of the event
    ``("duplicate", v)``. A genome without vertices gets one.

    Parameters
    ----------
    genome : Genome
        Mutated in place.
    rng : numpy.random.Generator
        All randomness.
    registry : InnovationRegistry, optional
        The population's ids of structural events.

    Returns
    -------
    tuple of Genome
        ``(genome,)``; unchanged when a limit would be passed.

    Examples
    --------
    >>> g = Genome(4, 2, edges=[(0, 1)])
    >>> (g,) = mut_duplicate_vertex(g, rng=np.random.default_rng(0))
    >>> g.num_vertices, g.num_edges, g.num_interface_edges
    (3, 2, 8)
    """
    check_rng(rng)
    g = genome.graph
    if len(g) + 1 > genome.limits.max_vertices:
        return (genome,)
    if len(g) == 0:
        v = genome.add_vertex()
        genome.connect_inputs(v)
        genome.connect_outputs(v)
        return (genome,)
    vertices = sorted(g.nodes)
    v = vertices[int(rng.integers(len(vertices)))]
    ins, outs = genome.input_edges.get(v, {}), genome.output_edges.get(v, {})
    if not edges_fit(genome, g.degree(v) + len(ins) + len(outs)):  # degree: in- plus out-degree
        return (genome,)
    attributes = dict(g.nodes[v])
    w = genome.add_vertex(**attributes) if registry is None else registry.add_vertex(
        genome, ("duplicate", v), **attributes)
    for u, data in list(g.pred[v].items()):
        g.add_edge(u, w, **dict(data))
    for i, data in list(ins.items()):
        genome.add_input_edge(i, w, **dict(data))
    for x, data in list(g.succ[v].items()):
        if "weight" in data:
            data["weight"] = float(data["weight"]) / 2.0
        g.add_edge(w, x, **dict(data))
    for j, data in list(outs.items()):
        if "weight" in data:
            data["weight"] = float(data["weight"]) / 2.0
        genome.add_output_edge(w, j, **dict(data))
    return (genome,)
