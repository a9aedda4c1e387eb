"""Batched training (``train_members``) computes what one-by-one training (``train_one``) does, member by member."""

from __future__ import annotations

import copy
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from deepstruct.evo.config import TrainingConfig
from deepstruct.evo.training import (
    FlatAdam,
    TrainingFailure,
    evaluate_members,
    resolve_device,
    train_members,
    train_one,
)
from deepstruct.genomes import INITIALISERS
from deepstruct.genomes.phenotype import ACTIVATIONS, decode
from deepstruct.graph import CachedLayeredGraph
from deepstruct.sparse import MaskedDeepDAN
from deepstruct.sparse.population import PopulationDAN

FAMILIES = ["random_layered", "watts_strogatz", "erdos_renyi", "barabasi_albert", "newman_watts_strogatz"]
CONFIG = TrainingConfig(epochs=3, batch_size=32, learning_rate=0.02, weight_decay=0.01)


def _data(dtype: torch.dtype, n: int = 160, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 7))
    y = (x[:, 0] + x[:, 1] * x[:, 2] > 0).astype(np.int64) + (x[:, 3] > 1)
    return torch.from_numpy(x).to(dtype), torch.from_numpy(y)


def _models(count: int, *, layer_norm: bool, dtype: torch.dtype, seed: int = 0,
            wide: bool = False) -> list[torch.nn.Module]:
    """Genomes of every initialiser family, 1..14 vertices, 1 to many layers, every other one with mixed
    activations; decoded with their own seeds. ``wide``: only phenotypes whose layers have 2 units or more."""
    rng = np.random.default_rng(seed)
    models: list[torch.nn.Module] = []
    i = 0
    while len(models) < count:
        family = FAMILIES[i % len(FAMILIES)]
        params = {"num_layers": int(rng.integers(1, 4))} if family == "random_layered" else {}
        genome = INITIALISERS[family](7, 3, int(rng.integers(1, 15)), rng=rng, **params)
        if i % 2:
            names = sorted(ACTIVATIONS)
            for v in genome.graph.nodes:
                genome.graph.nodes[v]["activation"] = names[int(rng.integers(len(names)))]
        model = decode(genome, generator=torch.Generator().manual_seed(1000 + i), use_layer_norm=layer_norm)
        i += 1
        if not wide or all(len(vs) > 1 for vs in model.layer_vertices):
            models.append(model.to(dtype))
    return models


def _dead_layer_model(dtype: torch.dtype) -> MaskedDeepDAN:
    """Layers 1 and 2 feed no output (explicit output edges from layer 0 only): no gradient reaches them."""
    dag = CachedLayeredGraph([(0, 1), (1, 2), (3, 1)])
    return MaskedDeepDAN(7, 3, dag, use_layer_norm=True, output_edges=[(0, 0), (3, 2)],
                         generator=torch.Generator().manual_seed(5)).to(dtype)


def _trained_alone(models: list[torch.nn.Module], seeds: list[int], x: torch.Tensor, y: torch.Tensor,
                   config: TrainingConfig) -> tuple[list[torch.nn.Module], list[str | None]]:
    alone, reasons = copy.deepcopy(models), []
    for model, seed in zip(alone, seeds, strict=True):
        try:
            train_one(model, x, y, config, seed, time.monotonic() + 600)
            reasons.append(None)
        except TrainingFailure as failure:
            reasons.append(failure.reason)
    return alone, reasons


def _max_difference(a: torch.nn.Module, b: torch.nn.Module) -> float:
    diffs = [float((la.weight * la.mask - lb.weight * lb.mask).abs().max()) for la, lb in
             zip(a.matrices(), b.matrices(), strict=True)]
    diffs += [float((pa - pb).abs().max()) for (name, pa), pb in zip(a.named_parameters(), b.parameters(), strict=True)
              if "weight" not in name or "norms" in name]
    return max(diffs)


def _accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    with torch.no_grad():
        logits = model(x)
        return float((logits.argmax(dim=1) == y).float().mean()), float(F.cross_entropy(logits, y))


def _single_unit_norm(model: torch.nn.Module) -> bool:
    return model.norms is not None and any(len(vs) == 1 for vs in model.layer_vertices)


