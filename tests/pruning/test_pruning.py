"""Tests of deepstruct.pruning: magnitude/random pruning, density report, iterative pruning with rewind."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from deepstruct.pruning import (
    density_report,
    format_density_report,
    iterative_magnitude_pruning,
    masks_of,
    prune_by_magnitude,
    prune_random,
    rewind_weights,
    snapshot_weights,
)
from deepstruct.sparse import MaskedDeepFFN, MaskedLinearLayer


def ffn(seed: int = 0) -> MaskedDeepFFN:
    return MaskedDeepFFN(6, 3, [8, 5], generator=torch.Generator().manual_seed(seed))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), amount=st.floats(0, 1), scope=st.sampled_from(["layer", "global"]))
def test_magnitude_keeps_the_largest_and_never_revives(seed: int, amount: float, scope: str) -> None:
    model = ffn(seed)
    prune_random(model, 0.3, generator=np.random.default_rng(seed))
    before = masks_of(model)
    prune_by_magnitude(model, amount, scope=scope)
    after = masks_of(model)
    layers = dict(model.named_modules())
    total_before = sum(int(m.sum()) for m in before.values())
    total_after = sum(int(m.sum()) for m in after.values())
    if scope == "global":
        assert total_before - total_after == round(amount * total_before)
        kept = torch.cat([layers[n].weight.detach().abs()[after[n]] for n in after])
        dropped = torch.cat([layers[n].weight.detach().abs()[before[n] & ~after[n]] for n in after])
        if kept.numel() and dropped.numel():
            assert dropped.max() <= kept.min()
    for name in before:
        assert not bool((after[name] & ~before[name]).any()), "a pruned weight was revived"
        if scope == "layer":
            n = int(before[name].sum())
            assert n - int(after[name].sum()) == round(amount * n)
            w = layers[name].weight.detach().abs()
            kept, dropped = w[after[name]], w[before[name] & ~after[name]]
            if kept.numel() and dropped.numel():
                assert dropped.max() <= kept.min()


def test_threshold_and_include_output() -> None:
    model = ffn()
    prune_by_magnitude(model, threshold=0.3, include_output=False)
    for layer in model.layers:
        assert bool((layer.weight.detach().abs()[layer.mask] > 0.3).all())
    assert bool(model.output.mask.all())


@pytest.mark.parametrize("kwargs", [{}, {"amount": 0.5, "threshold": 0.1}, {"amount": 1.5},
                                    {"amount": 0.5, "scope": "net"}, {"threshold": -1.0}])
def test_bad_arguments(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        prune_by_magnitude(ffn(), **kwargs)


def test_no_masked_layers_is_an_error() -> None:
    with pytest.raises(ValueError, match="no masked layers"):
        prune_by_magnitude(torch.nn.Linear(3, 2), 0.5)


def test_random_is_reproducible_and_exact() -> None:
    a, b = ffn(), ffn()
    prune_random(a, 0.6, generator=np.random.default_rng(7))
    prune_random(b, 0.6, generator=np.random.default_rng(7))
    for (na, ma), (nb, mb) in zip(masks_of(a).items(), masks_of(b).items(), strict=True):
        assert na == nb and torch.equal(ma, mb)
        assert ma.numel() - int(ma.sum()) == round(0.6 * ma.numel())
    prune_random(a, 0.5, generator=torch.Generator().manual_seed(1), scope="global")
    with pytest.raises(ValueError, match="generator"):
        prune_random(a, 0.5, generator=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="generator"):
        prune_random(a, 0.0, generator=None)  # type: ignore[arg-type]  # refused even when nothing is drawn


def test_pruned_weights_stay_pruned_through_training() -> None:
    model = ffn()
    prune_by_magnitude(model, 0.5)
    masks = masks_of(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        model(torch.randn(4, 6, generator=torch.Generator().manual_seed(0))).sum().backward()
        for layer in model.layers:
            assert bool((layer.weight.grad[~layer.mask] == 0).all())
        opt.step()
    assert all(torch.equal(masks[k], v) for k, v in masks_of(model).items())


def test_density_report() -> None:
    model = ffn()
    model.layers[0].mask[0, :] = False
    rows = density_report(model)
    assert [r["layer"] for r in rows] == ["layers.0", "layers.1", "output"]
    assert rows[0]["active"] == 42 and rows[0]["total"] == 48 and rows[0]["density"] == pytest.approx(42 / 48)
    assert "total" in format_density_report(rows)
    assert density_report(MaskedLinearLayer(2, 2))[0]["layer"] == "MaskedLinearLayer"


@pytest.mark.parametrize("control", ["rewind", "reinit", "random"])
def test_iterative_magnitude_pruning_rewinds(control: str) -> None:
    model = ffn()
    init = snapshot_weights(model)
    seen: list[dict[str, torch.Tensor]] = []

    def train(m: torch.nn.Module) -> float:
        seen.append(snapshot_weights(m))
        with torch.no_grad():
            for p in m.parameters():
                p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(len(seen))))
        return float(len(seen))

    gen = torch.Generator().manual_seed(3) if control == "reinit" else np.random.default_rng(3)
    history = iterative_magnitude_pruning(model, train, rounds=3, rate=0.5, output_rate=0.25,
                                          control=control, generator=None if control == "rewind" else gen)
    assert [h.round for h in history] == [0, 1, 2, 3] and [h.result for h in history] == [1.0, 2.0, 3.0, 4.0]
    assert all(a.density > b.density for a, b in zip(history, history[1:], strict=False))
    hidden = int(model.layers[0].mask.sum()) / model.layers[0].mask.numel()
    assert hidden == pytest.approx(0.5 ** 3, abs=0.02)
    assert int(model.output.mask.sum()) == 3 * 5 - round(0.25 * 15) - round(0.25 * 11) - round(0.25 * 8)
    for snap in seen[1:]:
        for key, value in init.items():
            same = torch.equal(snap[key], value)
            assert same == (control != "reinit")
    for a, b in zip(history, history[1:], strict=False):
        for k in a.masks:
            assert not bool((b.masks[k] & ~a.masks[k]).any())


def test_iterative_bad_arguments() -> None:
    with pytest.raises(ValueError, match="generator"):
        iterative_magnitude_pruning(ffn(), lambda m: 0, rounds=1, control="random")
    with pytest.raises(ValueError, match="rounds"):
        iterative_magnitude_pruning(ffn(), lambda m: 0, rounds=-1)


def test_rewinding_to_a_state_dict_never_revives_pruned_weights() -> None:
    model = ffn()
    initial = {k: v.clone() for k, v in model.state_dict().items()}  # masks included
    history = iterative_magnitude_pruning(model, lambda m: None, rounds=2, rate=0.5, initial=initial)
    assert history[0].density > history[1].density > history[2].density
    prune_by_magnitude(model, 0.5)
    pruned = masks_of(model)
    rewind_weights(model, initial)
    assert all(torch.equal(pruned[name], mask) for name, mask in masks_of(model).items())
    assert torch.equal(model.layers[0].weight, initial["layers.0.weight"])
