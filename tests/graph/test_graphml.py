"""Saving and loading structures as GraphML: ids, order, attributes and layering survive; bad files are named."""

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepstruct.graph import AcyclicLayeredGraph, CachedLayeredGraph, LayeredGraph
from tests.strategies import random_dags

IDS = st.one_of(st.integers(-5, 10**6), st.text(min_size=1, max_size=6),
                st.tuples(st.sampled_from(["input", "layers.0", "output"]), st.integers(0, 50)))


@settings(max_examples=40, deadline=None)
@given(dag=random_dags(max_vertices=12), ids=st.lists(IDS, min_size=12, max_size=12, unique=True))
def test_save_load_round_trip_keeps_ids_order_edges_and_layers(tmp_path_factory, dag, ids):
    mapping = dict(zip(dag.nodes, ids, strict=False))
    graph = CachedLayeredGraph(nx.relabel_nodes(dag, mapping))
    for k, v in enumerate(graph.nodes):
        graph.nodes[v]["rank"] = k
    path = tmp_path_factory.mktemp("g") / "s.graphml"
    graph.save(path)
    loaded = CachedLayeredGraph.load(path)
    assert type(loaded) is CachedLayeredGraph
    assert list(loaded.nodes) == list(graph.nodes)
    assert set(loaded.edges) == set(graph.edges)
    assert dict(loaded.nodes(data="rank")) == dict(graph.nodes(data="rank"))
    assert loaded.layer_index() == graph.layer_index()


def test_load_from_the_abstract_class_and_a_subclass(tmp_path):
    path = tmp_path / "s.graphml"
    AcyclicLayeredGraph([(0, 1), (1, 2)]).save(path)
    assert type(LayeredGraph.load(path)) is CachedLayeredGraph
    assert type(AcyclicLayeredGraph.load(path)) is AcyclicLayeredGraph


def test_a_file_of_deepstruct_010_gets_int_ids(tmp_path):
    path = tmp_path / "old.graphml"
    nx.write_graphml(nx.relabel_nodes(nx.DiGraph([(0, 2), (1, 2), (2, 3)]), str), path)  # 0.10's layout
    loaded = CachedLayeredGraph.load(path)
    assert sorted(loaded.edges) == [(0, 2), (1, 2), (2, 3)]
    assert loaded.num_layers == 3


@pytest.mark.parametrize("graph, message", [
    (CachedLayeredGraph([(0, 1)], note=[1, 2]), "GraphML holds only"),
    (CachedLayeredGraph([(0, frozenset({1}))]), "cannot be saved"),
    (CachedLayeredGraph([(0, 1, {"w": None})]), "attribute 'w'"),
])
def test_what_graphml_cannot_hold_is_named(tmp_path, graph, message):
    with pytest.raises(ValueError, match=message):
        graph.save(tmp_path / "x.graphml")


def test_bad_files_are_refused_with_a_clear_error(tmp_path):
    cyclic, undirected, garbage = tmp_path / "c.graphml", tmp_path / "u.graphml", tmp_path / "g.graphml"
    nx.write_graphml(nx.DiGraph([("0", "1"), ("1", "0")]), cyclic)
    nx.write_graphml(nx.path_graph(3), undirected)
    garbage.write_text("<graphml><graph")
    with pytest.raises(ValueError, match="cycle"):
        CachedLayeredGraph.load(cyclic)
    with pytest.raises(ValueError, match="undirected"):
        CachedLayeredGraph.load(undirected)
    with pytest.raises(ValueError, match="not a GraphML graph"):
        CachedLayeredGraph.load(garbage)
