"""Scalable families (deepstruct 0.10): a small graph plus a proportion per vertex, grown to any size.

:class:`ScalableDAN` blows every vertex ``v`` of a small structure up into a block of
``max(1, round(proportions[v] * scale))`` neurons and every edge ``u -> v`` into a complete connection from
``u``'s block to ``v``'s, then builds a :class:`~deepstruct.sparse.MaskedDeepDAN` of it.
:class:`ScalableDeepFFN` does the same for the widths of a feed-forward net.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Hashable, Mapping, Sequence

import networkx as nx
import numpy as np
import torch

from deepstruct.graph import CachedLayeredGraph
from deepstruct.sparse import MaskedDeepDAN, MaskedDeepFFN
from deepstruct.util import kullback_leibler

__all__ = ["ScalableDAN", "ScalableDeepFFN"]


def _check_proportions(values: Sequence[float], what: str) -> np.ndarray:
    array = np.asarray(list(values), dtype=float)
    if array.size == 0 or not np.all(np.isfinite(array)) or np.any(array < 0) or not np.isclose(array.sum(), 1):
        raise ValueError(f"{what} must be finite, >= 0 and sum to 1, got {array.tolist()}")
    return array


class ScalableDAN:
    """A scalable family of directed-acyclic networks: ``structure`` grown by ``proportion_map``.

    Parameters
    ----------
    structure : networkx.DiGraph
        The small DAG (any hashable vertex ids).
    proportion_map : mapping, optional
        Share of the neurons per vertex (summing to 1); uniform if ``None``. See
        :func:`deepstruct.graph.uniform_proportions`.

    Examples
    --------
    >>> family = ScalableDAN(nx.DiGraph([("a", "b"), ("b", "c"), ("a", "c")]), {"a": 0.5, "b": 0.25, "c": 0.25})
    >>> grown = family.grow(8)
    >>> [grown.get_layer_size(t) for t in grown.layers], grown.number_of_edges()
    ([4, 2, 2], 20)
    >>> model, graph = family.build(10, 3, 8, return_graph=True)
    >>> model(torch.zeros(2, 10)).shape
    torch.Size([2, 3])
    """

    def __init__(self, structure: nx.DiGraph, proportion_map: Mapping[Hashable, float] | None = None) -> None:
        if not isinstance(structure, nx.DiGraph) or structure.number_of_nodes() == 0:
            raise ValueError("structure must be a non-empty directed graph")
        self._structure = CachedLayeredGraph.from_graph(structure)
        self._structure.layer_index()  # a cycle raises here, naming it
        if proportion_map is None:
            proportion_map = {v: 1 / structure.number_of_nodes() for v in structure.nodes}
        self.proportions = proportion_map
        self.reset()

    @property
    def structure(self) -> CachedLayeredGraph:
        return self._structure

    @property
    def proportions(self) -> dict[Hashable, float]:
        return dict(self._proportions)

    @proportions.setter
    def proportions(self, proportion_map: Mapping[Hashable, float]) -> None:
        if set(proportion_map) != set(self._structure.nodes):
            raise ValueError("proportion_map must have exactly one proportion per vertex of the structure")
        _check_proportions(proportion_map.values(), "the proportions")
        self._proportions = {v: float(proportion_map[v]) for v in self._structure.nodes}

    def reset(self) -> None:
        """Forget a graph being grown by :meth:`scale`."""
        self._scaled: CachedLayeredGraph | None = None
        self.vertex_correspondences: dict[Hashable, list[int]] = {}

    def scale(self, vertex: Hashable, size: int) -> CachedLayeredGraph:
        """Add ``size`` neurons for ``vertex`` to the graph being grown, fed by every neuron already there for
        ``vertex``'s predecessors; returns that graph."""
        if vertex not in self._structure:
            raise ValueError(f"vertex {vertex!r} is not in the structure")
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 0:
            raise ValueError(f"size must be an int >= 0, got {size!r}")
        graph = self._scaled if self._scaled is not None else CachedLayeredGraph()
        start = graph.number_of_nodes()
        block = list(range(start, start + int(size)))
        graph.add_nodes_from(block)
        self.vertex_correspondences.setdefault(vertex, []).extend(block)
        for source in self._structure.predecessors(vertex):
            graph.add_edges_from(itertools.product(self.vertex_correspondences.get(source, []), block))
        self._scaled = graph
        return graph

    def grow(self, scale: int) -> CachedLayeredGraph:
        """The structure grown to about ``scale`` neurons: vertex ``v`` gets ``max(1, round(p_v * scale))``
        (ids ``0, 1, ...`` block after block, in layer order)."""
        if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 1:
            raise ValueError(f"scale must be an int >= 1, got {scale!r}")
        self.reset()
        for layer in self._structure.layers:
            for v in self._structure.get_vertices(layer):
                self.scale(v, max(1, int(round(self._proportions[v] * scale))))
        assert self._scaled is not None
        return self._scaled

    def build(self, input_shape: int | Sequence[int], output_shape: int, scale: int, use_layer_norm: bool = True,
              return_graph: bool = False, *, generator: torch.Generator | None = None
              ) -> MaskedDeepDAN | tuple[MaskedDeepDAN, CachedLayeredGraph]:
        """A ``MaskedDeepDAN`` of the grown structure (and the grown structure, if ``return_graph``)."""
        graph = self.grow(scale)
        model = ScalableDAN.model(input_shape, output_shape, graph, use_layer_norm, generator=generator)
        return (model, graph) if return_graph else model

    @staticmethod
    def model(input_shape: int | Sequence[int], output_shape: int, structure: nx.DiGraph, use_layer_norm: bool = True,
              *, generator: torch.Generator | None = None) -> MaskedDeepDAN:
        """The ``MaskedDeepDAN`` a grown structure gives (what :meth:`build` returns; rebuild a saved one)."""
        return MaskedDeepDAN(input_shape, output_shape, structure, use_layer_norm=use_layer_norm, generator=generator)


