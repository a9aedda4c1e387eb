"""Large-graph storage: chunks in memory or streamed to a graph directory, the loader, summaries and collapse."""

from __future__ import annotations

import json
import warnings
from collections import Counter

import networkx as nx
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from deepstruct.sparse import MaskedDeepDAN
from deepstruct.transform import CompactGraph, GraphTransform, collapse, load_graph, summarize
from deepstruct.transform.storage import EdgeSink


def cnn() -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, stride=2, groups=2),
                             nn.MaxPool2d(2, ceil_mode=True), nn.Flatten(), nn.Linear(4 * 2 * 2, 3))


X = torch.randn(1, 2, 9, 9, generator=torch.Generator().manual_seed(0))


def edge_list(graph: CompactGraph) -> list[tuple[int, int]]:
    return list(zip(graph.sources.tolist(), graph.targets.tolist(), strict=True))


def test_directory_stream_matches_memory_and_reads_without_deepstruct(tmp_path) -> None:
    memory = GraphTransform(X, include_weights=True).extract(cnn())
    assert memory.directory is None and memory.sources.dtype == np.int32
    disk = GraphTransform(X, include_weights=True, directory=tmp_path / "g").extract(cnn())
    assert disk.directory == tmp_path / "g" and disk.nbytes == 0
    assert disk.disk_bytes == 12 * disk.num_edges + 3 * 128 * disk.num_chunks  # int32 x 2, float32, npy headers
    assert edge_list(disk) == edge_list(memory) and np.array_equal(disk.weights, memory.weights)
    index = json.loads((tmp_path / "g" / "index.json").read_text())  # plain json + numpy
    assert index["format"] == "deepstruct.compact-graph" and index["index_dtype"] == "int32"
    src = np.concatenate([np.load(tmp_path / "g" / c["sources"], allow_pickle=False) for c in index["chunks"]])
    assert src.dtype == np.int32 and np.array_equal(src, memory.sources)
    blocks = json.loads((tmp_path / "g" / "vertices.json").read_text())["blocks"]
    assert [b["name"] for b in blocks] == [b.name for b in memory.blocks]
    loaded = load_graph(tmp_path / "g")
    assert edge_list(loaded) == edge_list(memory) and loaded.blocks == memory.blocks
    a, b = loaded.to_networkx(), memory.to_networkx()
    assert nx.utils.graphs_equal(a, b)


def test_memory_budget_spills_to_a_temporary_directory() -> None:
    sink_edges = GraphTransform(X).extract(cnn()).num_edges
    with pytest.warns(UserWarning, match="exceed the memory budget"):
        spilled = GraphTransform(X, memory_budget=0).extract(cnn())
    assert spilled.directory is not None and (spilled.directory / "index.json").is_file()
    assert spilled.num_edges == sink_edges and load_graph(spilled.directory).num_edges == sink_edges


def test_saved_dan_keeps_its_vertex_ids(tmp_path) -> None:
    structure = nx.DiGraph([((0, "a"), (1, "b")), ((0, "a"), (2, "c")), ((1, "b"), (2, "c"))])
    model = MaskedDeepDAN(3, 2, structure, generator=torch.Generator().manual_seed(0))
    graph = GraphTransform(directory=tmp_path / "dan").extract(model)
    loaded = CompactGraph.load(tmp_path / "dan")
    assert set(loaded.to_networkx().edges) == set(graph.to_networkx().edges)
    assert loaded.to_networkx().has_edge((0, "a"), (1, "b"))


@settings(max_examples=25, deadline=None)
@given(sizes=st.lists(st.integers(0, 40), max_size=8), chunk=st.integers(1, 17), budget=st.integers(0, 400),
       to_disk=st.booleans())
def test_sink_keeps_every_edge_in_order(tmp_path_factory, sizes: list[int], chunk: int, budget: int,
                                        to_disk: bool) -> None:
    directory = tmp_path_factory.mktemp("sink") / "g" if to_disk else None
    sink = EdgeSink(np.dtype(np.int32), weighted=True, memory_budget=budget, directory=directory, chunk_edges=chunk)
    rng = np.random.default_rng(sum(sizes) + chunk)
    pieces = [(rng.integers(0, 100, n), rng.integers(0, 100, n), rng.random(n)) for n in sizes]
    for s, t, w in pieces:
        sink.add(s, t, w)
    chunks = sink.finish()
    assert all(c.count <= chunk + max(sizes, default=0) for c in chunks)
    got = [np.concatenate([c.arrays()[k] for c in chunks]) if chunks else np.empty(0) for k in range(3)]
    for k in range(3):
        want = np.concatenate([p[k] for p in pieces]) if pieces else np.empty(0)
        assert np.allclose(got[k], want.astype(np.float32 if k == 2 else np.int32))
    if sink.spilled_to is not None or to_disk:
        assert all(c.files is not None for c in chunks)


