import copy

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from deepstruct.batch_plan import MAX_DEPTH_PADDING
from deepstruct.genomes.phenotype import ACTIVATIONS, VertexActivationDAN
from deepstruct.graph import CachedLayeredGraph
from deepstruct.sparse import MaskedDeepDAN
from deepstruct.sparse.population import MemberShape, PopulationDAN, padded_weights, plan_batches
from tests.strategies import random_dags

NAMES = sorted(ACTIVATIONS)


@st.composite
def members(draw: st.DrawFn, size_in: int = 5, size_out: int = 3) -> MaskedDeepDAN:
    """A random member: any DAG, with or without layer norm, one or mixed activations, sometimes an explicit
    sparse interface (inputs into any layer, outputs from any vertex, input-to-output edges)."""
    dag = draw(random_dags(max_vertices=10))
    seed = draw(st.integers(0, 2**31))
    norm = draw(st.booleans())
    vertices = sorted(dag.nodes)
    kwargs = {}
    if draw(st.booleans()):
        kwargs["input_edges"] = draw(st.lists(st.tuples(st.integers(0, size_in - 1), st.sampled_from(vertices)),
                                              unique=True, max_size=8))
        kwargs["output_edges"] = draw(st.lists(st.tuples(st.sampled_from(vertices), st.integers(0, size_out - 1)),
                                               unique=True, min_size=1, max_size=6))
        kwargs["direct_edges"] = draw(st.lists(st.tuples(st.integers(0, size_in - 1), st.integers(0, size_out - 1)),
                                               unique=True, max_size=3))
    generator = torch.Generator().manual_seed(seed)
    if draw(st.booleans()):
        activations = {v: draw(st.sampled_from(NAMES)) for v in vertices}
        model = VertexActivationDAN(size_in, size_out, dag, activations, "relu", use_layer_norm=norm,
                                    generator=generator)
    else:
        model = MaskedDeepDAN(size_in, size_out, dag, norm, ACTIVATIONS[draw(st.sampled_from(NAMES))],
                              generator=generator, **kwargs)
    if norm:  # non-trivial affine parameters
        with torch.no_grad():
            for layer_norm in model.norms:
                layer_norm.weight.uniform_(0.5, 1.5, generator=generator)
                layer_norm.bias.uniform_(-0.5, 0.5, generator=generator)
    return model


def _chain(n: int, size_in: int = 5, size_out: int = 3, **kwargs) -> MaskedDeepDAN:
    """A chain of ``n`` vertices: ``n`` layers of one unit each."""
    graph = CachedLayeredGraph()
    graph.add_nodes_from(range(n))
    graph.add_edges_from((i, i + 1) for i in range(n - 1))
    return MaskedDeepDAN(size_in, size_out, graph, generator=torch.Generator().manual_seed(n), **kwargs)


@given(st.lists(members(), min_size=1, max_size=6), st.integers(0, 2**31))
@settings(max_examples=25, deadline=None)
def test_every_member_computes_its_own_network(models, seed):
    population = PopulationDAN.from_models(models)
    generator = torch.Generator().manual_seed(seed)
    shared = torch.randn(4, 5, generator=generator)
    own = torch.randn(len(models), 3, 5, generator=generator)
    with torch.no_grad():
        out_shared, out_own = population(shared), population(own)
        for k, model in enumerate(models):
            assert torch.allclose(out_shared[k], model(shared), atol=1e-5, rtol=1e-4)
            assert torch.allclose(out_own[k], model(own[k]), atol=1e-5, rtol=1e-4)


