"""``MaskedDeepDAN``: a directed-acyclic network where every vertex of a graph is a neuron."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import networkx as nx
import numpy as np
import torch
from torch import nn

from deepstruct.graph import CachedLayeredGraph
from deepstruct.sparse._sizes import input_features, positive
from deepstruct.sparse.masked_linear import MaskableModule, MaskedLinearLayer

__all__ = ["MaskedDeepDAN", "INTERFACE_KINDS"]

INTERFACE_KINDS = frozenset({"input", "output"})


def _object_array(items: Sequence[Hashable]) -> np.ndarray:
    """A 1-d object array of vertex ids (element-wise, so tuple ids stay whole)."""
    out = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        out[i] = item
    return out


class MaskedDeepDAN(MaskableModule):
    """A deep directed-acyclic network: ``y_v = σ(Σ_{u→v} w_uv · y_u + b_v)`` for every vertex ``v``.

    The structure is layered by longest path. Sources (layer 0) read the model input through a masked,
    initially dense matrix; every later layer ``t`` reads the concatenation of the earlier layers that feed
    it through one masked matrix whose mask holds exactly the structure's edges into ``t``. Every sink
    (a vertex without successors, in any layer) feeds the linear output layer.

    Parameters
    ----------
    size_input : int or shape
        Input features; a shape such as ``(1, 28, 28)`` is flattened.
    size_output : int
        Output features (logits).
    structure : nx.DiGraph
        A non-empty DAG; any hashable vertex ids. It is copied. Vertices whose ``kind`` attribute is
        ``"input"`` or ``"output"`` (the interface vertices of a graph extracted by
        :class:`deepstruct.transform.GraphTransform`) are not neurons and are left out, so an extracted
        graph can be rebuilt directly, as in the seed paper's listing.
    use_layer_norm : bool
        Layer normalisation of each layer's pre-activations (this departs from the plain formula).
    activation : type of nn.Module
        σ (default ``nn.ReLU``).
    generator : torch.Generator, optional
        Randomness for the initial weights.

    Examples
    --------
    >>> structure = CachedLayeredGraph([("a", "b"), ("a", "c"), ("b", "c")])
    >>> model = MaskedDeepDAN(4, 2, structure)
    >>> model(torch.zeros(3, 4)).shape
    torch.Size([3, 2])
    >>> sorted(model.generate_structure().edges)
    [('a', 'b'), ('a', 'c'), ('b', 'c')]
    """

    def __init__(
        self,
        size_input: int | Sequence[int],
        size_output: int,
        structure: nx.DiGraph,
        use_layer_norm: bool = False,
        activation: type[nn.Module] = nn.ReLU,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(structure, nx.DiGraph):
            raise ValueError(
                f"structure must be a directed graph (nx.DiGraph), got {type(structure).__name__}; "
                "orient an undirected graph with deepstruct.graph.orient"
            )
        interface = {v for v, kind in structure.nodes(data="kind") if kind in INTERFACE_KINDS}
        if interface:
            structure = structure.subgraph(v for v in structure if v not in interface)
        self.structure = CachedLayeredGraph.from_graph(structure)
        graph = self.structure
        graph.layer_index()  # layers once; a cycle or an empty structure raises a ValueError naming it
        self.size_input = input_features(size_input)
        self.size_output = positive("size_output", size_output)
        self.layer_vertices: list[list[Hashable]] = [graph.get_vertices(t) for t in graph.layers]
        self.feeding: list[list[int]] = [[]] + [graph.feeding_layers(t) for t in graph.layers[1:]]
        offsets = [{v: i for i, v in enumerate(vs)} for vs in self.layer_vertices]
        layer_of = graph.layer_index()

        modules = [MaskedLinearLayer(self.size_input, len(self.layer_vertices[0]), generator=generator)]
        self._column_vertices: list[np.ndarray] = [np.empty(0, dtype=object)]
        for t in graph.layers[1:]:
            start = {}
            columns: list[Hashable] = []
            for j in self.feeding[t]:
                start[j] = len(columns)
                columns.extend(self.layer_vertices[j])
            mask = torch.zeros(len(self.layer_vertices[t]), len(columns), dtype=torch.bool)
            rows, cols = [], []
            for v in self.layer_vertices[t]:
                for u in graph._pred[v]:
                    rows.append(offsets[t][v])
                    cols.append(start[layer_of[u]] + offsets[layer_of[u]][u])
            mask[rows, cols] = True
            modules.append(MaskedLinearLayer(len(columns), len(self.layer_vertices[t]), mask=mask, generator=generator))
            self._column_vertices.append(_object_array(columns))
        self.layers = nn.ModuleList(modules)
        self._row_vertices = [_object_array(vs) for vs in self.layer_vertices]

        self.sinks = [v for vs in self.layer_vertices for v in vs if graph.out_degree(v) == 0]
        self.output_feeding = sorted({layer_of[v] for v in self.sinks})
        positions, start = [], 0
        for j in self.output_feeding:
            positions.extend(start + offsets[j][v] for v in self.layer_vertices[j] if graph.out_degree(v) == 0)
            start += len(self.layer_vertices[j])
        self._gather_sinks = len(positions) != start
        self.register_buffer("sink_positions", torch.tensor(positions, dtype=torch.long), persistent=False)
        self.output = MaskedLinearLayer(len(self.sinks), self.size_output, generator=generator)

        self.norms = nn.ModuleList(nn.LayerNorm(len(vs)) for vs in self.layer_vertices) if use_layer_norm else None
        self.activation = activation()

    def reset_parameters(self, *, generator: torch.Generator | None = None) -> None:
        """Re-initialise every weight by its neuron's real fan-in (masks are kept)."""
        for layer in [*self.layers, self.output]:
            layer.reset_parameters(generator=generator)

    @property
    def num_layers(self) -> int:
        return len(self.layer_vertices)

    def _activate(self, t: int, z: torch.Tensor) -> torch.Tensor:
        """σ of layer ``t``'s pre-activations ``z`` (one activation for all vertices; subclasses may vary it)."""
        return self.activation(z)

    def activation_groups(self, t: int) -> list[tuple[nn.Module, list[int]]]:
        """σ of layer ``t`` as data: ``(activation module, rows it applies to)`` pairs covering every row once."""
        return [(self.activation, list(range(len(self.layer_vertices[t]))))]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.reshape(x.shape[0], -1)
        ys: list[torch.Tensor] = []
        for t, layer in enumerate(self.layers):
            feeding = self.feeding[t]
            if t == 0:
                inp = h
            elif len(feeding) == 1:
                inp = ys[feeding[0]]
            else:
                inp = torch.cat([ys[j] for j in feeding], dim=1)
            z = layer(inp)
            if self.norms is not None:
                z = self.norms[t](z)
            ys.append(self._activate(t, z))
        out_in = ys[self.output_feeding[0]] if len(self.output_feeding) == 1 else torch.cat(
            [ys[j] for j in self.output_feeding], dim=1)
        if self._gather_sinks:
            out_in = out_in.index_select(1, self.sink_positions)
        return self.output(out_in)

    def edge_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The structure's current edges as arrays ``(sources, targets, weights)``, read from the masks.

        Vectorised per layer; no forward pass. ``weights`` are the raw weights of the set connections.
        """
        sources, targets, weights = [], [], []
        for t in range(1, len(self.layers)):
            layer = self.layers[t]
            rows, cols = np.nonzero(layer.mask.detach().cpu().numpy())
            sources.append(self._column_vertices[t][cols])
            targets.append(self._row_vertices[t][rows])
            weights.append(layer.weight.detach().cpu().numpy()[rows, cols])
        if not sources:
            empty = np.empty(0, dtype=object)
            return empty, empty.copy(), np.empty(0, dtype=np.float32)
        return np.concatenate(sources), np.concatenate(targets), np.concatenate(weights)

    def generate_structure(self, *, include_weights: bool = False) -> CachedLayeredGraph:
        """The current structure, from the masks: every vertex of the structure, and exactly the edges whose
        mask is set, with the structure's own vertex ids (and ``weight`` edge attributes if asked)."""
        graph = CachedLayeredGraph()
        graph.add_nodes_from(v for vs in self.layer_vertices for v in vs)
        sources, targets, weights = self.edge_arrays()
        if include_weights:
            graph.add_weighted_edges_from(zip(sources.tolist(), targets.tolist(), weights.tolist(), strict=True))
        else:
            graph.add_edges_from(zip(sources.tolist(), targets.tolist(), strict=True))
        return graph

    def vertex_position(self, vertex: Hashable) -> tuple[int, int]:
        """``(layer, row)`` of ``vertex`` in this model's matrices."""
        t = self.structure.get_layer(vertex)
        return t, self.layer_vertices[t].index(vertex)

    def matrices(self) -> list[MaskedLinearLayer]:
        """Every masked matrix in the order of computation: ``layers[0], ..., layers[-1], output``."""
        return [*self.layers, self.output]

    def matrix_inputs(self, t: int) -> np.ndarray:
        """The unit each column of masked matrix ``t`` reads (``t == num_layers``: the output matrix).

        Units are numbered globally: ``0 .. size_input - 1`` are the model inputs, then the hidden vertices
        follow layer by layer in row order (``layer_vertices[0]``, ``layer_vertices[1]``, ...). Together with
        :meth:`matrices` this describes the whole computation as data, e.g. for batching many models.

        Examples
        --------
        >>> model = MaskedDeepDAN(3, 2, CachedLayeredGraph([("a", "b"), ("a", "c")]))
        >>> [model.matrix_inputs(t).tolist() for t in range(model.num_layers + 1)]
        [[0, 1, 2], [3], [4, 5]]
        """
        if not 0 <= t <= self.num_layers:
            raise ValueError(f"matrix index {t} out of range 0..{self.num_layers}")
        starts = np.cumsum([self.size_input] + [len(vs) for vs in self.layer_vertices])
        if t == 0:
            return np.arange(self.size_input, dtype=np.int64)
        feeding = self.output_feeding if t == self.num_layers else self.feeding[t]
        units = np.concatenate([np.arange(starts[j], starts[j + 1], dtype=np.int64) for j in feeding])
        if t == self.num_layers and self._gather_sinks:
            units = units[self.sink_positions.cpu().numpy()]
        return units

    def column_vertices(self, layer: int) -> list[Hashable]:
        """The vertex read by each column of layer ``layer``'s matrix (``layer >= 1``)."""
        return self._column_vertices[layer].tolist()

