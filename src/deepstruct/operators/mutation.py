"""Structural mutations of genomes, in DEAP's convention: ``mut_x(genome, *, rng, ...) -> (genome,)``, in place.

Every mutation keeps the genome a valid DAG and within its :class:`~deepstruct.genomes.GenomeLimits`; when a
mutation cannot apply (no edge to remove, the limit reached, no acyclic candidate found in ``max_tries``) the
genome is returned unchanged. Any DAG is a valid genome (sources read every input, sinks feed every output),
so removing edges or vertices never needs a repair.

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

import heapq
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from deepstruct.genomes import Genome
from deepstruct.genomes.genome import ACTIVATION_NAMES, OPERATION_NAMES
from deepstruct.operators._sampling import check_rng, edge_count, randbelow, random_edge, random_vertex, reaches

__all__ = ["mut_add_edge", "mut_remove_edge", "mut_add_vertex", "mut_remove_vertex", "mut_rewire_edge",
           "mut_change_attribute", "mut_prune_weights", "mut_any", "MUTATIONS"]


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
    if edge_count(g) >= genome.limits.max_edges or len(g) < 2:
        return (genome,)
    nodes = list(g._node)
    succ = g._succ
    for _ in range(max_tries):
        u, v = nodes[randbelow(rng, len(nodes))], nodes[randbelow(rng, len(nodes))]
        if u == v or v in succ[u] or u in succ[v]:
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
    """Remove one uniformly random edge (no-op on a genome without edges).

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
    edge = random_edge(genome, rng)
    if edge is not None:
        genome.graph.remove_edge(*edge)
    return (genome,)


def mut_add_vertex(genome: Genome, *, rng: np.random.Generator,
                   attributes: Mapping[str, Any] | None = None) -> tuple[Genome]:
    """Split a random edge ``u -> v`` into ``u -> w -> v`` with a new vertex ``w`` (a fresh persistent id).

    With inherited weights, ``u -> w`` gets weight 1, ``w -> v`` keeps the old weight and ``w`` gets bias 0.
    On a genome without edges a new, unconnected vertex is added. ``attributes`` are set on ``w``.

    Parameters
    ----------
    genome : Genome
        Mutated in place.
    rng : numpy.random.Generator
        All randomness.
    attributes : mapping, optional
        Vertex attributes of the new vertex (e.g. ``{"activation": "relu"}``).

    Returns
    -------
    tuple of Genome
        ``(genome,)``, DEAP's convention.
    """
    check_rng(rng)
    g = genome.graph
    if len(g) >= genome.limits.max_vertices or edge_count(g) + 1 > genome.limits.max_edges:
        return (genome,)
    attributes = dict(attributes or {})
    edge = random_edge(genome, rng)
    if edge is None:
        genome.add_vertex(**attributes)
        return (genome,)
    u, v = edge
    data = g._succ[u][v]
    if "weight" in data:
        attributes.setdefault("bias", 0.0)
    w = genome.add_vertex(**attributes)
    g.remove_edge(u, v)
    if "weight" in data:
        g.add_edge(u, w, weight=1.0)
    else:
        g.add_edge(u, w)
    g.add_edge(w, v, **data)
    return (genome,)


def mut_remove_vertex(genome: Genome, *, rng: np.random.Generator, reconnect: bool = True) -> tuple[Genome]:
    """Remove a random vertex (never the last one).

    With ``reconnect`` every predecessor is joined to every successor (paths through the vertex already
    existed, so no cycle appears); new edges carry the product of the two weights when both have one, and
    reconnection stops at the edge limit.

    Parameters
    ----------
    genome : Genome
        Mutated in place.
    rng : numpy.random.Generator
        All randomness.
    reconnect : bool
        Join the removed vertex's predecessors to its successors.

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
    preds, succs = list(g._pred[v].items()), list(g._succ[v].items())
    g.remove_node(v)
    if reconnect:
        room = genome.limits.max_edges - edge_count(g)
        for p, dp in preds:
            for s, ds in succs:
                if room <= 0:
                    return (genome,)
                if s in g._succ[p]:
                    continue
                if "weight" in dp and "weight" in ds:
                    g.add_edge(p, s, weight=float(dp["weight"]) * float(ds["weight"]))
                else:
                    g.add_edge(p, s)
                room -= 1
    return (genome,)


def mut_rewire_edge(genome: Genome, *, rng: np.random.Generator, max_tries: int = 16) -> tuple[Genome]:
    """Move one end of a random edge to another vertex (keeping its attributes), never creating a cycle.

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
    edge = random_edge(genome, rng)
    if edge is None or len(g) < 3:
        return (genome,)
    u, v = edge
    nodes = list(g._node)
    move_target = rng.random() < 0.5
    for _ in range(max_tries):
        x = nodes[randbelow(rng, len(nodes))]
        if x == u or x == v:
            continue
        if move_target:
            if x in g._succ[u] or reaches(genome, x, u):
                continue
            new = (u, x)
        else:
            if v in g._succ[x] or reaches(genome, v, x):
                continue
            new = (x, v)
        data = g._succ[u][v]
        g.remove_edge(u, v)
        g.add_edge(*new, **data)
        break
    return (genome,)


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
    data = genome.graph._node[v]
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
    """Remove the ``k`` edges with the smallest inherited weight magnitude (ties broken at random).

    Edges without an inherited ``weight`` are never pruned; a genome without weights is left unchanged.

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
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise ValueError(f"k must be a non-negative int, got {k!r}")
    weighted = [(abs(float(d["weight"])), u, v) for u, v, d in genome.graph.edges(data=True) if "weight" in d]
    if not weighted or k == 0:
        return (genome,)
    ties = rng.random(len(weighted))
    smallest = heapq.nsmallest(k, range(len(weighted)), key=lambda i: (weighted[i][0], ties[i]))
    genome.graph.remove_edges_from((weighted[i][1], weighted[i][2]) for i in smallest)
    return (genome,)


MUTATIONS: dict[str, Callable[..., tuple[Genome]]] = {
    "add_edge": mut_add_edge, "remove_edge": mut_remove_edge, "add_vertex": mut_add_vertex,
    "remove_vertex": mut_remove_vertex, "rewire_edge": mut_rewire_edge,
}
"""The structural mutations by name (the ones :func:`mut_any` draws from)."""


def mut_any(genome: Genome, *, rng: np.random.Generator,
            probabilities: Mapping[str, float] | None = None) -> tuple[Genome]:
    """Apply one structural mutation drawn from :data:`MUTATIONS` (uniformly, or by ``probabilities``).

    Parameters
    ----------
    genome : Genome
        Mutated in place.
    rng : numpy.random.Generator
        All randomness.
    probabilities : mapping of str to float, optional
        Relative weights of the mutations by name (keys of :data:`MUTATIONS`); uniform by default.

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
    return MUTATIONS[name](genome, rng=rng)
