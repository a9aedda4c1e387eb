"""Saliency pruning: exact counts per strategy, the lowest saliencies go, pruned connections stay pruned."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from deepstruct.pruning import (
    PruningStrategy,
    find_network_threshold,
    magnitude_class_uniform,
    prune_layer_by_saliency,
    prune_network_by_saliency,
    random_pruning,
    set_random_masks,
    set_random_saliency,
)
from deepstruct.sparse import MaskedDeepFFN, MaskedLinearLayer


def _model(seed: int) -> MaskedDeepFFN:
    model = MaskedDeepFFN(6, 3, [5, 4], generator=torch.Generator().manual_seed(seed))
    model.apply(lambda m: set_random_masks(m, generator=torch.Generator().manual_seed(seed)))
    set_random_saliency(model, generator=torch.Generator().manual_seed(seed + 1))
    return model


def _state(model):
    layers = model.maskable_children
    masks = torch.cat([layer.mask.reshape(-1) for layer in layers])
    scores = torch.cat([layer.saliency.reshape(-1) for layer in layers])
    return masks, scores


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), strategy=st.sampled_from(list(PruningStrategy)), fraction=st.floats(0, 1))
def test_network_pruning_removes_exactly_the_lowest_set_connections(seed, strategy, fraction):
    model = _model(seed)
    before, scores = _state(model)
    active = scores[before].double().sort().values
    value = {PruningStrategy.PERCENTAGE: 100 * fraction, PruningStrategy.ABSOLUTE: int(fraction * 80),
             PruningStrategy.BUCKET: float(fraction * active.sum())}[strategy]
    prune_network_by_saliency(model, value, strategy=strategy)
    after, _ = _state(model)
    assert not (after & ~before).any()  # nothing revived
    pruned = scores[before & ~after].double()
    expected = {PruningStrategy.PERCENTAGE: round(fraction * active.numel()),
                PruningStrategy.ABSOLUTE: min(int(fraction * 80), active.numel())}.get(strategy)
    if expected is not None:
        assert pruned.numel() == expected
    else:
        assert pruned.sum() <= value + 1e-9
        assert pruned.numel() == active.numel() or pruned.sum() + active[pruned.numel()] > value
    if pruned.numel() and (after & before).any():
        assert pruned.max() <= scores[after].double().min()


def test_layer_pruning_applies_the_value_to_each_layer():
    model = MaskedDeepFFN(10, 2, [5])
    prune_layer_by_saliency(model, 40)
    assert [layer.get_weight_count() for layer in model.maskable_children] == [30, 6]
    magnitude_class_uniform(model, 50)
    assert [layer.get_weight_count() for layer in model.maskable_children] == [15, 3]
    prune_layer_by_saliency(model, 6, strategy=PruningStrategy.ABSOLUTE)
    assert sum(layer.get_weight_count() for layer in model.maskable_children) == 12


def test_threshold_and_random_pruning_follow_the_generator():
    layer = MaskedLinearLayer(10, 10)
    threshold = find_network_threshold(layer, 30, PruningStrategy.PERCENTAGE)
    prune_network_by_saliency(layer, 30)
    assert layer.saliency[layer.mask].min() >= threshold
    a, b = MaskedLinearLayer(8, 8), MaskedLinearLayer(8, 8)
    for m in (a, b):
        random_pruning(m, 50, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a.mask, b.mask) and a.get_weight_count() == 32


@pytest.mark.parametrize("value, strategy, message", [
    (120, PruningStrategy.PERCENTAGE, r"\[0, 100\]"), (-1, PruningStrategy.BUCKET, ">= 0"),
    (2.5, PruningStrategy.ABSOLUTE, "number of connections"), (np.nan, PruningStrategy.BUCKET, "finite"),
    (10, "percentage", "PruningStrategy"),
])
def test_bad_values_are_refused(value, strategy, message):
    with pytest.raises(ValueError, match=message):
        prune_network_by_saliency(MaskedLinearLayer(3, 3), value, strategy=strategy)
