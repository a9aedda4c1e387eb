"""``uniform_proportions``: a share of a whole per vertex, for scaling small graphs up (deepstruct 0.10)."""

from __future__ import annotations

from collections.abc import Hashable

import networkx as nx
import numpy as np

__all__ = ["uniform_proportions"]


def uniform_proportions(graph: nx.Graph, *, rng: np.random.Generator | int | None = None,
                        concentration: float = 100.0) -> dict[Hashable, float]:
    """Proportions that sum to one, close to uniform: one Dirichlet(``concentration`` · 1) draw per graph.

    Parameters
    ----------
    graph : networkx.Graph
        A non-empty graph; one proportion per vertex.
    rng : numpy.random.Generator or int, optional
        Randomness (a seed is turned into a generator; none: a fresh, unseeded one, as 0.10 behaved).
    concentration : float
        Larger is closer to uniform.

    Examples
    --------
    >>> props = uniform_proportions(nx.path_graph(4), rng=0)
    >>> round(sum(props.values()), 12), sorted(props) == [0, 1, 2, 3]
    (1.0, True)
    """
    if not isinstance(graph, nx.Graph) or graph.number_of_nodes() == 0:
        raise ValueError("uniform_proportions needs a non-empty networkx graph")
    if not np.isfinite(concentration) or concentration <= 0:
        raise ValueError(f"concentration must be a finite number > 0, got {concentration!r}")
    generator = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    draw = generator.dirichlet(np.full(graph.number_of_nodes(), float(concentration)))
    return {v: float(p) for v, p in zip(graph.nodes, draw, strict=True)}