class ScalableDeepFFN:
    """A scalable family of feed-forward nets: hidden widths in fixed proportions.

    Examples
    --------
    >>> family = ScalableDeepFFN(np.array([0.5, 0.3, 0.2]))
    >>> family.draw(100), family == ScalableDeepFFN(np.array([0.5, 0.3, 0.2]))
    ([50, 30, 20], True)
    """

    def __init__(self, proportions: Sequence[float], *, precision: int = 2, similarity_epsilon: float = 0.1) -> None:
        self._proportions = _check_proportions(proportions, "proportions")
        self.precision = precision
        self.entropy_similarity_epsilon = similarity_epsilon

    @property
    def precision(self) -> int:
        """Decimals the proportions are rounded to before drawing widths."""
        return self._precision

    @precision.setter
    def precision(self, precision: int) -> None:
        if isinstance(precision, bool) or not isinstance(precision, int) or precision < 1:
            raise ValueError(f"precision must be an int >= 1, got {precision!r}")
        self._precision = precision

    @property
    def entropy_similarity_epsilon(self) -> float:
        """Two families are equal when the divergence between them is below this."""
        return self._epsilon

    @entropy_similarity_epsilon.setter
    def entropy_similarity_epsilon(self, epsilon: float) -> None:
        if not math.isfinite(epsilon) or epsilon <= 0:
            raise ValueError(f"epsilon must be a finite number > 0, got {epsilon!r}")
        self._epsilon = float(epsilon)

    @property
    def proportions(self) -> np.ndarray:
        return np.round(self._proportions, self.precision)

    def draw(self, scale: int) -> list[int]:
        """The hidden widths for ``scale`` neurons (each at least 1)."""
        return [max(1, int(round(size))) for size in scale * self.proportions]

    def build(self, input_shape: int | Sequence[int], output_shape: int, scale: int, *,
              generator: torch.Generator | None = None) -> MaskedDeepFFN:
        if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
            raise ValueError(f"scale must be an int >= 1, got {scale!r}")
        return MaskedDeepFFN(input_shape, output_shape, self.draw(scale), generator=generator)

    def entropy_similarity(self, other: ScalableDeepFFN) -> float:
        """``KL(self || other)`` of the proportions, the shorter padded with zeros (``inf`` where undefined)."""
        n = max(len(self._proportions), len(other._proportions))
        a, b = (np.pad(p, (0, n - len(p))) for p in (self._proportions, other._proportions))
        try:
            return kullback_leibler(a, b)
        except ValueError:
            return math.inf

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ScalableDeepFFN) and self.entropy_similarity(other) < self.entropy_similarity_epsilon

    __hash__ = None  # type: ignore[assignment]

    def __str__(self) -> str:
        return str(self.draw(10 ** self.precision))
