import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings

from deepstruct.graph import AcyclicLayeredGraph, CachedLayeredGraph, adjacency_dicts, compute_layers, orient
from tests.strategies import random_dags


def _reference_layers(graph: nx.DiGraph) -> dict:
    layers = {}
    for v in nx.topological_sort(graph):
        layers[v] = max((layers[u] + 1 for u in graph.predecessors(v)), default=0)
    return layers


@given(random_dags(max_vertices=25))
@settings(max_examples=60, deadline=None)
def test_layer_is_longest_path_from_a_source(dag):
    layered = CachedLayeredGraph.from_graph(dag)
    expected = _reference_layers(dag)
    assert {v: layered.get_layer(v) for v in dag} == expected
    for u, v in dag.edges:
        assert layered.get_layer(u) < layered.get_layer(v)
    assert sum(layered.get_layer_size(t) for t in layered.layers) == dag.number_of_nodes()
    assert layered.num_layers == max(expected.values()) + 1


@given(random_dags(max_vertices=20))
@settings(max_examples=40, deadline=None)
def test_layer_connection_sizes_count_edges(dag):
    layered = CachedLayeredGraph.from_graph(dag)
    total = 0
    for s in layered.layers:
        for t in layered.layers:
            size = layered.layer_connection_size(s, t)
            assert layered.layer_connected(s, t) == (size > 0)
            if size:
                assert s < t
            total += size
    assert total == dag.number_of_edges()


def test_members_on_a_small_graph():
    g = CachedLayeredGraph([("x", "y"), ("y", "z"), ("x", "z"), ("w", "z")])
    assert g.layers == [0, 1, 2]
    assert g.first_layer == 0 and g.last_layer == 2
    assert g.first_layer_size == 2 and g.last_layer_size == 1
    assert g.get_vertices(0) == ["x", "w"]
    assert g.layer_connection_size(0, 2) == 2
    assert not g.layer_connected(1, 0)
    with pytest.raises(ValueError, match="vertex 'nope'"):
        g.get_layer("nope")
    with pytest.raises(ValueError, match="layer 5 does not exist"):
        g.get_vertices(5)


def test_tuple_vertex_ids():
    g = CachedLayeredGraph([((0, 0), (1, 0)), ((1, 0), (2, "a"))])
    assert g.get_layer((2, "a")) == 2


@pytest.mark.parametrize(
    "mutate",
    [
        lambda g: g.add_edge(2, 9),
        lambda g: g.add_edges_from([(2, 9)]),
        lambda g: g.add_weighted_edges_from([(2, 9, 0.5)]),
        lambda g: g.remove_edge(1, 2),
        lambda g: g.remove_edges_from([(1, 2)]),
        lambda g: g.remove_node(1),
        lambda g: g.remove_nodes_from([1]),
        lambda g: g.add_node(9),
        lambda g: g.add_nodes_from([9]),
        lambda g: g.update(edges=[(2, 9)]),
        lambda g: nx.relabel_nodes(g, {2: 7}, copy=False),
        lambda g: g.clear_edges(),
    ],
)
def test_every_mutation_invalidates_the_layer_index(mutate):
    g = CachedLayeredGraph([(0, 1), (1, 2)])
    assert g.num_layers == 3
    mutate(g)
    fresh = CachedLayeredGraph.from_graph(nx.DiGraph(g))
    assert g.num_layers == fresh.num_layers
    assert {v: g.get_layer(v) for v in g} == {v: fresh.get_layer(v) for v in fresh}


def test_cycle_is_named():
    g = CachedLayeredGraph([(0, 1), (1, 2), (2, 0), (2, 3)])
    with pytest.raises(ValueError, match=r"cycle: .*0.*1.*2"):
        _ = g.num_layers
    with pytest.raises(ValueError, match="cycle"):
        compute_layers(g.succ, g.pred)


@given(random_dags(max_vertices=20))
@settings(max_examples=40, deadline=None)
def test_compute_layers_of_a_graph_equals_that_of_its_adjacency(dag):
    expected = _reference_layers(dag)
    assert compute_layers(dag) == expected
    assert compute_layers(dag.succ, dag.pred) == expected
    assert compute_layers(*adjacency_dicts(dag)) == expected


