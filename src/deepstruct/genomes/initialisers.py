"""Initial genomes from random-graph families, oriented into DAGs as in randomly wired networks.

Every initialiser has the common call form
``INITIALISERS[name](num_inputs, num_outputs, num_vertices, *, rng, registry=None, **params) -> Genome``; vertex
ids are ``0 .. num_vertices - 1`` (with an :class:`~deepstruct.genomes.InnovationRegistry`: the population's ids
of the slots ``("init", k)``) and all randomness comes from ``rng`` (a ``numpy.random.Generator``). The
interface is the dense one, now as explicit edges: every source reads every input and every sink feeds every
output, so a fresh genome decodes to the architecture it always did.

Undirected families (Watts-Strogatz, Newman-Watts-Strogatz, Erdős-Rényi, Barabási-Albert) are oriented by
:func:`deepstruct.graph.orient`. The default ``orientation="index"`` points every edge from the smaller to the
larger vertex index, as randomly wired networks do (Xie et al., 2019); note that on ring lattices (WS, NWS) this
keeps the ring path and gives a net as deep as it has vertices. ``"random"``, ``"bfs"`` or ``"coloring"`` give
shallower nets (see :mod:`deepstruct.graph.orientation`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import networkx as nx
import numpy as np

from deepstruct._validation import check_int
from deepstruct.genomes.genome import Genome, GenomeError, GenomeLimits
from deepstruct.genomes.innovation import InnovationRegistry
from deepstruct.graph import orient

__all__ = ["init_watts_strogatz", "init_newman_watts_strogatz", "init_erdos_renyi", "init_barabasi_albert",
           "init_random_layered", "init_local", "INITIALISERS", "Initialiser", "initialise", "layer_sizes"]

Initialiser = Callable[..., Genome]


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2**32 - 1))


def _check_arguments(num_vertices: int, limits: GenomeLimits, rng: np.random.Generator) -> None:
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    check_int("num_vertices", num_vertices, error=GenomeError)
    if num_vertices > limits.max_vertices:
        raise GenomeError(f"num_vertices={num_vertices} exceeds the limit {limits.max_vertices}")


def _finish(genome: Genome, registry: InnovationRegistry | None) -> Genome:
    """Validate; with a registry, renumber vertex ``k`` to the population's id of the slot ``("init", k)``."""
    if registry is not None:
        slots = sorted(genome.graph.nodes)
        fresh = Genome(genome.num_inputs, genome.num_outputs, next_id=0, limits=genome.limits, input_edges=(),
                       output_edges=())
        ids = {k: registry.vertex_id(fresh, ("init", k)) for k in slots}
        renamed = nx.relabel_nodes(genome.graph, ids, copy=True)
        genome.graph = renamed
        genome.input_edges = {ids[v]: inner for v, inner in genome.input_edges.items()}
        genome.output_edges = {ids[v]: inner for v, inner in genome.output_edges.items()}
        genome.next_id = max(ids.values(), default=-1) + 1
        registry.observe(genome)
    return genome.validate()


def _from_undirected(graph: nx.Graph, num_inputs: int, num_outputs: int, orientation: str,
                     rng: np.random.Generator, limits: GenomeLimits | None,
                     registry: InnovationRegistry | None) -> Genome:
    dag = orient(graph, orientation, rng=rng)  # type: ignore[arg-type]
    out = nx.DiGraph()
    out.add_nodes_from(sorted(dag.nodes))
    out.add_edges_from(sorted(dag.edges))
    genome = Genome(num_inputs, num_outputs, graph=out, next_id=graph.number_of_nodes(), limits=limits)
    return _finish(genome, registry)


def init_watts_strogatz(num_inputs: int, num_outputs: int, num_vertices: int, *, rng: np.random.Generator,
                        k: int = 4, p: float = 0.75, orientation: str = "index",
                        limits: GenomeLimits | None = None, registry: InnovationRegistry | None = None) -> Genome:
    """A Watts-Strogatz small world (ring lattice of degree ``k``, each edge rewired with probability ``p``).

    Examples
    --------
    >>> g = init_watts_strogatz(8, 2, 32, rng=np.random.default_rng(0))
    >>> g.num_vertices, g.num_edges
    (32, 64)
    """
    _check_arguments(num_vertices, limits or GenomeLimits(), rng)
    k = min(k, num_vertices - 1)
    graph = nx.watts_strogatz_graph(num_vertices, k, p, seed=_seed(rng))
    return _from_undirected(graph, num_inputs, num_outputs, orientation, rng, limits, registry)


