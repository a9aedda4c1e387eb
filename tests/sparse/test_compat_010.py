"""deepstruct 0.10's layer API on our layers: dtype casting, mask assignment, saliency, learnable masks,
``generate_structure(include_input=, include_output=)``."""

import networkx as nx
import numpy as np
import pytest
import torch

from deepstruct.graph import CachedLayeredGraph
from deepstruct.sparse import MaskableModule, MaskedDeepDAN, MaskedDeepFFN, MaskedLinearLayer
from deepstruct.sparse.learnable_mask import LearnableMaskLinearLayer


@pytest.mark.parametrize("dtype", [torch.float64, torch.int64, torch.float16])
def test_inputs_of_another_dtype_are_cast_to_the_weights(dtype):
    structure = CachedLayeredGraph([(0, 1), (0, 2), (1, 2)])
    for model, shape in ((MaskedLinearLayer(4, 3), (2, 4)), (MaskedDeepFFN((2, 2), 3, [5]), (2, 2, 2)),
                         (MaskedDeepDAN(4, 3, structure, input_edges=[(0, 2)]), (2, 4))):
        x = torch.ones(shape, dtype=dtype)
        out = model(x)
        assert out.dtype == torch.float32
        assert torch.allclose(out, model(x.float()))


def test_assigning_a_mask_checks_its_shape_and_stores_bool():
    layer = MaskedLinearLayer(3, 2)
    layer.mask = np.array([[1, 0, 2], [0, 0, 1]])
    assert layer.mask.dtype == torch.bool and layer.mask.tolist() == [[True, False, True], [False, False, True]]
    assert "mask" in dict(layer.named_buffers())
    with pytest.raises(ValueError, match="shape"):
        layer.mask = torch.ones(3, 2)
    layer[0, 1] = 1
    assert bool(layer[0, 1]) and layer.get_weight_count() == 4


def test_torch_func_can_still_swap_the_mask_buffer():
    layer = MaskedLinearLayer(3, 2)
    x = torch.ones(1, 3)
    out = torch.func.functional_call(layer, {"mask": torch.zeros(2, 3, dtype=torch.bool)}, (x,))
    assert torch.equal(out, layer.bias.detach().unsqueeze(0)) and layer.mask.all()


def test_saliency_defaults_to_the_weight_magnitude_and_checks_its_shape():
    layer = MaskedLinearLayer(3, 2)
    assert torch.equal(layer.saliency, layer.weight.detach().abs())
    layer.saliency = torch.arange(6.0).reshape(2, 3)
    assert layer.saliency[1, 2] == 5
    with pytest.raises(ValueError, match="saliency has shape"):
        layer.saliency = torch.ones(3)


def test_maskable_children_are_the_masked_layers_below():
    class Net(MaskableModule):
        def __init__(self):
            super().__init__()
            self.a, self.b = torch.nn.Linear(2, 2), MaskedLinearLayer(2, 2)
            self.inner = torch.nn.Sequential(MaskedLinearLayer(2, 2))

    net = Net()
    assert net.maskable_children == [net.b, net.inner[0]]
    assert [name for name, _ in net.maskable_children_with_name] == ["b", "inner.0"]


def test_a_learnable_mask_is_a_parameter_and_gets_gradients():
    layer = MaskedLinearLayer(4, 3, mask_as_params=True)
    assert isinstance(layer, LearnableMaskLinearLayer) and isinstance(layer, MaskedLinearLayer)
    assert [n for n, _ in layer.named_parameters()] == ["weight", "bias", "_mask"]
    assert layer.mask.all()
    layer(torch.randn(5, 4)).pow(2).sum().backward()
    assert layer._mask.grad is not None and layer._mask.grad.abs().sum() > 0
    assert "_mask" not in dict(MaskedLinearLayer(4, 3).named_parameters())


def test_learning_the_mask_prunes_connections_that_hurt():
    torch.manual_seed(0)
    layer = MaskedLinearLayer(2, 1, bias=False, mask_as_params=True)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 1.0]]))
    layer.weight.requires_grad_(False)
    optimizer = torch.optim.SGD([layer._mask], lr=1.0)
    x = torch.randn(64, 2)
    for _ in range(50):  # the target reads only the first input: the second connection should go
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(layer(x), x[:, :1]).backward()
        optimizer.step()
    assert layer.mask.tolist() == [[True, False]]


def test_mask_assignment_and_pruning_on_a_learnable_mask():
    layer = MaskedLinearLayer(3, 2, mask_as_params=True)
    layer.mask = torch.tensor([[1, 0, 1], [0, 1, 0]])
    assert layer.mask.tolist() == [[True, False, True], [False, True, False]]
    with torch.no_grad():
        layer.weight.fill_(1.0)
        layer.weight[0, 0] = 0.0
    layer.recompute_mask(0.5)
    assert layer.mask.tolist() == [[False, False, True], [False, True, False]]
    out = layer(torch.ones(1, 3))
    assert torch.allclose(out, torch.tensor([[1.0, 1.0]]) + layer.bias)


def test_ffn_structure_with_and_without_inputs_and_outputs():
    model = MaskedDeepFFN(4, 2, [3, 5])
    model.layers[1].mask = torch.eye(5, 3)
    hidden = model.generate_structure()
    # layered by longest path: the two neurons of layer 1 that lost every input are sources now
    assert [hidden.get_layer_size(t) for t in hidden.layers] == [5, 3] and hidden.number_of_edges() == 3
    assert set(hidden) == {(f"layers.{t}", j) for t, n in enumerate([3, 5]) for j in range(n)}
    full = model.generate_structure(include_input=True, include_output=True)
    assert full.number_of_nodes() == 4 + 3 + 5 + 2
    assert full.number_of_edges() == 12 + 3 + 10
    assert full.nodes[("input", 0)]["kind"] == "input" and full.has_edge(("layers.1", 4), ("output", 1))


def test_dan_structure_with_inputs_and_outputs_rebuilds_the_same_model():
    graph = nx.newman_watts_strogatz_graph(30, 4, 0.3, seed=2)
    structure = CachedLayeredGraph(nx.DiGraph((min(e), max(e)) for e in graph.edges))
    model = MaskedDeepDAN(6, 3, structure)
    full = model.generate_structure(include_input=True, include_output=True)
    sinks = [v for v in structure if structure.out_degree(v) == 0]
    sources = [v for v in structure if structure.in_degree(v) == 0]
    assert full.number_of_edges() == structure.number_of_edges() + 6 * len(sources) + 3 * len(sinks)
    rebuilt = MaskedDeepDAN(6, 3, full)
    assert set(rebuilt.generate_structure().edges) == set(structure.edges)
    assert set(model.generate_structure(include_output=True)) == set(structure) | {("output", j) for j in range(3)}


@pytest.mark.parametrize("mask_as_params", [False, True])
def test_reset_parameters_keeps_the_mask_unless_asked(mask_as_params):
    layer = MaskedLinearLayer(6, 4, mask_as_params=mask_as_params)
    layer.mask = torch.rand(4, 6) < 0.5
    mask = layer.mask.clone()
    layer.reset_parameters(generator=torch.Generator().manual_seed(0))
    assert torch.equal(layer.mask, mask)
    layer.reset_parameters(keep_mask=False)
    assert layer.mask.all()
