"""Structural mutations of genomes, in DEAP's convention: ``mut_x(genome, *, rng, ...) -> (genome,)``, in place.

Every mutation keeps the genome valid (a DAG whose every vertex lies on an input-to-output path) and within
its :class:`~deepstruct.genomes.GenomeLimits` (``max_edges`` counts the interface edges too); when a mutation
cannot apply (no edge to remove, the limit reached, no acyclic candidate found in ``max_tries``) the genome is
returned unchanged. A vertex that a mutation leaves without a way in (no predecessor, no input edge) is
connected to every input, one without a way out to every output: what schema version 1 meant by a source
and a sink, so on a genome with the dense interface these operators change the network as they always did.
The operators that create vertices take an optional :class:`~deepstruct.genomes.InnovationRegistry`
(``registry=``), which gives the same structural event the same id across a population; without one the
genome's own counter numbers new vertices. Mutations of the interface: :mod:`deepstruct.operators.interface`;
of attributes and inherited weights: :mod:`deepstruct.operators.attributes`.

Examples
--------
>>> import numpy as np
>>> from deepstruct.genomes import Genome
>>> g = Genome(4, 2, edges=[(0, 1), (1, 2)])
>>> rng = np.random.default_rng(0)
>>> (g,) = mut_add_vertex(g, rng=rng)
>>> g.num_vertices
4
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from deepstruct.genomes import Genome, InnovationRegistry
from deepstruct.operators._sampling import (
    check_rng,
    cumulative_out_degrees,
    edges_fit,
    randbelow,
    random_edge,
    random_vertex,
    reaches,
)
from deepstruct.operators.interface import (
    mut_add_input_edge,
    mut_add_output_edge,
    mut_remove_input_edge,
    mut_remove_output_edge,
)

__all__ = ["mut_add_edge", "mut_remove_edge", "mut_add_vertex", "mut_remove_vertex", "mut_rewire_edge",
           "mut_any", "MUTATIONS"]


def mut_add_edge(genome: Genome, *, rng: np.random.Generator, max_tries: int = 16,
                 weight: float | None = None) -> tuple[Genome]:
    """Add one edge between two random unconnected vertices, oriented so that no cycle appears.

    For a random pair ``(u, v)``: if ``v`` already reaches ``u`` the edge is ``v -> u``, else ``u -> v``
    (one bidirectional search, no whole-graph work). ``weight``, if given, becomes the new edge's inherited
    weight.

    Parameters
    ----------
    genome : Genome
        Mutated in place.
    rng : numpy.random.Generator
        All randomness.
    max_tries : int
        Random pairs tried before giving up (a pair already joined is skipped).
    weight : float, optional
        The new edge's inherited weight (none by default).

    Returns
    -------
    tuple of Genome
        ``(genome,)``, DEAP's convention.
    """
    check_rng(rng)
    if weight is not None and not math.isfinite(weight):
        raise ValueError(f"weight must be a finite number, got {weight!r}")
    g = genome.graph
    if not edges_fit(genome, 1) or len(g) < 2:
        return (genome,)
    nodes = list(g)
    has_edge = g.has_edge
    for _ in range(max_tries):
        u, v = nodes[randbelow(rng, len(nodes))], nodes[randbelow(rng, len(nodes))]
        if u == v or has_edge(u, v) or has_edge(v, u):
            continue
        if reaches(genome, v, u):
            u, v = v, u
        if weight is None:
            g.add_edge(u, v)
        else:
            g.add_edge(u, v, weight=float(weight))
        break
    return (genome,)


def mut_remove_edge(genome: Genome, *, rng: np.random.Generator) -> tuple[Genome]:
    """Remove one uniformly random hidden edge (no-op on a genome without edges).

    An end left without a way in reads every input (without a way out: feeds every output); the genome is
    left unchanged when that would pass ``max_edges``.

    Parameters
    ----------
    genome : Genome
        Mutated in place.
    rng : numpy.random.Generator
        All randomness.

    Returns
    -------
    tuple of Genome
        ``(genome,)``, DEAP's convention.
    """
    check_rng(rng)
    g = genome.graph
    cumulative = cumulative_out_degrees(g)  # the edge draw and the edge count in one pass
    edge = random_edge(genome, rng, cumulative)
    if edge is None:
        return (genome,)
    u, v = edge
    orphans = [x for x, alone in ((u, len(g.succ[u]) == 1 and not genome.output_edges.get(u)),
                                   (v, len(g.pred[v]) == 1 and not genome.input_edges.get(v))) if alone]
    need = sum(genome.num_outputs if x == u else genome.num_inputs for x in orphans)
    if not edges_fit(genome, need - 1, hidden=cumulative[-1]):
        return (genome,)
    g.remove_edge(u, v)
    _reconnect(genome, orphans)
    return (genome,)


_NONE = object()


def _reconnect(genome: Genome, vertices: Sequence[int]) -> None:
    """Connect vertices without a way in to every input and without a way out to every output."""
    predecessors, successors = genome.graph.predecessors, genome.graph.successors
    for x in vertices:  # next(iterator, _NONE): an emptiness test that builds no AtlasView (half the time)
        if next(predecessors(x), _NONE) is _NONE and not genome.input_edges.get(x):
            genome.connect_inputs(x)
        if next(successors(x), _NONE) is _NONE and not genome.output_edges.get(x):
            genome.connect_outputs(x)


def mut_add_vertex(genome: Genome, *, rng: np.random.Generator, attributes: Mapping[str, Any] | None = None,
                   registry: InnovationRegistry | None = None) -> tuple[Genome]:
    """Split a random edge ``u -> v`` into ``u -> w -> v`` with a new vertex ``w`` (a fresh persistent id).

    With inherited weights, ``u -> w`` gets weight 1, ``w -> v`` keeps the old weight and ``w`` gets bias 0.
    On a genome without hidden edges a new vertex that reads every input and feeds every output is added.
    ``attributes`` are set on ``w``. With a ``registry`` the split of ``(u, v)`` gets its id in the
    population (event ``("split", u, v)``; the free vertex: ``("free",)``).

    Parameters
    ----------
    genome : Genome
        Mutated in place.
    rng : numpy.random.Generator
        All randomness.
    attributes : mapping, optional
        Vertex attributes of the new vertex (e.g. ``{"activation": "relu"}``).
    registry : InnovationRegistry, optional
        The population's ids of structural events.

    Returns
    -------
    tuple of Genome
        ``(genome,)``, DEAP's convention.
    """
    check_rng(rng)
    g = genome.graph
    if len(g) >= genome.limits.max_vertices:
        return (genome,)
    cumulative = cumulative_out_degrees(g)  # the edge count and the edge draw in one pass
    hidden = cumulative[-1] if cumulative else 0
    if not edges_fit(genome, 1, hidden):
        return (genome,)
    attributes = dict(attributes or {})
    edge = random_edge(genome, rng, cumulative)
    if edge is None:
        if not edges_fit(genome, genome.num_inputs + genome.num_outputs, hidden):
            return (genome,)
        w = _new_vertex(genome, registry, ("free",), attributes)
        genome.connect_inputs(w)
        genome.connect_outputs(w)
        return (genome,)
    u, v = edge
    data = g.edges[u, v]
    if "weight" in data:
        attributes.setdefault("bias", 0.0)
    w = _new_vertex(genome, registry, ("split", u, v), attributes)
    g.remove_edge(u, v)
    if "weight" in data:
        g.add_edge(u, w, weight=1.0)
    else:
        g.add_edge(u, w)
    g.add_edge(w, v, **data)
    return (genome,)


def _new_vertex(genome: Genome, registry: InnovationRegistry | None, event: tuple[Any, ...],
                attributes: dict[str, Any]) -> int:
    if registry is None:
        return genome.add_vertex(**attributes)
    return registry.add_vertex(genome, event, **attributes)


def mut_remove_vertex(genome: Genome, *, rng: np.random.Generator, reconnect: bool = True) -> tuple[Genome]:
    """Remove a random vertex (never the last one).

    With ``reconnect`` every predecessor is joined to every successor, every input the vertex read is read by
    its successors and every output it fed is fed by its predecessors (paths through the vertex already
    existed, so no cycle appears); new edges carry the product of the two weights when both have one. A
    neighbour left without a way in or out is connected to the whole interface. The genome is left
    unchanged when the result would pass ``max_edges``.

    Parameters
    ----------
    genome : Genome
        Mutated in place.
    rng : numpy.random.Generator
        All randomness.
    reconnect : bool
        Join the removed vertex's predecessors (and inputs) to its successors (and outputs).

    Returns
    -------
    tuple of Genome
        ``(genome,)``, DEAP's convention.
    """
    check_rng(rng)
    g = genome.graph
    if len(g) <= 1:
        return (genome,)
    v = random_vertex(genome, rng)
    assert v is not None
    preds, succs = dict(g.pred[v]), dict(g.succ[v])
    ins, outs = genome.input_edges.get(v, {}), genome.output_edges.get(v, {})
    hidden: list[tuple[int, int, dict[str, Any]]] = []
    inputs: list[tuple[int, int, dict[str, Any]]] = []
    outputs: list[tuple[int, int, dict[str, Any]]] = []
    if reconnect:
        hidden = [(p, x, _product(dp, dx)) for p, dp in preds.items() for x, dx in succs.items()
                  if not g.has_edge(p, x)]
        inputs = [(i, x, _product(di, dx)) for x, dx in succs.items() for i, di in ins.items()
                  if i not in genome.input_edges.get(x, {})]
        outputs = [(p, j, _product(dp, dj)) for p, dp in preds.items() for j, dj in outs.items()
                   if j not in genome.output_edges.get(p, {})]
    need = 0
    if not reconnect:  # with reconnection every neighbour keeps a way in and a way out
        need = sum(genome.num_inputs for x in succs if len(g.pred[x]) == 1 and not genome.input_edges.get(x))
        need += sum(genome.num_outputs for p in preds if len(g.succ[p]) == 1 and not genome.output_edges.get(p))
    change = len(hidden) + len(inputs) + len(outputs) + need - len(preds) - len(succs) - len(ins) - len(outs)
    if not edges_fit(genome, change):
        return (genome,)
    genome.remove_vertex(v)
    for p, x, d in hidden:
        g.add_edge(p, x, **d)
    for i, x, d in inputs:
        genome.add_input_edge(i, x, **d)
    for p, j, d in outputs:
        genome.add_output_edge(p, j, **d)
    _reconnect(genome, [*preds, *succs])
    return (genome,)


def _product(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    return {"weight": float(a["weight"]) * float(b["weight"])} if "weight" in a and "weight" in b else {}


def mut_rewire_edge(genome: Genome, *, rng: np.random.Generator, max_tries: int = 16) -> tuple[Genome]:
    """Move one end of a random hidden edge to another vertex (keeping its attributes), never creating a cycle.

    The end that loses the edge, if left without a way in (out), reads every input (feeds every output).

    Parameters
    ----------
    genome : Genome
        Mutated in place.
    rng : numpy.random.Generator
        All randomness.
    max_tries : int
        Candidate vertices tried before giving up (the edge then stays).

    Returns
    -------
    tuple of Genome
        ``(genome,)``, DEAP's convention.
    """
    check_rng(rng)
    g = genome.graph
    cumulative = cumulative_out_degrees(g)  # the edge draw and the edge count in one pass
    edge = random_edge(genome, rng, cumulative)
    if edge is None or len(g) < 3:
        return (genome,)
    u, v = edge
    nodes = list(g)
    move_target = rng.random() < 0.5
    for _ in range(max_tries):
        x = nodes[randbelow(rng, len(nodes))]
        if x == u or x == v:
            continue
        if move_target:
            if g.has_edge(u, x) or reaches(genome, x, u):
                continue
            new, left = (u, x), v
        else:
            if g.has_edge(x, v) or reaches(genome, v, x):
                continue
            new, left = (x, v), u
        if left == v and len(g.pred[v]) == 1 and not genome.input_edges.get(v):
            need = genome.num_inputs
        elif left == u and len(g.succ[u]) == 1 and not genome.output_edges.get(u):
            need = genome.num_outputs
        else:
            need = 0
        if not edges_fit(genome, need, hidden=cumulative[-1]):
            break
        data = g.edges[u, v]
        g.remove_edge(u, v)
        g.add_edge(*new, **data)
        _reconnect(genome, [left])
        break
    return (genome,)


MUTATIONS: dict[str, Callable[..., tuple[Genome]]] = {op.__name__.removeprefix("mut_"): op for op in (
    mut_add_edge, mut_remove_edge, mut_add_vertex, mut_remove_vertex, mut_rewire_edge, mut_add_input_edge,
    mut_remove_input_edge, mut_add_output_edge, mut_remove_output_edge,
)}
"""The structural mutations by name, their function's name without ``mut_`` (the ones :func:`mut_any` draws
from)."""


def mut_any(genome: Genome, *, rng: np.random.Generator, probabilities: Mapping[str, float] | None = None,
            registry: InnovationRegistry | None = None) -> tuple[Genome]:
    """Apply one structural mutation drawn from :data:`MUTATIONS` (uniformly, or by ``probabilities``).

    Parameters
    ----------
    genome : Genome
        Mutated in place.
    rng : numpy.random.Generator
        All randomness.
    probabilities : mapping of str to float, optional
        Relative weights of the mutations by name (keys of :data:`MUTATIONS`); uniform by default.
    registry : InnovationRegistry, optional
        Passed to the mutations that create vertices.

    Returns
    -------
    tuple of Genome
        ``(genome,)``, DEAP's convention.
    """
    check_rng(rng)
    probabilities = dict(probabilities) if probabilities is not None else dict.fromkeys(MUTATIONS, 1.0)
    unknown = set(probabilities) - set(MUTATIONS)
    if unknown:
        raise ValueError(f"unknown mutations {sorted(unknown)}; choose from {', '.join(MUTATIONS)}")
    names = list(probabilities)
    weights = np.array([probabilities[n] for n in names], dtype=float)
    if not np.isfinite(weights).all() or (weights < 0).any() or weights.sum() <= 0:
        raise ValueError(f"mutation probabilities must be finite, non-negative and not all zero, got {probabilities}")
    cumulative = np.cumsum(weights / weights.sum())
    name = names[min(int(np.searchsorted(cumulative, rng.random(), side="right")), len(names) - 1)]
    if registry is not None and MUTATIONS[name] is mut_add_vertex:
        return mut_add_vertex(genome, rng=rng, registry=registry)
    return MUTATIONS[name](genome, rng=rng)
