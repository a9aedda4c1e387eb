"""deepstruct 0.10's LabeledDAG: vertices numbered by the graph, explicit layers, edges only upwards."""

import itertools

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepstruct.graph import (
    AcyclicLayeredGraph,
    LabeledDAG,
    LayerOrderError,
    build_layer_index,
    uniform_proportions,
)


def test_labels_ask_for_new_vertices_numbered_by_the_graph():
    dag = LabeledDAG()
    with pytest.warns(UserWarning, match="created vertex 0"):
        assert dag.add_node(7) == 0
    dag.add_edge("a", "b")
    assert sorted(dag.nodes) == [0, 1, 2] and dag.get_layer(1) == 0 and dag.get_layer(2) == 1


def test_a_label_names_one_new_source_and_one_new_target_per_call():
    dag = LabeledDAG()
    dag.add_edges_from(itertools.product(range(3), range(4)))
    assert dag.num_layers == 2 and dag.get_layer_size(0) == 3 and dag.get_layer_size(1) == 4
    assert dag.number_of_edges() == 12


def test_an_edge_down_or_across_layers_is_refused_and_changes_nothing():
    dag = LabeledDAG()
    dag.add_vertices(2, layer=0)
    dag.add_vertices(2, layer=1)
    before = (list(dag.nodes), list(dag.edges))
    with pytest.raises(LayerOrderError) as error:
        dag.add_edges_from([(0, 2), ("new", 3), (3, 1)])
    assert isinstance(error.value, ValueError) and isinstance(error.value, AssertionError)
    assert (list(dag.nodes), list(dag.edges)) == before
    with pytest.raises(ValueError, match="layer 0 to layer 0"):
        dag.add_edge(0, 1)


@settings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.integers(1, 5), min_size=2, max_size=5), data=st.data())
def test_append_glues_the_first_layer_of_the_other_on_the_last(sizes, data):
    first, second = LabeledDAG(), LabeledDAG()
    layers = [first.add_vertices(n, layer=t) for t, n in enumerate(sizes[:2])]
    other = [second.add_vertices(n, layer=t) for t, n in enumerate([sizes[1], *sizes[2:]])]
    pairs = [(u, v) for a, b in zip(layers, layers[1:], strict=False) for u in a for v in b]
    first.add_edges_from(data.draw(st.lists(st.sampled_from(pairs), unique=True)))
    other_pairs = [(u, v) for a, b in zip(other, other[1:], strict=False) for u in a for v in b]
    second.add_edges_from(data.draw(st.lists(st.sampled_from(other_pairs), unique=True)) if other_pairs else [])
    if second.num_layers < 2:
        with pytest.raises(ValueError):
            first.append(second)
        return
    n_nodes, n_edges = len(first), first.number_of_edges()
    first.append(second)
    assert len(first) == n_nodes + len(second) - second.first_layer_size
    assert first.number_of_edges() == n_edges + second.number_of_edges()
    assert first.num_layers == 1 + second.num_layers
    assert all(first.get_layer(u) < first.get_layer(v) for u, v in first.edges)


def test_copy_save_and_load_keep_ids_and_layers(tmp_path):
    dag = LabeledDAG()
    dag.add_vertices(2, layer=0)
    dag.add_vertices(1, layer=3)
    dag.add_edges_from([(0, 2), (1, 2)])
    dag.save(tmp_path / "l.graphml")
    for copy in (dag.copy(), LabeledDAG.load(tmp_path / "l.graphml")):
        assert [copy.get_layer(v) for v in sorted(copy)] == [0, 0, 3]
        assert sorted(copy.edges) == [(0, 2), (1, 2)] and copy.index_in_layer(1) == 1


def test_graph_data_still_builds_the_cycle_refusing_graph():
    with pytest.warns(DeprecationWarning, match="AcyclicLayeredGraph"):
        graph = LabeledDAG([(0, 1), (1, 2)])
    assert type(graph) is AcyclicLayeredGraph
    with pytest.raises(ValueError, match="cycle"):
        graph.add_edge(2, 0)


def test_build_layer_index_and_pinned_layers():
    graph = nx.DiGraph([(1, 3), (2, 3), (3, 5), (1, 5)])
    layers, vertices = build_layer_index(graph)
    assert layers == {1: 0, 3: 1, 5: 2, 2: 0} and vertices == {0: [1, 2], 1: [3], 2: [5]}
    assert build_layer_index(graph, {2: 4})[0] == {2: 4, 1: 0, 3: 5, 5: 6}
    with pytest.raises(ValueError, match="cycle"):
        build_layer_index(nx.DiGraph([(0, 1), (1, 0)]))


def test_uniform_proportions_sum_to_one_and_follow_the_rng():
    graph = nx.path_graph(6)
    a, b = uniform_proportions(graph, rng=3), uniform_proportions(graph, rng=3)
    assert a == b and abs(sum(a.values()) - 1) < 1e-12 and all(0 < p < 1 for p in a.values())
    with pytest.raises(ValueError):
        uniform_proportions(nx.DiGraph())