def test_bad_directories_are_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match="index.json is missing"):
        load_graph(tmp_path)
    GraphTransform(X, directory=tmp_path / "g").extract(cnn())
    with pytest.raises(ValueError, match="new or empty directory"):
        GraphTransform(X, directory=tmp_path / "g").extract(cnn())
    index = json.loads((tmp_path / "g" / "index.json").read_text())
    index["chunks"][0]["sources"] = "../../etc/passwd"
    (tmp_path / "g" / "index.json").write_text(json.dumps(index))
    with pytest.raises(ValueError, match="not a file inside"):
        load_graph(tmp_path / "g")
    index["format"] = "other"
    (tmp_path / "g" / "index.json").write_text(json.dumps(index))
    with pytest.raises(ValueError, match="is not a deepstruct.compact-graph index"):
        load_graph(tmp_path / "g")


def test_to_networkx_refuses_a_graph_that_does_not_fit() -> None:
    graph = GraphTransform(X).extract(cnn())
    with pytest.raises(ValueError, match="use summary\\(\\) or collapse\\(\\)"):
        graph.to_networkx(max_edges=10)


def test_summary_matches_networkx(tmp_path) -> None:
    graph = GraphTransform(X, directory=tmp_path / "g").extract(cnn())
    nxg = graph.to_networkx()
    s = summarize(load_graph(tmp_path / "g"))
    assert (s.num_vertices, s.num_edges) == (nxg.number_of_nodes(), nxg.number_of_edges())
    hist_in = Counter(d for _, d in nxg.in_degree())
    assert s.in_degree_histogram.tolist() == [hist_in.get(d, 0) for d in range(max(hist_in) + 1)]
    hist_out = Counter(d for _, d in nxg.out_degree())
    assert s.out_degree_histogram.tolist() == [hist_out.get(d, 0) for d in range(max(hist_out) + 1)]
    for layer in s.layers:
        into = [(u, v) for u, v in nxg.edges if v[0] == layer.name]
        feeding = Counter(nxg.nodes[u]["module"] for u, _ in into)
        assert layer.edges_in == len(into) and layer.feeding == dict(feeding)
        width = sum(graph.block(b).count for b in feeding)
        assert layer.density == pytest.approx(len(into) / (layer.vertices * width) if width else 0.0)
    assert "vertices" in s.format()


@pytest.mark.parametrize("grouping", ["channel", "block", "mapping"])
def test_collapse_counts_the_connections_it_merges(grouping: str) -> None:
    graph = GraphTransform(X).extract(cnn())
    if grouping == "mapping":
        grouping = {"0": np.arange(graph.block("0").count) % 5}
    small = collapse(graph, grouping)
    assert int(small.weights.sum()) == graph.num_edges and small.granularity == "grouped"
    starts = {b.name: b.start for b in small.blocks}
    expected: Counter = Counter()
    big = graph.to_networkx(include_weights=False)

    def group(v):  # the brute-force group of a neuron vertex
        block = graph.block(big.nodes[v]["module"])
        k = big.nodes[v]["neuron"]
        if grouping == "block":
            return (block.name, 0)
        if isinstance(grouping, dict) and block.name in grouping:
            return (block.name, int(grouping[block.name][k]))
        if grouping == "channel" and len(block.shape) >= 2:
            return (block.name, k // int(np.prod(block.shape[1:])))
        return (block.name, k)

    for u, v in big.edges:
        expected[group(u), group(v)] += 1
    got = Counter()
    for s, t, w in zip(small.sources.tolist(), small.targets.tolist(), small.weights.tolist(), strict=True):
        bs, bt = small.blocks[int(small.block_index(np.array([s]))[0])], small.blocks[int(small.block_index(
            np.array([t]))[0])]
        got[(bs.name, s - starts[bs.name]), (bt.name, t - starts[bt.name])] = w
    assert got == expected
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert small.to_networkx().number_of_edges() == len(expected)


def test_collapse_refuses_a_bad_grouping() -> None:
    graph = GraphTransform(X).extract(cnn())
    with pytest.raises(ValueError, match="grouping must be"):
        collapse(graph, 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-negative integers"):
        collapse(graph, {"0": np.zeros(2, dtype=int)})