@given(st.lists(members(), min_size=1, max_size=5), st.integers(0, 2**31))
@settings(max_examples=20, deadline=None)
def test_gradients_are_each_members_own_and_padding_gets_none(models, seed):
    models = [m.double() for m in models]
    x = torch.randn(len(models), 6, 5, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    y = torch.randint(0, 3, (len(models), 6), generator=torch.Generator().manual_seed(seed))
    population = PopulationDAN.from_models(models)
    logits = population(x)
    sum(F.cross_entropy(logits[k], y[k]) for k in range(len(models))).backward()
    assert not torch.any(population.flat.grad[population.mask == 0])
    # one plain gradient step on both sides, compared through write_back
    with torch.no_grad():
        for p in population.parameters():
            if p.grad is not None:
                p -= 0.1 * p.grad
    stepped = copy.deepcopy(models)
    for k, model in enumerate(stepped):
        F.cross_entropy(model(x[k]), y[k]).backward()
        with torch.no_grad():
            for p in model.parameters():
                if p.grad is not None:
                    p -= 0.1 * p.grad
    written = copy.deepcopy(models)
    population.write_back(written)
    for a, b in zip(written, stepped, strict=True):
        for (name, pa), pb in zip(a.named_parameters(), b.parameters(), strict=True):
            assert torch.allclose(pa, pb, atol=1e-12), name


def test_write_back_of_an_untrained_population_restores_every_parameter_exactly():
    models = [_chain(3, use_layer_norm=True), _chain(1), _chain(5)]
    population = PopulationDAN.from_models(models)
    blank = copy.deepcopy(models)
    for model in blank:
        with torch.no_grad():
            for p in model.parameters():
                p.zero_()
    population.write_back(blank)
    for a, b in zip(blank, models, strict=True):
        for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
            assert torch.equal(pa, pb)


def test_padding_is_zero_and_widths_are_the_widest_member():
    models = [_chain(1), _chain(4)]
    population = PopulationDAN(models)
    assert population.num_layers == 4
    segments = population.segments()
    # only layer 0 reads the inputs (in both members): the projection has its one row, the biases all 4 + 3
    assert population.layout.projected == (0,)
    assert segments["input"][2] == (5, 1) and segments["bias"][2] == (1, 7)
    assert [segments[f"hidden_{p}"][2] for p in (1, 2, 3)] == [(1, 1)] * 3 and "hidden_0" not in segments
    assert segments["hidden_4"][2] == (2, 3)  # the output reads layer 0 (member 0) and layer 3 (member 1)
    for name in ("hidden_2", "hidden_3"):  # member 0 (one layer) has nothing there
        assert torch.all(population.view(population.flat, name)[0] == 0)
        assert torch.all(population.view(population.mask, name)[0] == 0)
    weights = sum(population.view(population.flat, n).numel() for n in segments if n != "bias")
    assert padded_weights(models) == population.padded_weights() == weights


def test_write_back_rejects_other_models():
    population = PopulationDAN([_chain(2), _chain(3)])
    with pytest.raises(ValueError, match="needs 2 models"):
        population.write_back([_chain(2)])
    with pytest.raises(ValueError, match="shape of member 1"):
        population.write_back([_chain(2), _chain(4)])


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="share inputs and outputs"):
        PopulationDAN([_chain(2), _chain(2, size_in=4)])
    with pytest.raises(ValueError, match="at least one member"):
        PopulationDAN([])
    population = PopulationDAN([_chain(2), _chain(3)])
    with pytest.raises(ValueError, match="expected x of shape"):
        population(torch.zeros(3, 3, 5))
    with pytest.raises(ValueError, match="expected x of shape"):
        population(torch.zeros(3, 4))
    stateful = _chain(2)
    stateful.activation = torch.nn.PReLU()
    with pytest.raises(ValueError, match="stateless"):
        PopulationDAN([stateful])


def test_a_population_on_the_meta_device_has_the_shapes_and_no_data():
    models = [_chain(2, use_layer_norm=True), _chain(3)]
    population = PopulationDAN.from_models(models, device="meta", dtype=torch.float64)
    assert all(p.device.type == "meta" and p.dtype == torch.float64 for p in population.parameters())
    assert population.flat.shape == (2, population.mask.shape[1])
    assert {n: shape for n, (_, _, shape) in population.segments().items() if n.startswith("hidden")} == {
        "hidden_1": (1, 1), "hidden_2": (1, 1), "hidden_3": (2, 3)}
    assert models[0].matrices()[0].weight.device.type == "cpu"


def test_members_with_and_without_layer_norm_and_without_bias_share_a_population():
    plain, normed = _chain(3), _chain(2, use_layer_norm=True)
    no_bias = _chain(2)
    no_bias.output.bias = None
    x = torch.randn(4, 5)
    out = PopulationDAN([plain, normed, no_bias])(x)
    for k, model in enumerate([plain, normed, no_bias]):
        assert torch.allclose(out[k], model(x), atol=1e-6)


def test_vertex_activation_groups_cover_every_row_once():
    dag = CachedLayeredGraph([(0, 2), (1, 2), (3, 2)])
    model = VertexActivationDAN(3, 2, dag, {0: "tanh", 3: "sigmoid"}, "relu")
    rows = sorted(r for _, rs in model.activation_groups(0) for r in rs)
    assert rows == list(range(3))
    names = {type(m).__name__ for m, _ in model.activation_groups(0)}
    assert names == {"ReLU", "Tanh", "Sigmoid"}