@pytest.mark.parametrize(("dtype", "layer_norm", "atol"), [(torch.float32, False, 1e-5), (torch.float64, True, 1e-9)])
def test_batched_training_equals_training_each_member_alone(dtype, layer_norm, atol):
    # float32 with layer norm is left out on purpose: a layer norm over a few nearly equal units amplifies
    # rounding (there even float32 alone and float64 alone differ by 1e-2 after 3 epochs); float64 checks it.
    models = _models(24, layer_norm=layer_norm, dtype=dtype)
    if layer_norm:
        models += [*_models(12, layer_norm=True, dtype=dtype, seed=1, wide=True), _dead_layer_model(dtype)]
    seeds = [7 * i + 3 for i in range(len(models))]
    x, y = _data(dtype)
    x_val, y_val = _data(dtype, 80, seed=1)
    alone, alone_reasons = _trained_alone(models, seeds, x, y, CONFIG)
    assert len({m.num_layers for m in models}) >= 4 and all(r is None for r in alone_reasons)
    reasons = train_members(models, seeds, x, y, CONFIG, deadline=time.monotonic() + 600)
    assert reasons == alone_reasons
    accuracy, loss = evaluate_members(models, x_val, y_val)
    compared = 0
    for k, (model, reference) in enumerate(zip(models, alone, strict=True)):
        with torch.no_grad():
            assert torch.allclose(model(x_val), reference(x_val), atol=100 * atol, rtol=0), k
        # A layer norm over one unit outputs its bias whatever its input: the true gradient of everything that
        # feeds only it is zero, which the batch computes exactly, while the model alone gets rounding noise
        # (1e-15) there that Adam, being scale-free, turns into steps of size lr. Those weights cannot change the
        # logits (checked above), so the weights are compared for the other members.
        if not _single_unit_norm(model):
            assert _max_difference(model, reference) < atol, k
            compared += 1
        acc, ref_loss = _accuracy(reference, x_val, y_val)
        assert accuracy[k] == acc and loss[k] == pytest.approx(ref_loss, abs=100 * atol)
    assert compared >= 18


def test_a_layer_that_reaches_no_output_is_left_alone_as_in_its_own_model():
    dead, live = _dead_layer_model(torch.float64), _models(1, layer_norm=True, dtype=torch.float64)[0]
    x, y = _data(torch.float64)
    before = [p.detach().clone() for p in dead.layers[1].parameters()]
    train_members([dead, live], [1, 2], x, y, CONFIG, deadline=time.monotonic() + 600)
    assert all(torch.equal(p, q) for p, q in zip(dead.layers[1].parameters(), before, strict=True))
    assert not torch.equal(dead.layers[0].weight, _dead_layer_model(torch.float64).layers[0].weight)


def test_one_adam_over_the_stacked_parameters_is_k_independent_adams():
    models = _models(6, layer_norm=True, dtype=torch.float64, seed=3, wide=True)
    x, y = _data(torch.float64, 40)
    alone = copy.deepcopy(models)
    optimisers = [torch.optim.Adam(m.parameters(), lr=0.05, weight_decay=0.1) for m in alone]
    population = PopulationDAN.from_models(models)
    stacked = torch.optim.Adam(population.parameters(), lr=0.05, weight_decay=0.1)
    for _ in range(5):
        for model, optimiser in zip(alone, optimisers, strict=True):
            optimiser.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimiser.step()
        stacked.zero_grad()
        logits = population(x)
        sum(F.cross_entropy(logits[k], y) for k in range(len(models))).backward()
        stacked.step()
    population.write_back(models)
    for model, reference in zip(models, alone, strict=True):
        assert _max_difference(model, reference) < 1e-10


