"""Per-layer functors: the graph is exactly the module's connectivity (checked against autograd)."""

import itertools

import pytest
import torch

from deepstruct.sparse import MaskedDeepFFN, MaskedLinearLayer
from deepstruct.transform import Conv2dLayerFunctor, GraphTransform, LinearLayerFunctor


def _jacobian_edges(module: torch.nn.Module, shape: tuple[int, ...]) -> set[tuple[int, int]]:
    x = torch.randn(1, *shape)
    n_in = x.numel()
    jac = torch.autograd.functional.jacobian(lambda z: module(z).reshape(-1), x).reshape(-1, n_in)
    return {(int(j), n_in + int(i)) for i, j in (jac != 0).nonzero().tolist()}


CONFIGS = [c for c in itertools.product([1, 2], [1, 3], [0, 1, "same", "valid"], [1, 2], [1, 2])
           if not (c[2] == "same" and c[0] != 1)]  # torch refuses padding="same" with stride > 1


@pytest.mark.parametrize("stride, kernel, padding, dilation, groups", CONFIGS)
def test_conv_graph_is_the_jacobian_pattern(stride, kernel, padding, dilation, groups):
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(2, 4, kernel, stride=stride, padding=padding, dilation=dilation, groups=groups)
    graph = Conv2dLayerFunctor(input_width=7, input_height=6).transform(conv)
    assert set(graph.edges) == _jacobian_edges(conv, (2, 6, 7))
    assert graph.first_layer_size == 2 * 6 * 7 and graph.last_layer_size == conv(torch.zeros(1, 2, 6, 7)).numel()


def test_conv_threshold_drops_small_kernel_entries_and_the_size_is_required():
    conv = torch.nn.Conv2d(1, 1, 2)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[[[1.0, 0.001], [1.0, 1.0]]]]))
    assert Conv2dLayerFunctor(3, 3, threshold=0.01).transform(conv).number_of_edges() == 4 * 3
    with pytest.raises(ValueError, match="input size"):
        Conv2dLayerFunctor().transform(conv)
    with pytest.raises(ValueError, match="Conv2d"):
        Conv2dLayerFunctor(3, 3).transform(torch.nn.Linear(2, 2))


def test_linear_functor_reads_threshold_and_mask_without_changing_the_layer():
    layer = MaskedLinearLayer(3, 2, mask=torch.tensor([[1, 1, 0], [1, 1, 1]]))
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[0.001, 1.0, 1.0], [1.0, 1.0, 1.0]]))
    before = layer.mask.clone()
    graph = LinearLayerFunctor(threshold=0.01).transform(layer)
    assert sorted(graph.edges) == [(0, 4), (1, 3), (1, 4), (2, 4)]
    assert torch.equal(layer.mask, before) and graph.num_layers == 2
    assert LinearLayerFunctor().transform(torch.nn.Linear(4, 5)).number_of_edges() == 20


def test_graph_transform_result_answers_like_a_layered_graph():
    model = MaskedDeepFFN(5, 2, [4, 3])
    graph = GraphTransform(torch.randn(1, 5)).transform(model)
    assert graph.num_layers == 4 and [graph.get_layer_size(t) for t in graph.layers] == [5, 4, 3, 2]
    assert graph.last_layer_size == 2