def _shape(width: int, depth: int = 1, size_in: int = 4) -> MemberShape:
    return MemberShape(size_in, 2, (width,) * depth, ((-1,), *((t,) for t in range(depth))),
                       (size_in, *(width,) * depth))


@given(st.lists(st.tuples(st.integers(1, 30), st.integers(1, 4), st.sampled_from([4, 6])), min_size=1, max_size=25),
       st.integers(1, 8), st.integers(1, 3000), st.integers(1, 3))
@settings(max_examples=60, deadline=None)
def test_plan_batches_partitions_within_the_limits(specs, max_members, budget, repeats):
    shapes = [_shape(w, d, i) for w, d, i in specs]
    plan = plan_batches(shapes, max_members, budget, repeats=repeats)
    assert sorted(i for batch in plan for i in batch) == list(range(len(shapes)))
    for batch in plan:
        assert len(batch) * repeats <= max(max_members, repeats) and batch == sorted(batch)
        assert len({shapes[i].num_inputs for i in batch}) == 1
        assert len(batch) == 1 or padded_weights([shapes[i] for i in batch for _ in range(repeats)]) <= budget
        depths = [shapes[i].num_layers for i in batch]
        assert len(batch) == 1 or len(batch) * max(depths) <= MAX_DEPTH_PADDING * sum(depths)
    assert plan_batches(shapes, max_members, budget, repeats=repeats) == plan
    if repeats == 1:
        assert plan_batches(shapes, max_members, budget) == plan


def test_plan_batches_groups_similar_sizes():
    widths = [30, 2, 29, 3, 31, 1]
    plan = plan_batches([_shape(w) for w in widths], 3, 10**6)
    assert plan == [[1, 3, 5], [0, 2, 4]]
    mixed = padded_weights([_shape(widths[i]) for i in [0, 1, 2]]) + padded_weights(
        [_shape(widths[i]) for i in [3, 4, 5]])
    assert sum(padded_weights([_shape(widths[i]) for i in b]) for b in plan) < mixed


def test_plan_batches_keeps_shallow_members_apart_from_deep_ones():
    shallow, deep, middle = [_shape(8)] * 6, [_shape(3, depth=7)] * 2, [_shape(3, depth=3)] * 3 + [_shape(3, depth=4)]
    plan = plan_batches(shallow + deep + middle, 20, 10**6)
    assert plan == [[0, 1, 2, 3, 4, 5], [8, 9, 10, 11], [6, 7]]  # depths 3 and 4 share a batch, 1 and 7 do not


def test_plan_batches_checks_its_limits():
    with pytest.raises(ValueError, match="max_members"):
        plan_batches([_shape(2)], 0, 10)
    with pytest.raises(ValueError, match="max_padded_weights"):
        plan_batches([_shape(2)], 2, 0)
    with pytest.raises(ValueError, match="repeats"):
        plan_batches([_shape(2)], 2, 10, repeats=0)


def test_member_shape_of_a_model():
    model = MaskedDeepDAN(3, 2, CachedLayeredGraph([("a", "b"), ("a", "c")]))
    shape = MemberShape.of(model)
    assert shape == MemberShape(3, 2, (1, 2), ((-1,), (0,), (1,)), (3, 1, 2))
    assert shape.weights == 3 + 2 + 4


def test_wide_rows_are_padded_to_the_granule_and_compute_each_members_own_network():
    """Widths and outputs from MIN_PADDED up are padded (10 outputs -> 16 rows, 9..13 units -> 16); the padding
    is zero, masked, and invisible in the logits, with and without layer norm."""
    from deepstruct.batch_plan import MIN_PADDED, ROW_GRANULE

    models = []
    for width, norm in ((9, False), (13, True), (4, False)):
        graph = CachedLayeredGraph()
        graph.add_edges_from((u, width + v) for u in range(width) for v in range(3))  # width units -> 3 units
        models.append(MaskedDeepDAN(6, 10, graph, norm, generator=torch.Generator().manual_seed(width)))
    population = PopulationDAN(models)
    rows = population.layout.rows
    assert rows[0] == 16 and rows[-1] == 16 and rows[1] == 3  # a 3-unit layer stays narrow
    assert all(r % ROW_GRANULE == 0 for r in rows if r >= MIN_PADDED)
    x = torch.randn(7, 6)
    logits = population(x)
    assert logits.shape == (3, 7, 10)
    for k, model in enumerate(models):
        assert torch.allclose(logits[k], model(x), atol=1e-5)
    padding = population.view(population.mask, "hidden_2")[:, :, 10:]  # output rows past the 10 logits
    assert padding.numel() and not torch.any(padding)
    assert padded_weights(models) == population.padded_weights()
