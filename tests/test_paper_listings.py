"""The seed paper's listings, with their typos fixed, run as tests."""

import networkx as nx
import pytest
import torch
from torch import nn

import deepstruct.graph
import deepstruct.sparse
from deepstruct.sparse import ReductionCell
from deepstruct.transform import GraphTransform


def test_listing_graph_to_dan_prune_and_back():
    random_graph = nx.newman_watts_strogatz_graph(100, 4, 0.5, seed=3)
    structure = deepstruct.graph.CachedLayeredGraph()
    structure.add_edges_from(random_graph.edges)
    structure.add_nodes_from(random_graph.nodes)  # the paper writes .edges here: a typo
    model = deepstruct.sparse.MaskedDeepDAN(784, 10, structure)
    model.apply_mask()
    model.recompute_mask(theta=0.1)  # the paper's default threshold would keep almost everything
    functor = GraphTransform(torch.randn((1, 784)))  # the paper misses a parenthesis
    pruned_structure = functor.transform(model)
    new_model = deepstruct.sparse.MaskedDeepDAN(784, 10, pruned_structure)

    kept = set(model.generate_structure().edges)
    assert kept < set(structure.edges)
    assert set(new_model.generate_structure().edges) == kept
    assert set(new_model.structure.nodes) == set(structure.nodes)
    assert new_model(torch.randn(2, 784)).shape == (2, 10)


def test_listing_ffn_density_report():
    model_ffn = deepstruct.sparse.MaskedDeepFFN(784, 10, [1000, 800, 500, 200, 50, 20])
    model_ffn.recompute_mask(theta=0.1)
    densities = []
    for layer in deepstruct.sparse.maskable_layers(model_ffn):  # the paper iterates over `model`
        densities.append(torch.sum(layer.mask) / float(torch.numel(layer.mask)))
    layers = deepstruct.sparse.maskable_layers(model_ffn)
    assert len(densities) == 7
    for density, layer in zip(densities, layers, strict=True):
        assert float(density) == pytest.approx(float((layer.weight.detach().abs() > 0.1).float().mean()))
    assert any(0.0 < float(d) < 1.0 for d in densities)


def test_listing_cell_dan():
    def my_cell_constructor(is_input, is_output, in_degree, out_degree, layer, input_channel_size):
        return ReductionCell(input_channel_size, 1) if is_input else ReductionCell(in_degree, 1)

    structure = deepstruct.graph.orient(nx.watts_strogatz_graph(8, 4, 0.75, seed=0), "coloring")
    # the paper passes `structure` positionally after keyword arguments
    model = deepstruct.sparse.DeepCellDAN(num_classes=10, input_channel_size=3,
                                          cell_constructor=my_cell_constructor, structure=structure)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_listing_extract_any_model():
    shape_input = (3, 32, 32)  # the paper's 224x224 with an MNIST MaskedDeepDAN is a mismatch
    model = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 15 * 15, 10))
    functor = GraphTransform(torch.randn((1,) + shape_input))
    graph = functor.transform(model)
    inputs = 3 * 32 * 32
    conv_out = 4 * 15 * 15
    assert len(graph.nodes) == inputs + conv_out + 10 + (conv_out if _relu_is_a_vertex(graph) else 0)
    assert len(graph.edges) >= conv_out * 27 + conv_out * 10
    assert 0 < nx.density(graph) < 1


def _relu_is_a_vertex(graph: nx.DiGraph) -> bool:
    return any(attrs.get("module", "").startswith("1") for _, attrs in graph.nodes(data=True))


@pytest.mark.parametrize("kind", ["input", "output"])
def test_interface_vertices_are_not_neurons(kind):
    structure = nx.DiGraph([(0, 1)])
    structure.add_node("x", kind=kind)
    structure.add_edge("x", 0) if kind == "input" else structure.add_edge(1, "x")
    model = deepstruct.sparse.MaskedDeepDAN(3, 2, structure)
    assert set(model.generate_structure().nodes) == {0, 1}
