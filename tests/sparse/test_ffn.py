import pytest
import torch

from deepstruct.sparse import MaskedDeepFFN


def test_shape_input_is_flattened_and_matches_int_input():
    a = MaskedDeepFFN((1, 4, 4), 3, [5], generator=torch.Generator().manual_seed(1))
    b = MaskedDeepFFN(16, 3, [5], generator=torch.Generator().manual_seed(1))
    x = torch.randn(2, 1, 4, 4)
    assert torch.allclose(a(x), b(x.reshape(2, 16)))


def test_layer_sizes_and_layer_norm():
    model = MaskedDeepFFN(784, 10, [1000, 800, 500, 200, 50, 20], use_layer_norm=True)
    shapes = [tuple(layer.weight.shape) for layer in model.layers] + [tuple(model.output.weight.shape)]
    assert shapes == [(1000, 784), (800, 1000), (500, 800), (200, 500), (50, 200), (20, 50), (10, 20)]
    assert model(torch.randn(2, 784)).shape == (2, 10)


@pytest.mark.parametrize("args", [(0, 10, [5]), (10, -1, [5]), (10, 2, [5, 0]), ((1, 0, 3), 2, [4])])
def test_non_positive_sizes_are_errors(args):
    with pytest.raises(ValueError, match="positive"):
        MaskedDeepFFN(*args)
