import io

import networkx as nx
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from deepstruct.graph import CachedLayeredGraph, orient
from deepstruct.sparse import MaskedDeepDAN, maskable_layers
from tests.strategies import random_dags


def _per_vertex_reference(model: MaskedDeepDAN, x: torch.Tensor) -> torch.Tensor:
    """The paper's formula, vertex by vertex, from the model's own weights."""
    graph = model.structure
    y: dict = {}
    for v in nx.topological_sort(graph):
        t = graph.get_layer(v)
        row = model.layer_vertices[t].index(v)
        layer = model.layers[t]
        if t == 0:
            z = x @ (layer.weight[row] * layer.mask[row]) + layer.bias[row]
        else:
            columns = model.column_vertices(t)
            z = layer.bias[row].expand(x.shape[0]).clone()
            for u in graph.predecessors(v):
                z = z + layer.weight[row, columns.index(u)] * y[u]
        y[v] = torch.relu(z)
    sinks = torch.stack([y[v] for v in model.sinks], dim=1)
    return sinks @ (model.output.weight * model.output.mask).T + model.output.bias


@given(random_dags(max_vertices=12), st.integers(1, 6), st.integers(1, 4), st.integers(0, 2**31))
@settings(max_examples=40, deadline=None)
def test_output_equals_per_vertex_formula(dag, size_in, size_out, seed):
    model = MaskedDeepDAN(size_in, size_out, dag, generator=torch.Generator().manual_seed(seed))
    x = torch.randn(3, size_in, generator=torch.Generator().manual_seed(seed + 1))
    assert torch.allclose(model(x), _per_vertex_reference(model, x), atol=1e-5)


@given(random_dags(max_vertices=14))
@settings(max_examples=40, deadline=None)
def test_generate_structure_of_a_fresh_model_is_the_structure(dag):
    structure = MaskedDeepDAN(3, 2, dag).generate_structure()
    assert set(structure.nodes) == set(dag.nodes)
    assert set(structure.edges) == set(dag.edges)


@given(random_dags(min_vertices=2, max_vertices=14), st.integers(0, 2**31))
@settings(max_examples=30, deadline=None)
def test_after_pruning_generate_structure_is_exactly_the_set_masks(dag, seed):
    model = MaskedDeepDAN(3, 2, dag, generator=torch.Generator().manual_seed(seed))
    weights = torch.cat([layer.weight.detach().abs().flatten() for layer in model.layers[1:]] or [torch.zeros(1)])
    model.recompute_mask(theta=float(weights.median()))
    kept = set()
    for t in range(1, model.num_layers):
        columns, rows = model.column_vertices(t), model.layer_vertices[t]
        for r, c in model.layers[t].mask.nonzero().tolist():
            kept.add((columns[c], rows[r]))
    structure = model.generate_structure()
    assert set(structure.edges) == kept
    assert kept <= set(dag.edges)
    assert set(structure.nodes) == set(dag.nodes)


@given(random_dags(max_vertices=10), st.integers(0, 2**31))
@settings(max_examples=25, deadline=None)
def test_masked_weights_get_zero_gradient(dag, seed):
    model = MaskedDeepDAN(4, 3, dag, generator=torch.Generator().manual_seed(seed))
    model(torch.randn(5, 4)).sum().backward()
    for layer in maskable_layers(model):
        assert torch.all(layer.weight.grad[~layer.mask] == 0)


@given(random_dags(max_vertices=10), st.integers(0, 2**31))
@settings(max_examples=20, deadline=None)
def test_state_dict_round_trip_keeps_masks(dag, seed):
    model = MaskedDeepDAN(4, 3, dag, generator=torch.Generator().manual_seed(seed))
    model.recompute_mask(theta=0.2)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    clone = MaskedDeepDAN(4, 3, dag)
    clone.load_state_dict(torch.load(buffer, weights_only=True))
    for a, b in zip(maskable_layers(model), maskable_layers(clone), strict=True):
        assert torch.equal(a.mask, b.mask)
    x = torch.randn(2, 4)
    assert torch.allclose(model(x), clone(x))
    assert set(clone.generate_structure().edges) == set(model.generate_structure().edges)


def test_every_sink_feeds_the_output_not_only_the_last_layer():
    dag = nx.DiGraph([("a", "b"), ("b", "c")])
    dag.add_node("lonely")  # a source and a sink in layer 0
    model = MaskedDeepDAN(2, 1, dag)
    assert set(model.sinks) == {"c", "lonely"}
    assert model.output.in_features == 2


def test_one_matrix_per_target_layer_over_the_feeding_layers():
    structure = orient(nx.newman_watts_strogatz_graph(100, 4, 0.5, seed=1), "coloring")
    model = MaskedDeepDAN(784, 10, structure)
    assert len(model.layers) == structure.num_layers
    for t in range(1, structure.num_layers):
        expected = sum(structure.get_layer_size(j) for j in structure.layers[:t] if structure.layer_connected(j, t))
        assert model.layers[t].in_features == expected


def test_model_does_not_alias_the_users_graph():
    dag = CachedLayeredGraph([(0, 1)])
    model = MaskedDeepDAN(2, 2, dag)
    dag.add_edge(1, 2)
    assert set(model.generate_structure().nodes) == {0, 1}


@pytest.mark.parametrize(
    ("structure", "message"),
    [
        (nx.DiGraph([(0, 1), (1, 0)]), "cycle"),
        (nx.DiGraph(), "empty"),
        (nx.Graph([(0, 1)]), "directed graph"),
    ],
)
def test_bad_structures_are_errors(structure, message):
    with pytest.raises(ValueError, match=message):
        MaskedDeepDAN(3, 2, structure)


def test_bad_sizes_are_errors():
    with pytest.raises(ValueError, match="size_output"):
        MaskedDeepDAN(3, 0, nx.DiGraph([(0, 1)]))
    with pytest.raises(ValueError, match="size_input"):
        MaskedDeepDAN(-3, 2, nx.DiGraph([(0, 1)]))


@given(random_dags(max_vertices=10), st.integers(0, 2**31))
@settings(max_examples=20, deadline=None)
def test_the_generator_is_the_only_randomness_of_the_initial_weights(dag, seed):
    state = torch.random.get_rng_state()
    a = MaskedDeepDAN(4, 3, dag, generator=torch.Generator().manual_seed(seed))
    assert torch.equal(torch.random.get_rng_state(), state), "the global torch generator was used"
    b = MaskedDeepDAN(4, 3, dag, generator=torch.Generator().manual_seed(seed))
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))
