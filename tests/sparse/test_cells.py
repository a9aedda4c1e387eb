import networkx as nx
import pytest
import torch
from torch import nn

from deepstruct.sparse import ConvCell, DeepCellDAN, ReductionCell


def paper_cell(is_input, is_output, in_degree, out_degree, layer, input_channel_size):
    return ReductionCell(input_channel_size, 1) if is_input else ReductionCell(in_degree, 1)


def test_constructor_gets_the_papers_arguments():
    calls = []

    def constructor(is_input, is_output, in_degree, out_degree, layer, input_channel_size):
        calls.append((is_input, is_output, in_degree, out_degree, layer, input_channel_size))
        return ConvCell(input_channel_size if is_input else in_degree, 1)

    structure = nx.DiGraph([(0, 1), (0, 2), (1, 2), (2, 3)])
    model = DeepCellDAN(5, 3, constructor, structure)
    assert sorted(calls) == sorted([(True, False, 0, 2, 0, 3), (False, False, 1, 1, 1, 3),
                                    (False, False, 2, 1, 2, 3), (False, True, 1, 0, 3, 3)])
    out = model(torch.randn(2, 3, 16, 16))
    assert out.shape == (2, 5)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_reduction_cells_with_different_spatial_sizes_are_merged():
    structure = nx.DiGraph([(0, 1), (1, 2), (0, 2)])  # vertex 2 reads 16x16 and 8x8 maps
    model = DeepCellDAN(10, 3, paper_cell, structure, head_channels=8)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert model.head.out_channels == 8


def test_cell_breaking_the_channel_convention_is_named():
    def wide(is_input, is_output, in_degree, out_degree, layer, input_channel_size):
        return nn.Conv2d(input_channel_size if is_input else in_degree, 4, 3, padding=1)

    model = DeepCellDAN(10, 3, wide, nx.DiGraph([("a", "b")]))
    with pytest.raises(ValueError, match="vertex 'a'.*cell_channels=1"):
        model(torch.randn(1, 3, 8, 8))


def test_cell_with_wrong_input_channels_is_named():
    def wrong(is_input, is_output, in_degree, out_degree, layer, input_channel_size):
        return ConvCell(7, 1)

    model = DeepCellDAN(10, 3, wrong, nx.DiGraph([("a", "b")]))
    with pytest.raises(ValueError, match="vertex 'a'"):
        model(torch.randn(1, 3, 8, 8))


def test_bad_arguments():
    with pytest.raises(ValueError, match="cycle"):
        DeepCellDAN(10, 3, paper_cell, nx.DiGraph([(0, 1), (1, 0)]))
    with pytest.raises(ValueError, match="num_classes"):
        DeepCellDAN(0, 3, paper_cell, nx.DiGraph([(0, 1)]))
    with pytest.raises(ValueError, match="not a torch.nn.Module"):
        DeepCellDAN(3, 3, lambda *args: None, nx.DiGraph([(0, 1)]))
