import io

import pytest
import torch
from torch import nn

from deepstruct.sparse import MaskableModule, MaskedDeepFFN, MaskedLinearLayer, maskable_layers


def _layer(seed=0):
    g = torch.Generator().manual_seed(seed)
    mask = torch.rand(5, 7, generator=g) > 0.5
    return MaskedLinearLayer(7, 5, mask=mask, generator=g)


def test_masked_weights_do_not_act_and_get_zero_gradient():
    layer = _layer()
    x = torch.randn(3, 7)
    expected = x @ (layer.weight * layer.mask).T + layer.bias
    assert torch.allclose(layer(x), expected)
    layer(x).pow(2).sum().backward()
    assert torch.all(layer.weight.grad[~layer.mask] == 0)
    assert torch.any(layer.weight.grad[layer.mask] != 0)


def test_apply_mask_zeroes_masked_weights():
    layer = _layer(1)
    layer.apply_mask()
    assert torch.all(layer.weight[~layer.mask] == 0)


def test_recompute_mask_never_revives_unless_asked():
    layer = MaskedLinearLayer(2, 1, mask=torch.tensor([[True, False]]))
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[0.5, 2.0]]))
    layer.recompute_mask(theta=0.1)
    assert layer.mask.tolist() == [[True, False]]
    layer.recompute_mask(theta=0.1, revive=True)
    assert layer.mask.tolist() == [[True, True]]
    layer.recompute_mask(theta=1.0)
    assert layer.mask.tolist() == [[False, True]]
    assert layer.density == 0.5
    with pytest.raises(ValueError, match="theta"):
        layer.recompute_mask(theta=-1.0)


def test_mask_is_in_state_dict_and_round_trips():
    layer = _layer(2)
    buffer = io.BytesIO()
    torch.save(layer.state_dict(), buffer)
    buffer.seek(0)
    other = MaskedLinearLayer(7, 5)
    other.load_state_dict(torch.load(buffer, weights_only=True))
    assert torch.equal(other.mask, layer.mask)
    assert other.mask.dtype == torch.bool
    x = torch.randn(2, 7)
    assert torch.allclose(other(x), layer(x))


def test_mask_follows_to():
    layer = _layer().to(torch.float64)
    assert layer.mask.dtype == torch.bool and layer.weight.dtype == torch.float64
    assert "mask" in dict(layer.named_buffers())


def test_wrong_mask_shape_and_sizes_are_errors():
    with pytest.raises(ValueError, match=r"mask has shape \(3, 3\)"):
        MaskedLinearLayer(2, 3, mask=torch.ones(3, 3))
    with pytest.raises(ValueError, match="in_features must be a positive int"):
        MaskedLinearLayer(0, 3)


def test_initialisation_follows_real_fan_in():
    mask = torch.zeros(200, 400, dtype=torch.bool)
    mask[:100, :4] = True  # fan-in 4
    mask[100:, :] = True  # fan-in 400
    layer = MaskedLinearLayer(400, 200, mask=mask, generator=torch.Generator().manual_seed(0))
    sparse_std = layer.weight.detach()[:100, :4].std()
    dense_std = layer.weight.detach()[100:].std()
    assert float(sparse_std / dense_std) == pytest.approx((400 / 4) ** 0.5, rel=0.2)


def test_maskable_layers_finds_layers_in_any_container_and_subclasses():
    class Sub(MaskedLinearLayer):
        pass

    model = nn.Sequential(nn.ModuleDict({"a": MaskedLinearLayer(3, 3)}), nn.ModuleList([Sub(3, 2)]), nn.ReLU())
    found = maskable_layers(model)
    assert len(found) == 2 and isinstance(found[1], Sub)


def test_maskable_module_prunes_every_layer():
    model = MaskedDeepFFN(10, 3, [8, 6], generator=torch.Generator().manual_seed(0))
    assert isinstance(model, MaskableModule)
    model.recompute_mask(theta=0.3)
    layers = maskable_layers(model)
    assert len(layers) == 3
    for layer in layers:
        assert torch.equal(layer.mask, layer.mask & (layer.weight.abs() > 0.3))
    assert 0 < model.density() < 1


@pytest.mark.parametrize("theta", ["x", None, float("nan"), -0.5, True])
def test_bad_thresholds_are_value_errors_everywhere(theta):
    from deepstruct.pruning import prune_by_magnitude
    from deepstruct.transform import GraphTransform

    layer = MaskedLinearLayer(3, 2)
    with pytest.raises(ValueError, match="theta must be a non-negative magnitude"):
        layer.recompute_mask(theta)
    if theta is not None:
        with pytest.raises(ValueError, match="threshold must be a non-negative magnitude"):
            prune_by_magnitude(MaskedDeepFFN(3, 2, [4]), threshold=theta)
        with pytest.raises(ValueError, match="threshold must be a non-negative magnitude"):
            GraphTransform(threshold=theta)