def _poisoned(x: torch.Tensor, seed: int) -> tuple[list[MaskedDeepDAN], torch.Tensor]:
    """Three members; input 6 is zero but for one sample, and only member 1 reads it, with a huge weight: its
    loss overflows at the step whose batch holds that sample."""
    x = x.clone()
    x[:, 6] = 0.0
    x[seed % len(x), 6] = 1.0
    models = []
    for i in range(3):
        model = MaskedDeepDAN(7, 3, CachedLayeredGraph([(0, 2), (1, 2), (0, 3)]),
                              generator=torch.Generator().manual_seed(i))
        mask = model.layers[0].mask.clone()
        mask[:, 6] = i == 1
        model.layers[0].set_mask(mask)
        if i == 1:
            with torch.no_grad():
                model.layers[0].weight[:, 6] = 3e38
                model.layers[1].weight.fill_(1.0)
        models.append(model)
    return models, x


def test_a_diverging_member_is_frozen_at_its_last_finite_state_and_the_others_train_on():
    x, y = _data(torch.float32)
    models, x = _poisoned(x, seed=101)
    config = TrainingConfig(epochs=2, batch_size=16, learning_rate=0.02)
    seeds = [11, 12, 13]
    alone, alone_reasons = _trained_alone(models, seeds, x, y, config)
    initial = copy.deepcopy(models)
    reasons = train_members(models, seeds, x, y, config, deadline=time.monotonic() + 600)
    assert reasons[0] is None and reasons[2] is None
    assert reasons[1] is not None and reasons[1].startswith("non-finite loss (") and reasons == alone_reasons
    assert _max_difference(models[1], initial[1]) > 0  # it trained for some steps before diverging
    for model, reference in zip(models, alone, strict=True):
        assert _max_difference(model, reference) < 1e-5
    assert all(torch.isfinite(p).all() for m in models for p in m.parameters())


def test_a_member_that_is_nan_from_the_start_keeps_its_weights():
    models = _models(3, layer_norm=False, dtype=torch.float32, seed=4)
    with torch.no_grad():
        models[0].output.bias[0] = float("nan")
    x, y = _data(torch.float32)
    alone, alone_reasons = _trained_alone(models, [1, 2, 3], x, y, CONFIG)
    initial = copy.deepcopy(models[0])
    reasons = train_members(models, [1, 2, 3], x, y, CONFIG, deadline=time.monotonic() + 600)
    assert reasons == alone_reasons == ["non-finite loss (nan) in epoch 0", None, None]
    assert all(torch.equal(p, q, ) or torch.isnan(q).any() for p, q in zip(models[0].parameters(),
                                                                          initial.parameters(), strict=True))
    assert _max_difference(models[1], alone[1]) < 1e-5 and _max_difference(models[2], alone[2]) < 1e-5


def test_past_the_deadline_every_member_still_training_fails_as_it_would_alone():
    models = _models(4, layer_norm=False, dtype=torch.float32, seed=5)
    x, y = _data(torch.float32)
    alone = copy.deepcopy(models)
    for model, seed in zip(alone, range(4), strict=True):
        with pytest.raises(TrainingFailure, match=r"deadline of 120.0 s passed in epoch 0") as failure:
            train_one(model, x, y, TrainingConfig(), seed, time.monotonic() - 1.0)
    reasons = train_members(models, list(range(4)), x, y, TrainingConfig(), deadline=time.monotonic() - 1.0)
    assert reasons == [failure.value.reason] * 4
    for model, reference in zip(models, alone, strict=True):  # both stop after the first step
        assert _max_difference(model, reference) < 1e-6


def test_evaluate_members_equals_the_per_model_values():
    models = _models(8, layer_norm=True, dtype=torch.float32, seed=6)
    x, y = _data(torch.float32, 90, seed=2)
    accuracy, loss = evaluate_members(models, x, y)
    population_accuracy, _ = evaluate_members(PopulationDAN.from_models(models), x, y)
    for k, model in enumerate(models):
        acc, ref = _accuracy(model, x, y)
        assert accuracy[k] == acc == population_accuracy[k]
        assert loss[k] == pytest.approx(ref, abs=1e-5)


