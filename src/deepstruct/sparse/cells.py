"""``DeepCellDAN``: a directed-acyclic network where every vertex is an operation (a cell)."""

from __future__ import annotations

from collections.abc import Callable, Hashable

import networkx as nx
import torch
import torch.nn.functional as F
from torch import nn

from deepstruct._validation import check_int
from deepstruct.graph import CachedLayeredGraph

__all__ = ["DeepCellDAN", "ConvCell", "ReductionCell", "CellConstructor"]

CellConstructor = Callable[[bool, bool, int, int, int, int], nn.Module]


class ConvCell(nn.Module):
    """Convolution, ReLU and batch normalisation; keeps the spatial size (odd kernel, same padding)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2)
        self.norm = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(F.relu(self.conv(x)))


class ReductionCell(ConvCell):
    """The paper's *ReductionCell*: a 5x5 convolution with stride 2, ReLU and batch normalisation."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(in_channels, out_channels, kernel_size=5, stride=2)


class DeepCellDAN(nn.Module):
    """A network whose structure's vertices are cells (operations on feature maps).

    Channel convention: every cell outputs ``cell_channels`` channels (1 by default, as in the paper's
    example). An input cell (a source of the structure) reads the model input with ``input_channel_size``
    channels; any other cell reads the channel-concatenation of its predecessors' outputs, i.e.
    ``in_degree * cell_channels`` channels, resized to the smallest spatial size among them. The sinks'
    outputs are concatenated, mapped by a 1x1 convolution to ``head_channels``, averaged over space and fed
    to a linear classifier.

    Parameters
    ----------
    num_classes : int
        Output size.
    input_channel_size : int
        Channels of the model input.
    cell_constructor : callable
        ``(is_input, is_output, in_degree, out_degree, layer, input_channel_size) -> nn.Module``.
    structure : nx.DiGraph
        A non-empty DAG whose vertices become cells.
    cell_channels : int
        Output channels of every cell.
    head_channels : int
        Channels of the output head's 1x1 convolution.

    Examples
    --------
    >>> def cell(is_input, is_output, in_degree, out_degree, layer, input_channel_size):
    ...     return ReductionCell(input_channel_size, 1) if is_input else ReductionCell(in_degree, 1)
    >>> model = DeepCellDAN(10, 3, cell, nx.DiGraph([(0, 1), (0, 2), (1, 2)]))
    >>> model(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 10])
    """

    def __init__(
        self,
        num_classes: int,
        input_channel_size: int,
        cell_constructor: CellConstructor,
        structure: nx.DiGraph,
        *,
        cell_channels: int = 1,
        head_channels: int = 64,
    ) -> None:
        super().__init__()
        if not isinstance(structure, nx.DiGraph):
            raise ValueError(f"structure must be a directed graph (nx.DiGraph), got {type(structure).__name__}")
        self.structure = CachedLayeredGraph.from_graph(structure)
        graph = self.structure
        graph.layer_index()  # layers once; a cycle or an empty structure raises a ValueError naming it
        self.num_classes = check_int("num_classes", num_classes)
        self.input_channel_size = check_int("input_channel_size", input_channel_size)
        self.cell_channels = check_int("cell_channels", cell_channels)
        self.order: list[Hashable] = [v for t in graph.layers for v in graph.get_vertices(t)]
        self._index = {v: i for i, v in enumerate(self.order)}
        self.predecessors = [[self._index[u] for u in graph.predecessors(v)] for v in self.order]
        self.sinks = [i for i, v in enumerate(self.order) if graph.out_degree(v) == 0]
        cells = []
        for v in self.order:
            in_degree, out_degree = graph.in_degree(v), graph.out_degree(v)
            cell = cell_constructor(in_degree == 0, out_degree == 0, in_degree, out_degree,
                                    graph.get_layer(v), input_channel_size)
            if not isinstance(cell, nn.Module):
                raise ValueError(f"the cell constructor returned {type(cell).__name__} for vertex {v!r}, "
                                 "not a torch.nn.Module")
            cells.append(cell)
        self.cells = nn.ModuleList(cells)
        head_channels = check_int("head_channels", head_channels)
        self.head = nn.Conv2d(len(self.sinks) * self.cell_channels, head_channels, kernel_size=1)
        self.classifier = nn.Linear(head_channels, self.num_classes)

    @staticmethod
    def _merge(tensors: list[torch.Tensor]) -> torch.Tensor:
        if len(tensors) == 1:
            return tensors[0]
        if tensors[0].dim() == 4:
            height = min(t.shape[-2] for t in tensors)
            width = min(t.shape[-1] for t in tensors)
            tensors = [t if t.shape[-2:] == (height, width) else F.adaptive_avg_pool2d(t, (height, width))
                       for t in tensors]
        return torch.cat(tensors, dim=1)

    def _run_cell(self, i: int, inp: torch.Tensor) -> torch.Tensor:
        vertex = self.order[i]
        try:
            out = self.cells[i](inp)
        except RuntimeError as err:
            raise ValueError(
                f"cell of vertex {vertex!r} failed on an input of shape {tuple(inp.shape)} "
                f"({inp.shape[1]} channels; the convention is input_channel_size for input cells and "
                f"in_degree * {self.cell_channels} otherwise): {err}"
            ) from err
        if out.dim() < 2 or out.shape[1] != self.cell_channels:
            raise ValueError(
                f"cell of vertex {vertex!r} returned shape {tuple(out.shape)}: every cell must output "
                f"cell_channels={self.cell_channels} channels"
            )
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs: list[torch.Tensor] = []
        for i, preds in enumerate(self.predecessors):
            inp = x if not preds else self._merge([outputs[j] for j in preds])
            outputs.append(self._run_cell(i, inp))
        merged = self._merge([outputs[i] for i in self.sinks])
        if merged.dim() == 4:
            features = F.adaptive_avg_pool2d(F.relu(self.head(merged)), 1).flatten(1)
        else:
            raise ValueError(f"cells must output feature maps (N, C, H, W); got shape {tuple(merged.shape)}")
        return self.classifier(features)