def init_newman_watts_strogatz(num_inputs: int, num_outputs: int, num_vertices: int, *, rng: np.random.Generator,
                               k: int = 4, p: float = 0.5, orientation: str = "index",
                               limits: GenomeLimits | None = None,
                               registry: InnovationRegistry | None = None) -> Genome:
    """A Newman-Watts-Strogatz small world (ring lattice plus random short-cuts added with probability ``p``)."""
    _check_arguments(num_vertices, limits or GenomeLimits(), rng)
    k = min(k, num_vertices - 1)
    graph = nx.newman_watts_strogatz_graph(num_vertices, k, p, seed=_seed(rng))
    return _from_undirected(graph, num_inputs, num_outputs, orientation, rng, limits, registry)


def init_erdos_renyi(num_inputs: int, num_outputs: int, num_vertices: int, *, rng: np.random.Generator,
                     p: float = 0.2, orientation: str = "index", limits: GenomeLimits | None = None,
                     registry: InnovationRegistry | None = None) -> Genome:
    """An Erdős-Rényi random graph (every pair connected with probability ``p``)."""
    _check_arguments(num_vertices, limits or GenomeLimits(), rng)
    if not 0.0 <= p <= 1.0:
        raise GenomeError(f"p must be a probability in [0, 1], got {p!r}")
    graph = nx.fast_gnp_random_graph(num_vertices, p, seed=_seed(rng))
    return _from_undirected(graph, num_inputs, num_outputs, orientation, rng, limits, registry)


def init_barabasi_albert(num_inputs: int, num_outputs: int, num_vertices: int, *, rng: np.random.Generator,
                         m: int = 2, orientation: str = "index", limits: GenomeLimits | None = None,
                         registry: InnovationRegistry | None = None) -> Genome:
    """A Barabási-Albert preferential-attachment graph (each new vertex attaches ``m`` edges)."""
    _check_arguments(num_vertices, limits or GenomeLimits(), rng)
    if num_vertices == 1:
        return _finish(Genome(num_inputs, num_outputs, vertices=[0], limits=limits), registry)
    m = max(1, min(m, num_vertices - 1))
    graph = nx.barabasi_albert_graph(num_vertices, m, seed=_seed(rng))
    return _from_undirected(graph, num_inputs, num_outputs, orientation, rng, limits, registry)


def layer_sizes(num_vertices: int, num_layers: int, rng: np.random.Generator) -> list[int]:
    """Split ``num_vertices`` into ``num_layers`` non-empty layers, sizes as even as the split allows."""
    num_layers = max(1, min(num_layers, num_vertices))
    base, extra = divmod(num_vertices, num_layers)
    bonus = set(rng.choice(num_layers, size=extra, replace=False).tolist()) if extra else set()
    return [base + (1 if i in bonus else 0) for i in range(num_layers)]


def init_random_layered(num_inputs: int, num_outputs: int, num_vertices: int, *, rng: np.random.Generator,
                        num_layers: int | None = None, p: float = 0.5, limits: GenomeLimits | None = None,
                        registry: InnovationRegistry | None = None, sizes: list[int] | None = None) -> Genome:
    """A random layered DAG: edges only between consecutive layers, each with probability ``p``.

    Every vertex after the first layer gets at least one predecessor in the layer before, and every vertex
    before the last layer at least one successor in the layer after, so the genome's longest-path layering is
    exactly these layers and it decodes to a :class:`~deepstruct.sparse.MaskedDeepFFN` (``kind="ffn"``).
    ``num_layers`` defaults to about ``sqrt(num_vertices)``; ``sizes`` (summing to ``num_vertices``) fixes
    the layer sizes instead.

    Examples
    --------
    >>> g = init_random_layered(4, 2, 12, rng=np.random.default_rng(1), num_layers=3)
    >>> sorted(set(map(len, [g.sources(), g.sinks()])))
    [4]
    """
    limits = limits or GenomeLimits()
    _check_arguments(num_vertices, limits, rng)
    if not 0.0 <= p <= 1.0:
        raise GenomeError(f"p must be a probability in [0, 1], got {p!r}")
    if num_layers is None:
        num_layers = max(1, round(num_vertices ** 0.5))
    if sizes is None:
        sizes = layer_sizes(num_vertices, num_layers, rng)
    elif sum(sizes) != num_vertices or min(sizes) < 1:
        raise GenomeError(f"sizes {sizes} must be positive and sum to num_vertices={num_vertices}")
    starts = np.cumsum([0, *sizes])
    sources: list[np.ndarray] = []
    targets: list[np.ndarray] = []
    for t in range(len(sizes) - 1):
        a, b = sizes[t], sizes[t + 1]
        adjacency = rng.random((a, b)) < p
        adjacency[rng.integers(0, a, size=b), np.arange(b)] = True  # predecessors
        lonely = ~adjacency.any(axis=1)
        adjacency[np.flatnonzero(lonely), rng.integers(0, b, size=int(lonely.sum()))] = True  # successors
        rows, cols = np.nonzero(adjacency)
        sources.append(rows + starts[t])
        targets.append(cols + starts[t + 1])
    edges = list(zip(np.concatenate(sources).tolist(), np.concatenate(targets).tolist(), strict=True)) if sources \
        else []
    if len(edges) > limits.max_edges:
        raise GenomeError(f"the random layered genome has {len(edges)} edges, over the limit {limits.max_edges}; "
                          "lower p or num_vertices")
    genome = Genome(num_inputs, num_outputs, vertices=range(num_vertices), edges=edges, limits=limits)
    return _finish(genome, registry)


