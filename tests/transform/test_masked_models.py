"""Extraction from our own masked models: exact, from the masks, round trip with the structure's vertex ids."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from deepstruct.graph import CachedLayeredGraph
from deepstruct.pruning import prune_by_magnitude, prune_random
from deepstruct.sparse import MaskedDeepDAN, MaskedDeepFFN
from deepstruct.transform import GraphTransform, extract_masked_dan, strip_io


def random_dag(seed: int, n: int, p: float) -> CachedLayeredGraph:
    rng = np.random.default_rng(seed)
    graph = CachedLayeredGraph()
    graph.add_nodes_from(range(n))
    upper = np.triu(rng.random((n, n)) < p, k=1)
    order = rng.permutation(n)
    graph.add_edges_from((int(order[i]), int(order[j])) for i, j in zip(*np.nonzero(upper), strict=True))
    return graph


def reference_edges(model: MaskedDeepDAN) -> set[tuple]:
    """Edges read one by one from the masks (slow and obviously right)."""
    edges = set()
    for j in range(model.size_input):
        for r, v in enumerate(model.layer_vertices[0]):
            if model.layers[0].mask[r, j]:
                edges.add((("input", j), v))
    for t in range(1, model.num_layers):
        columns = model.column_vertices(t)
        for r, v in enumerate(model.layer_vertices[t]):
            for c, u in enumerate(columns):
                if model.layers[t].mask[r, c]:
                    edges.add((u, v))
    for o in range(model.size_output):
        for c, u in enumerate(model.sinks):
            if model.output.mask[o, c]:
                edges.add((u, ("output", o)))
    return edges


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 14), p=st.floats(0, 0.8), prune=st.floats(0, 0.9))
def test_dan_round_trip(seed: int, n: int, p: float, prune: float) -> None:
    structure = random_dag(seed, n, p)
    model = MaskedDeepDAN(3, 2, structure, generator=torch.Generator().manual_seed(seed))
    graph = GraphTransform(torch.randn(1, 3)).transform(model)
    inputs = {("input", i) for i in range(3)}
    outputs = {("output", j) for j in range(2)}
    assert set(graph.nodes) == set(structure.nodes) | inputs | outputs
    inner = {(u, v) for u, v in graph.edges if u in structure and v in structure}
    assert inner == set(structure.edges)
    assert set(graph.edges) == reference_edges(model)
    assert nx.is_directed_acyclic_graph(graph)
    prune_random(model, prune, generator=np.random.default_rng(seed))
    pruned = GraphTransform(torch.randn(1, 3)).transform(model)
    assert set(pruned.edges) == reference_edges(model)
    assert {(u, v) for u, v in pruned.edges if u in structure and v in structure} == \
        set(model.generate_structure().edges)
    rebuilt = strip_io(pruned)
    assert set(rebuilt.nodes) == set(structure.nodes)
    again = GraphTransform().transform(MaskedDeepDAN(3, 2, rebuilt))
    assert {(u, v) for u, v in again.edges if u in structure and v in structure} == set(rebuilt.edges)


def test_dan_attributes_weights_and_threshold() -> None:
    structure = CachedLayeredGraph([("a", "b"), ("a", "c"), ("b", "c"), ("x", "c")])
    model = MaskedDeepDAN(4, 2, structure, generator=torch.Generator().manual_seed(0))
    graph = GraphTransform(include_weights=True).transform(model)
    assert graph.nodes["a"]["layer"] == 1 and graph.nodes["c"]["layer"] == 3
    assert graph.nodes[("input", 3)]["layer"] == 0 and graph.nodes[("output", 1)]["layer"] == 4
    assert graph.nodes[("output", 1)]["kind"] == "output"
    t, row = model.vertex_position("c")
    col = model.column_vertices(t).index("b")
    assert graph.edges["b", "c"]["weight"] == pytest.approx(float(model.layers[t].weight.detach()[row, col]))
    cut = GraphTransform(threshold=0.5).extract(model)
    kept = sum(int(((layer.weight.abs() > 0.5) & layer.mask).sum()) for layer in [*model.layers, model.output])
    assert cut.num_edges == kept


def test_dan_id_clash_is_an_error() -> None:
    model = MaskedDeepDAN(2, 1, CachedLayeredGraph([(("input", 0), "b")]))
    with pytest.raises(ValueError, match="clash"):
        extract_masked_dan(model)


def test_ffn_after_pruning_gives_exactly_the_unmasked_edges() -> None:
    model = MaskedDeepFFN(6, 3, [5, 4], generator=torch.Generator().manual_seed(1))
    prune_by_magnitude(model, 0.6, scope="global")
    compact = GraphTransform(torch.randn(1, 6)).extract(model)
    assert compact.num_edges == sum(int(layer.mask.sum()) for layer in [*model.layers, model.output])
    graph = compact.to_networkx()
    for (u, v) in graph.edges:
        assert graph.nodes[v]["layer"] == graph.nodes[u]["layer"] + 1
    rows, cols = np.nonzero(model.layers[1].mask.numpy())
    assert {(("layers.0", int(c)), ("layers.1", int(r))) for r, c in zip(rows, cols, strict=True)} == \
        {(u, v) for u, v in graph.edges if u[0] == "layers.0"}
    assert {v for v in graph.nodes if v[0] == "output"} == {("output", j) for j in range(3)}


@pytest.mark.parametrize("make", [
    lambda: MaskedDeepFFN(5, 2, [4, 3], use_layer_norm=True),
    lambda: MaskedDeepDAN(5, 2, random_dag(3, 8, 0.4), use_layer_norm=True),
])
def test_extraction_leaves_the_model_unchanged(make) -> None:
    model = make()
    prune_by_magnitude(model, 0.3)
    x = torch.randn(4, 5, generator=torch.Generator().manual_seed(0))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    out = model(x)
    GraphTransform(torch.randn(1, 5)).transform(model)
    GraphTransform(torch.randn(1, 5), granularity="module").transform(model)
    assert before.keys() == model.state_dict().keys()
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert torch.equal(out, model(x))
    assert model.training


def test_input_size_mismatch() -> None:
    with pytest.raises(ValueError, match="features per sample"):
        GraphTransform(torch.randn(1, 7)).transform(MaskedDeepFFN(5, 2, [3]))


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), widths=st.lists(st.integers(1, 6), min_size=1, max_size=3),
       prune=st.floats(0, 0.95), layer_norm=st.booleans())
def test_ffn_mask_reading_agrees_with_tracing(seed: int, widths: list[int], prune: float, layer_norm: bool) -> None:
    """The vectorised mask reader and the traced forward pass give the same graph, vertex ids included."""
    from deepstruct.transform.neurons import neuron_graph
    from deepstruct.transform.trace import record

    model = MaskedDeepFFN((2, 3), 4, widths, use_layer_norm=layer_norm, generator=torch.Generator().manual_seed(seed))
    prune_random(model, prune, generator=np.random.default_rng(seed), scope="global")
    x = torch.randn(2, 2, 3)
    read = GraphTransform(x).transform(model)
    traced = neuron_graph(record(model, x)).to_networkx()
    if layer_norm:  # tracing adds each LayerNorm: a statistics vertex and a normalised copy of every neuron
        assert {v[0] for v in traced} >= {f"norms.{i}.stats" for i in range(len(widths))}
        rename = {v: (v[0].replace("norms", "layers"), v[1]) for v in traced if v[0].startswith("norms.")}
        traced = nx.relabel_nodes(traced.subgraph(v for v in traced if not v[0].endswith(".stats")), rename)
        traced.remove_edges_from(list(nx.selfloop_edges(traced)))
    assert set(read.nodes) == set(traced.nodes)
    assert set(read.edges) == set(traced.edges)
