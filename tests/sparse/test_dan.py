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


@st.composite
def interfaces(draw: st.DrawFn) -> tuple:
    """A random DAG with random sparse input, output and direct edges (any vertex, any layer)."""
    dag = draw(random_dags(max_vertices=10))
    size_in, size_out = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    vertices = sorted(dag.nodes)
    inputs = draw(st.lists(st.tuples(st.integers(0, size_in - 1), st.sampled_from(vertices)), unique=True,
                           max_size=12))
    outputs = draw(st.lists(st.tuples(st.sampled_from(vertices), st.integers(0, size_out - 1)), unique=True,
                            min_size=1, max_size=8))
    direct = draw(st.lists(st.tuples(st.integers(0, size_in - 1), st.integers(0, size_out - 1)), unique=True,
                           max_size=4))
    return dag, size_in, size_out, inputs, outputs, direct


def _explicit_reference(model: MaskedDeepDAN, x: torch.Tensor, inputs, outputs, direct) -> torch.Tensor:
    """The formula vertex by vertex from the interface edge lists and the model's weights (found through
    matrix_inputs: the documented column -> unit contract)."""
    graph = model.structure
    unit = {v: model.size_input + k for k, v in enumerate(v for vs in model.layer_vertices for v in vs)}
    y: dict = {}
    for v in nx.topological_sort(graph):
        t, row = model.vertex_position(v)
        layer = model.layers[t]
        column = {u: c for c, u in enumerate(model.matrix_inputs(t).tolist())}
        weight = layer.weight * layer.mask
        z = layer.bias[row].expand(x.shape[0]).clone()
        for u in graph.predecessors(v):
            z = z + weight[row, column[unit[u]]] * y[u]
        for i, w in inputs:
            if w == v:
                z = z + weight[row, column[i]] * x[:, i]
        y[v] = torch.relu(z)
    column = {u: c for c, u in enumerate(model.matrix_inputs(model.num_layers).tolist())}
    weight = model.output.weight * model.output.mask
    out = model.output.bias.expand(x.shape[0], -1).clone()
    for v, j in outputs:
        out[:, j] = out[:, j] + weight[j, column[unit[v]]] * y[v]
    for i, j in direct:
        out[:, j] = out[:, j] + weight[j, column[i]] * x[:, i]
    return out


@given(interfaces(), st.integers(0, 2**31))
@settings(max_examples=40, deadline=None)
def test_explicit_interface_computes_exactly_its_edges(case, seed):
    dag, size_in, size_out, inputs, outputs, direct = case
    model = MaskedDeepDAN(size_in, size_out, dag, generator=torch.Generator().manual_seed(seed),
                          input_edges=inputs, output_edges=outputs, direct_edges=direct)
    x = torch.randn(3, size_in, generator=torch.Generator().manual_seed(seed + 1))
    assert torch.allclose(model(x), _explicit_reference(model, x, inputs, outputs, direct), atol=1e-5)
    # the masks hold exactly the given connections, read back by edge_arrays / interface_arrays
    arrays = model.interface_arrays()
    assert set(zip(*(a.tolist() for a in arrays["input"][:2]), strict=True)) == set(inputs)
    assert set(zip(*(a.tolist() for a in arrays["output"][:2]), strict=True)) == set(outputs)
    assert set(zip(*(a.tolist() for a in arrays["direct"][:2]), strict=True)) == set(direct)
    assert set(model.generate_structure().edges) == set(dag.edges)
    assert sum(int(layer.mask.sum()) for layer in model.matrices()) == (
        len(inputs) + len(outputs) + len(direct) + dag.number_of_edges())


@given(interfaces(), st.integers(0, 2**31))
@settings(max_examples=30, deadline=None)
def test_matrices_and_matrix_inputs_describe_the_whole_computation(case, seed):
    """The data contract: evaluating matrices() over a global unit vector, column c of matrix t reading unit
    matrix_inputs(t)[c], rows of layer t writing its units in row order, gives the model's output."""
    dag, size_in, size_out, inputs, outputs, direct = case
    for explicit in (False, True):
        kwargs = dict(input_edges=inputs, output_edges=outputs, direct_edges=direct) if explicit else {}
        model = MaskedDeepDAN(size_in, size_out, dag, generator=torch.Generator().manual_seed(seed), **kwargs)
        x = torch.randn(4, size_in, generator=torch.Generator().manual_seed(seed + 1))
        units = torch.zeros(4, size_in + dag.number_of_nodes())
        units[:, :size_in] = x
        start = size_in
        matrices = model.matrices()
        for t, vertices in enumerate(model.layer_vertices):
            layer = matrices[t]
            z = units[:, model.matrix_inputs(t)] @ (layer.weight * layer.mask).T + layer.bias
            for module, rows in model.activation_groups(t):
                z[:, rows] = module(z[:, rows])
            units[:, start:start + len(vertices)] = z
            start += len(vertices)
        last = matrices[-1]
        out = units[:, model.matrix_inputs(model.num_layers)] @ (last.weight * last.mask).T + last.bias
        assert torch.allclose(out, model(x), atol=1e-5)


def test_the_default_interface_is_the_papers():
    dag = nx.DiGraph([("a", "b"), ("b", "c")])
    dag.add_node("lonely")
    model = MaskedDeepDAN(3, 2, dag)
    explicit = MaskedDeepDAN(3, 2, dag, input_edges=[(i, v) for v in ("a", "lonely") for i in range(3)],
                             output_edges=[(v, j) for v in ("c", "lonely") for j in range(2)])
    explicit.load_state_dict(model.state_dict())
    x = torch.randn(5, 3)
    assert torch.equal(model(x), explicit(x))
    assert all(torch.equal(a.mask, b.mask) for a, b in zip(model.matrices(), explicit.matrices(), strict=True))


def test_bad_interface_edges_are_errors():
    dag = nx.DiGraph([(0, 1)])
    with pytest.raises(ValueError, match="input edge .* not an index"):
        MaskedDeepDAN(3, 2, dag, input_edges=[(3, 0)])
    with pytest.raises(ValueError, match="not in the structure"):
        MaskedDeepDAN(3, 2, dag, input_edges=[(0, 7)])
    with pytest.raises(ValueError, match="output edge .* not an index"):
        MaskedDeepDAN(3, 2, dag, output_edges=[(1, 2)])
    with pytest.raises(ValueError, match="reads nothing"):
        MaskedDeepDAN(3, 2, dag, output_edges=[])
    model = MaskedDeepDAN(3, 2, dag, output_edges=[], direct_edges=[(0, 1)])  # only a linear path
    assert model(torch.ones(1, 3)).shape == (1, 2)


@given(interfaces())
@settings(max_examples=20, deadline=None)
def test_extraction_reads_the_explicit_interface(case):
    from deepstruct.transform import extract_masked_dan

    dag, size_in, size_out, inputs, outputs, direct = case
    model = MaskedDeepDAN(size_in, size_out, dag, input_edges=inputs, output_edges=outputs, direct_edges=direct)
    edges = set(extract_masked_dan(model).to_networkx().edges)
    expected = ({(("input", i), v) for i, v in inputs} | {(v, ("output", j)) for v, j in outputs}
                | {(("input", i), ("output", j)) for i, j in direct} | set(dag.edges))
    assert edges == expected
