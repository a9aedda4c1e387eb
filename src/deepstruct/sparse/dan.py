"""``MaskedDeepDAN``: a directed-acyclic network where every vertex of a graph is a neuron."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence

import networkx as nx
import numpy as np
import torch
from torch import nn

from deepstruct._validation import check_int, is_index
from deepstruct.graph import CachedLayeredGraph
from deepstruct.sparse._sizes import input_features
from deepstruct.sparse.connections import MatrixConnections, edges_by_kind
from deepstruct.sparse.masked_linear import MaskableModule, MaskedLinearLayer
from deepstruct.sparse.structures import dan_structure

__all__ = ["MaskedDeepDAN", "INTERFACE_KINDS"]

INTERFACE_KINDS = frozenset({"input", "output"})


def _object_array(items: Sequence[Hashable]) -> np.ndarray:
    """A 1-d object array of vertex ids (element-wise, so tuple ids stay whole)."""
    out = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        out[i] = item
    return out


def _index(value: object, size: int, what: str) -> int:
    if isinstance(value, np.integer):
        value = int(value)
    if not is_index(value, size):
        raise ValueError(f"{what} {value!r} is not an index in [0, {size})")
    return int(value)


def _all_indices(values: list[object], size: int) -> bool:
    """Whether every value is an int (not a bool) in ``[0, size)``: one pass in C for the common, valid case."""
    if not values:
        return True
    array = np.asarray(values, dtype=object if any(type(x) is bool for x in values) else None)
    return array.ndim == 1 and array.dtype.kind in "iu" and int(array.min()) >= 0 and int(array.max()) < size


class MaskedDeepDAN(MaskableModule):
    """A deep directed-acyclic network: ``y_v = σ(Σ_{u→v} w_uv · y_u + Σ_{i→v} w_iv · x_i + b_v)`` per vertex.

    The structure is layered by longest path. Layer 0 (the sources) reads the model input through one masked
    matrix; every later layer ``t`` reads the concatenation of the earlier layers that feed it (and, when one
    of its vertices reads model inputs, the model input first) through one masked matrix whose mask holds
    exactly the connections into ``t``. The linear output layer reads the vertices that feed outputs (and
    the model input, for input-to-output connections).

    By default (the paper's model) the sources read every input and every sink feeds every output, through
    dense masks. ``input_edges``, ``output_edges`` and ``direct_edges`` make the interface explicit and
    sparse instead: any vertex, in any layer, may read model inputs, and any vertex may feed outputs.

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
    input_edges : iterable of (int, vertex), optional
        Which vertex reads which input index; by default every source reads every input.
    output_edges : iterable of (vertex, int), optional
        Which vertex feeds which output index; by default every sink feeds every output.
    direct_edges : iterable of (int, int), optional
        Input index -> output index connections of the output layer (none by default).

    Examples
    --------
    >>> structure = CachedLayeredGraph([("a", "b"), ("a", "c"), ("b", "c")])
    >>> model = MaskedDeepDAN(4, 2, structure)
    >>> model(torch.zeros(3, 4)).shape
    torch.Size([3, 2])
    >>> sorted(model.generate_structure().edges)
    [('a', 'b'), ('a', 'c'), ('b', 'c')]
    >>> sparse = MaskedDeepDAN(4, 2, structure, input_edges=[(0, "a"), (3, "c")], output_edges=[("b", 1), ("c", 0)])
    >>> [int(layer.mask.sum()) for layer in sparse.matrices()]
    [1, 1, 3, 2]
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
        input_edges: Iterable[tuple[int, Hashable]] | None = None,
        output_edges: Iterable[tuple[Hashable, int]] | None = None,
        direct_edges: Iterable[tuple[int, int]] | None = None,
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
        self.size_output = check_int("size_output", size_output)
        self.layer_vertices: list[list[Hashable]] = [graph.get_vertices(t) for t in graph.layers]
        self.feeding: list[list[int]] = [[]] + [graph.feeding_layers(t) for t in graph.layers[1:]]
        offsets = [{v: i for i, v in enumerate(vs)} for vs in self.layer_vertices]
        layer_of = graph.layer_index()
        reads = self._reads(input_edges, offsets, layer_of)
        self.sinks = [v for vs in self.layer_vertices for v in vs if graph.out_degree(v) == 0]

        first = None
        if reads is not None:
            first = torch.zeros(len(self.layer_vertices[0]), self.size_input, dtype=torch.bool)
            for v, inputs in reads.items():
                if layer_of[v] == 0:
                    first[offsets[0][v], inputs] = True
        modules = [MaskedLinearLayer(self.size_input, len(self.layer_vertices[0]), mask=first, generator=generator)]
        self._column_vertices: list[np.ndarray] = [np.empty(0, dtype=object)]
        self._input_columns = [self.size_input]
        pred = graph.pred
        for t in graph.layers[1:]:
            n_in = self.size_input if reads is not None and any(v in reads for v in self.layer_vertices[t]) else 0
            start = {}
            columns: list[Hashable] = []
            for j in self.feeding[t]:
                start[j] = n_in + len(columns)
                columns.extend(self.layer_vertices[j])
            mask = torch.zeros(len(self.layer_vertices[t]), n_in + len(columns), dtype=torch.bool)
            rows, cols = [], []
            for v in self.layer_vertices[t]:
                for u in pred[v]:
                    rows.append(offsets[t][v])
                    cols.append(start[layer_of[u]] + offsets[layer_of[u]][u])
                for i in reads.get(v, ()) if reads is not None else ():
                    rows.append(offsets[t][v])
                    cols.append(i)
            mask[rows, cols] = True
            modules.append(MaskedLinearLayer(mask.shape[1], len(self.layer_vertices[t]), mask=mask,
                                             generator=generator))
            self._column_vertices.append(_object_array(columns))
            self._input_columns.append(n_in)
        self.layers = nn.ModuleList(modules)
        self._row_vertices = [_object_array(vs) for vs in self.layer_vertices]
        self._build_output(output_edges, direct_edges, offsets, layer_of, generator)
        self.norms = nn.ModuleList(nn.LayerNorm(len(vs)) for vs in self.layer_vertices) if use_layer_norm else None
        self.activation = activation()

    def _reads(self, input_edges: Iterable[tuple[int, Hashable]] | None, offsets: list[dict[Hashable, int]],
               layer_of: dict[Hashable, int]) -> dict[Hashable, list[int]] | None:
        if input_edges is None:
            return None
        edges = list(input_edges)
        indices = [i for i, _ in edges]
        if not _all_indices(indices, self.size_input):  # find the first bad one, for the message
            for i, v in edges:
                _index(i, self.size_input, f"input edge ({i!r}, {v!r}): input")
        reads: dict[Hashable, list[int]] = {}
        for i, v in edges:
            if v not in layer_of:
                raise ValueError(f"input edge ({i!r}, {v!r}) reaches a vertex that is not in the structure")
            reads.setdefault(v, []).append(int(i))
        return reads

    def _build_output(self, output_edges: Iterable[tuple[Hashable, int]] | None,
                      direct_edges: Iterable[tuple[int, int]] | None, offsets: list[dict[Hashable, int]],
                      layer_of: dict[Hashable, int], generator: torch.Generator | None) -> None:
        feeds: dict[Hashable, list[int]] = {}
        if output_edges is None:
            feeds = {v: list(range(self.size_output)) for v in self.sinks}
        else:
            for v, j in output_edges:
                if v not in layer_of:
                    raise ValueError(f"output edge ({v!r}, {j!r}) leaves a vertex that is not in the structure")
                feeds.setdefault(v, []).append(_index(j, self.size_output, f"output edge ({v!r}, {j!r}): output"))
        direct = [(_index(i, self.size_input, f"direct edge ({i!r}, {j!r}): input"),
                   _index(j, self.size_output, f"direct edge ({i!r}, {j!r}): output")) for i, j in direct_edges or ()]
        self.output_vertices: list[Hashable] = [v for vs in self.layer_vertices for v in vs if v in feeds]
        if not self.output_vertices and not direct:
            raise ValueError("the output layer reads nothing: no output_edges and no direct_edges")
        self.output_feeding = sorted({layer_of[v] for v in self.output_vertices})
        positions, start = [], 0
        for j in self.output_feeding:
            positions.extend(start + offsets[j][v] for v in self.layer_vertices[j] if v in feeds)
            start += len(self.layer_vertices[j])
        self._gather_sinks = len(positions) != start
        self.register_buffer("sink_positions", torch.tensor(positions, dtype=torch.long), persistent=False)
        n_in = self.size_input if direct else 0
        self._input_columns.append(n_in)
        mask = None
        if output_edges is not None or direct:
            mask = torch.zeros(self.size_output, n_in + len(self.output_vertices), dtype=torch.bool)
            for c, v in enumerate(self.output_vertices):
                mask[feeds[v], n_in + c] = True
            for i, j in direct:
                mask[j, i] = True
        self.output = MaskedLinearLayer(n_in + len(self.output_vertices), self.size_output, mask=mask,
                                        generator=generator)

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

    def layer_outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The activations of every layer (``(batch, len(layer_vertices[t]))`` each) for the input ``x``
        (cast to the weights' dtype, e.g. ``float64`` from numpy)."""
        h = x.reshape(x.shape[0], -1).to(self.output.weight.dtype)
        ys: list[torch.Tensor] = []
        for t, layer in enumerate(self.layers):
            parts = [ys[j] for j in self.feeding[t]]
            if self._input_columns[t]:
                parts.insert(0, h)
            z = layer(parts[0] if len(parts) == 1 else torch.cat(parts, dim=1))
            if self.norms is not None:
                z = self.norms[t](z)
            ys.append(self._activate(t, z))
        return ys

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ys = self.layer_outputs(x)
        parts = []
        if self.output_feeding:
            hidden = ys[self.output_feeding[0]] if len(self.output_feeding) == 1 else torch.cat(
                [ys[j] for j in self.output_feeding], dim=1)
            parts.append(hidden.index_select(1, self.sink_positions) if self._gather_sinks else hidden)
        if self._input_columns[-1]:
            parts.insert(0, x.reshape(x.shape[0], -1).to(self.output.weight.dtype))
        return self.output(parts[0] if len(parts) == 1 else torch.cat(parts, dim=1))

    def connections(self, threshold: float | None = None) -> list[MatrixConnections]:
        """The connections of every masked matrix (:meth:`matrices` order), read from the masks: the reader of this
        phenotype (:mod:`deepstruct.sparse.connections`; units numbered as in :meth:`matrix_inputs`)."""
        starts = np.cumsum([self.size_input] + [len(vs) for vs in self.layer_vertices])
        return [MatrixConnections(t, layer, self.matrix_inputs(t) if t else 0, int(starts[t]), threshold)
                for t, layer in enumerate(self.matrices())]

    def _edges_by_kind(self) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        vertices = np.concatenate(self._row_vertices) if self._row_vertices else np.empty(0, dtype=object)
        return edges_by_kind(self.connections(), self.size_input, vertices)

    def edge_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The structure's current edges as arrays ``(sources, targets, weights)``, read from the masks.

        Vectorised per layer; no forward pass. ``weights`` are the raw weights of the set connections.
        Connections from model inputs and to outputs are in :meth:`interface_arrays`.
        """
        return self._edges_by_kind()["hidden"]

    def interface_arrays(self) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """The set connections of the interface, read from the masks: ``{"input": (inputs, vertices, weights),
        "output": (vertices, outputs, weights), "direct": (inputs, outputs, weights)}`` (indices are ints).

        Examples
        --------
        >>> model = MaskedDeepDAN(3, 2, CachedLayeredGraph([("a", "b")]), input_edges=[(2, "a"), (0, "b")])
        >>> inputs, vertices, _ = model.interface_arrays()["input"]
        >>> sorted(zip(inputs.tolist(), vertices.tolist()))
        [(0, 'b'), (2, 'a')]
        """
        arrays = self._edges_by_kind()
        return {kind: arrays[kind] for kind in ("input", "output", "direct")}

    def generate_structure(self, include_input: bool = False, include_output: bool = False, *,
                           include_weights: bool = False) -> CachedLayeredGraph:
        """The current structure, from the masks: every vertex of the structure, and exactly the edges whose
        mask is set, with the structure's own vertex ids (and ``weight`` edge attributes if asked).
        ``include_input`` / ``include_output`` add the model inputs ``("input", i)`` and outputs
        ``("output", j)`` with their set connections (see :mod:`deepstruct.sparse.structures`)."""
        return dan_structure(self, include_input=include_input, include_output=include_output,
                             include_weights=include_weights)

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
        :meth:`matrices` this describes the whole computation as data, e.g. for batching many models. A matrix
        that reads model inputs (always matrix 0; a later one when one of its rows has an input edge; the
        output matrix when there are direct edges) reads all of them, ``0 .. size_input - 1``, as its first
        columns; the hidden units follow in increasing order.

        Examples
        --------
        >>> model = MaskedDeepDAN(3, 2, CachedLayeredGraph([("a", "b"), ("a", "c")]))
        >>> [model.matrix_inputs(t).tolist() for t in range(model.num_layers + 1)]
        [[0, 1, 2], [3], [4, 5]]
        >>> model = MaskedDeepDAN(3, 2, CachedLayeredGraph([("a", "b"), ("a", "c")]),
        ...                       input_edges=[(0, "a"), (1, "c")], output_edges=[("a", 0), ("b", 1)])
        >>> [model.matrix_inputs(t).tolist() for t in range(model.num_layers + 1)]
        [[0, 1, 2], [0, 1, 2, 3], [3, 4]]
        """
        if not 0 <= t <= self.num_layers:
            raise ValueError(f"matrix index {t} out of range 0..{self.num_layers}")
        starts = np.cumsum([self.size_input] + [len(vs) for vs in self.layer_vertices])
        if t == 0:
            return np.arange(self.size_input, dtype=np.int64)
        feeding = self.output_feeding if t == self.num_layers else self.feeding[t]
        units = np.concatenate([np.arange(starts[j], starts[j + 1], dtype=np.int64) for j in feeding] or
                               [np.empty(0, dtype=np.int64)])
        if t == self.num_layers and self._gather_sinks:
            units = units[self.sink_positions.cpu().numpy()]
        if self._input_columns[t]:
            units = np.concatenate([np.arange(self.size_input, dtype=np.int64), units])
        return units

    def input_columns(self, t: int) -> int:
        """How many leading columns of matrix ``t`` read the model inputs (``size_input`` or 0)."""
        return self._input_columns[t]

    def column_vertices(self, layer: int) -> list[Hashable]:
        """The vertex read by each hidden column of layer ``layer``'s matrix (``layer >= 1``): the columns
        after the :meth:`input_columns`."""
        return self._column_vertices[layer].tolist()