def test_train_members_keeps_the_models_dtype_and_the_thread_count():
    models = _models(3, layer_norm=False, dtype=torch.float64, seed=7)
    threads = torch.get_num_threads()
    x, y = _data(torch.float64)
    assert train_members(models, [1, 2, 3], x, y, CONFIG, deadline=time.monotonic() + 600, device="cpu") == [None] * 3
    assert torch.get_num_threads() == threads
    assert all(p.dtype == torch.float64 and p.device.type == "cpu" for m in models for p in m.parameters())
    assert train_members([], [], x, y, CONFIG, deadline=time.monotonic() + 600) == []
    with pytest.raises(ValueError, match="one seed per model"):
        train_members(models, [1], x, y, CONFIG, deadline=time.monotonic() + 600)


def test_resolve_device(monkeypatch):
    assert resolve_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(ValueError, match="no CUDA device"):
        resolve_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("cuda") == torch.device("cuda")
    with pytest.raises(ValueError, match="'auto', 'cpu' or 'cuda'"):
        resolve_device("tpu")


@pytest.mark.parametrize("fused", [True, False])
def test_flat_adam_is_torch_adam_on_either_path(fused):
    generator = torch.Generator().manual_seed(7)
    start = torch.randn(5, 11, dtype=torch.float64, generator=generator)
    mine, theirs = torch.nn.Parameter(start.clone()), torch.nn.Parameter(start.clone())
    adam = FlatAdam(mine, lr=0.03)
    adam.fused = fused and adam.fused
    reference = torch.optim.Adam([theirs], lr=0.03)
    for _ in range(12):
        grad = torch.randn(5, 11, dtype=torch.float64, generator=generator)
        mine.grad, theirs.grad = grad.clone(), grad.clone()
        adam.step()
        reference.step()
    assert adam.steps == 12
    assert torch.allclose(mine, theirs, rtol=0, atol=1e-12)
    mine.grad = None
    before = mine.detach().clone()
    adam.step()  # no gradient: nothing moves, the step count stays
    assert torch.equal(mine, before) and adam.steps == 12


def test_a_training_step_places_every_tensor_on_the_population_device():
    """The step of ``train_members`` (gather, forward, member losses, backward, weight decay, Adam) on the meta
    device: any tensor left on the CPU by mistake would raise a device mismatch here, as it would on CUDA."""
    from deepstruct.evo.training import _member_losses

    models = _models(3, layer_norm=True, dtype=torch.float32, seed=5)
    population = PopulationDAN.from_models(models, device="meta")
    x, y = torch.empty(20, 7, device="meta"), torch.zeros(20, dtype=torch.long, device="meta")
    index = torch.zeros(3 * 4, dtype=torch.long, device="meta")
    batch = F.embedding(index, x).view(3, -1, x.shape[1])
    losses = _member_losses(population(batch), y.index_select(0, index).view(3, -1))
    losses.sum().backward()
    population.flat.grad.addcmul_(population.flat.detach(), population.live, value=0.01)
    adam = FlatAdam(population.flat, lr=0.01)
    assert not adam.fused  # no kernel runs on meta: the elementwise formula does
    adam.step()
    assert losses.shape == (3,) and adam.exp_avg.device.type == "meta" and population.flat.grad.device.type == "meta"


def test_members_with_their_own_epochs_train_as_they_would_alone():
    models = _models(6, layer_norm=False, dtype=torch.float64)
    seeds = [11 * i + 1 for i in range(len(models))]
    epochs = [1, 3, 2, 3, 1, 4]
    x, y = _data(torch.float64)
    alone = copy.deepcopy(models)
    for model, seed, count in zip(alone, seeds, epochs, strict=True):
        train_one(model, x, y, CONFIG, seed, time.monotonic() + 600, epochs=count)
    reasons = train_members(models, seeds, x, y, CONFIG, deadline=time.monotonic() + 600, epochs=epochs)
    assert reasons == [None] * len(models)
    for k, (model, reference) in enumerate(zip(models, alone, strict=True)):
        assert _max_difference(model, reference) < 1e-9, k
    once = copy.deepcopy(alone[0])
    train_one(once, x, y, CONFIG, seeds[0], time.monotonic() + 600, epochs=2)
    assert _max_difference(once, alone[0]) > 1e-6  # the epochs were obeyed: one more epoch changes the weights
    with pytest.raises(ValueError, match="epoch count"):
        train_members(models, seeds, x, y, CONFIG, deadline=time.monotonic() + 600, epochs=[1, 2])