def _windows(num_inputs: int, count: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` window starts tiling ``0 .. num_inputs - width`` evenly, each jittered by up to a third of
    the spacing."""
    span = num_inputs - width
    if count == 1 or span == 0:
        return rng.integers(0, span + 1, size=count)
    centres = np.linspace(0, span, count)
    jitter = rng.uniform(-1, 1, size=count) * max(span / (count - 1) / 3, 0.5)
    return np.clip(np.rint(centres + jitter), 0, span).astype(np.int64)


def init_local(num_inputs: int, num_outputs: int, num_vertices: int, *, rng: np.random.Generator,
               num_layers: int = 2, width: tuple[int, int] | int = (3, 12), first: tuple[float, float] = (0.5, 0.8),
               p: float = 1.0, limits: GenomeLimits | None = None,
               registry: InnovationRegistry | None = None) -> Genome:
    """A layered DAG whose first layer is locally connected: each of its vertices reads a window of adjacent
    inputs; the layers after it are joined as in :func:`init_random_layered`.

    For ordered inputs (a signal, an image's pixels row after row) a vertex that reads a window is a filter of a
    convolution without weight sharing (locally connected layers). The window width is drawn once per genome,
    uniformly from ``width`` (an int fixes it), and the windows tile the inputs evenly with a little jitter. The
    first layer holds a fraction of the vertices drawn uniformly from ``first``; the others are split evenly
    over ``num_layers - 1`` more layers, consecutive layers joined with edge probability ``p`` (every vertex
    keeps a predecessor and a successor). The last layer feeds every output.

    Examples
    --------
    >>> g = init_local(40, 10, 30, rng=np.random.default_rng(0), width=5)
    >>> spans = {max(inputs) - min(inputs) + 1 for inputs in g.input_edges.values()}
    >>> spans, len(g.input_edges) + len(g.output_edges) <= 30
    ({5}, True)
    """
    limits = limits or GenomeLimits()
    _check_arguments(num_vertices, limits, rng)
    low, high = (width, width) if isinstance(width, int) else width
    if not 1 <= low <= high:
        raise GenomeError(f"width must be an int >= 1 or a range (low, high) with 1 <= low <= high, got {width!r}")
    if not (0.0 < first[0] <= first[1] <= 1.0) or not 0.0 <= p <= 1.0:
        raise GenomeError(f"first must be a range of fractions in (0, 1] and p a probability; got {first!r}, {p!r}")
    w = min(int(rng.integers(low, high + 1)), num_inputs)
    layers = max(1, min(num_layers, num_vertices))
    n_first = num_vertices if layers == 1 else min(num_vertices - layers + 1,
                                                   max(1, round(num_vertices * rng.uniform(*first))))
    rest = layer_sizes(num_vertices - n_first, layers - 1, rng) if layers > 1 else []
    sizes = [n_first, *rest]
    genome = init_random_layered(num_inputs, num_outputs, num_vertices, rng=rng, num_layers=len(sizes), p=p,
                                 limits=limits, sizes=sizes)
    starts = _windows(num_inputs, n_first, w, rng)
    genome.input_edges = {v: {int(i): {} for i in range(s, s + w)} for v, s in enumerate(starts.tolist())}
    return _finish(genome, registry)


INITIALISERS: dict[str, Initialiser] = {
    "watts_strogatz": init_watts_strogatz,
    "newman_watts_strogatz": init_newman_watts_strogatz,
    "erdos_renyi": init_erdos_renyi,
    "barabasi_albert": init_barabasi_albert,
    "random_layered": init_random_layered,
    "local": init_local,
}
"""Initialisers by name; every one is called ``INITIALISERS[name](num_inputs, num_outputs, num_vertices, *, rng,
registry=None, **params)``. Aliases: ``ws``, ``nws``, ``er``, ``ba``, ``layered``."""

INITIALISERS.update({"ws": init_watts_strogatz, "nws": init_newman_watts_strogatz, "er": init_erdos_renyi,
                     "ba": init_barabasi_albert, "layered": init_random_layered})


def initialise(name: str, num_inputs: int, num_outputs: int, num_vertices: int, *, rng: np.random.Generator,
               **params: Any) -> Genome:
    """Look up ``name`` in :data:`INITIALISERS` (clear error when unknown) and call it."""
    if name not in INITIALISERS:
        raise ValueError(f"unknown initialiser {name!r}; choose one of {', '.join(sorted(INITIALISERS))}")
    return INITIALISERS[name](num_inputs, num_outputs, num_vertices, rng=rng, **params)