def test_compute_layers_names_the_cycle_of_a_graph_and_refuses_undirected_ones():
    with pytest.raises(ValueError, match=r"cycle: .*0.*1.*2"):
        compute_layers(nx.DiGraph([(0, 1), (1, 2), (2, 0)]))
    with pytest.raises(ValueError, match="undirected"):
        compute_layers(nx.Graph([(0, 1)]))
    with pytest.raises(TypeError, match="directed graph"):
        compute_layers({0: {}})


@pytest.mark.parametrize("cls", [nx.DiGraph, CachedLayeredGraph, AcyclicLayeredGraph])
def test_adjacency_dicts_are_the_graphs_own_neighbourhoods(cls):
    g = cls([(0, 1, {"weight": 0.5}), (0, 2), (2, 1)])
    g.add_node(3)
    succ, pred = adjacency_dicts(g)
    assert list(succ) == list(pred) == list(g)
    assert {v: dict(n) for v, n in succ.items()} == {v: dict(g.succ[v]) for v in g}
    assert {v: dict(n) for v, n in pred.items()} == {v: dict(g.pred[v]) for v in g}
    assert succ[0][1] is pred[1][0] is g.edges[0, 1]  # the edge attribute dicts themselves
    g.add_edge(3, 0)  # the inner dicts follow the graph (the outer ones list the vertices of the call)
    assert 0 in succ[3] and 3 in pred[0]
    assert type(g) is cls and g.number_of_edges() == 4


def test_empty_graph_is_an_error():
    with pytest.raises(ValueError, match="empty"):
        _ = CachedLayeredGraph().num_layers


def test_labeled_dag_refuses_cycles_and_keeps_its_edges():
    dag = AcyclicLayeredGraph([(0, 1), (1, 2)])
    with pytest.raises(ValueError, match="cycle"):
        dag.add_edge(2, 0)
    with pytest.raises(ValueError, match="cycle"):
        dag.add_edges_from([(0, 1, {"weight": 2.0}), (2, 3), (3, 0)])
    assert set(dag.edges) == {(0, 1), (1, 2)} and set(dag.nodes) == {0, 1, 2}  # all or nothing
    assert dag.edges[0, 1] == {} and dag.num_layers == 3
    with pytest.raises(ValueError, match="self-loop"):
        dag.add_edge(1, 1)


def test_large_graph_layers():
    g = nx.gnm_random_graph(20_000, 60_000, seed=3)
    dag = orient(g, "index")
    assert dag.num_layers == max(_reference_layers(dag).values()) + 1


@pytest.mark.parametrize("method", ["index", "random", "bfs", "coloring"])
def test_orientations_are_acyclic_and_keep_edges(method):
    g = nx.newman_watts_strogatz_graph(60, 4, 0.5, seed=2)
    dag = orient(g, method, rng=np.random.default_rng(0))
    assert nx.is_directed_acyclic_graph(dag)
    assert {frozenset(e) for e in dag.edges} == {frozenset(e) for e in g.edges}


def test_paper_example_index_orientation_is_a_path_and_coloring_is_shallow():
    g = nx.newman_watts_strogatz_graph(100, 4, 0.5, seed=7)
    assert orient(g, "index").num_layers == 100
    colored = orient(g, "coloring")
    assert colored.num_layers <= max(d for _, d in g.degree) + 1
    assert colored.num_layers < 10


def test_permutation_orientation_follows_the_order_and_checks_it():
    g = nx.path_graph(4)
    dag = orient(g, "permutation", order=[3, 2, 1, 0])
    assert set(dag.edges) == {(3, 2), (2, 1), (1, 0)}
    with pytest.raises(ValueError, match="every vertex"):
        orient(g, "permutation", order=[0, 1])
    with pytest.raises(ValueError, match="unknown orientation"):
        orient(g, "sideways")
    with pytest.raises(ValueError, match="rng"):
        orient(g, "random")


def test_random_orientation_is_reproducible():
    g = nx.watts_strogatz_graph(50, 4, 0.75, seed=1)
    a = orient(g, "random", rng=np.random.default_rng(5))
    b = orient(g, "random", rng=np.random.default_rng(5))
    assert set(a.edges) == set(b.edges)
