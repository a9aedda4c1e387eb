"""GraphTransform on arbitrary torch models: real data flow, granularity, export, warnings and errors."""

from __future__ import annotations

import json
import warnings

import networkx as nx
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from deepstruct.sparse import MaskedLinearLayer
from deepstruct.transform import GraphTransform, TraceFailure, UnsupportedOperationWarning, save_graphml, save_json
from deepstruct.transform.trace import record_fx, record_hooks


class Residual(nn.Module):
    """``head(cat(a(b(relu(bn(a(x)))) + x), x))``: a skip edge, a concatenation and a reused module."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 4)
        self.bn = nn.BatchNorm1d(4)
        self.drop = nn.Dropout(0.5)
        self.head = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.b(F.relu(self.bn(self.a(x)))) + x
        h = self.drop(self.a(h))
        return self.head(torch.cat([h, x], dim=1))


class DataDependent(Residual):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if float(x.sum()) > 1e9:  # torch.fx cannot trace this
            x = x * 2
        return super().forward(x)


@pytest.mark.parametrize("cls", [Residual, DataDependent])
def test_residual_skip_concat_and_reuse(cls: type[nn.Module]) -> None:
    torch.manual_seed(0)
    graph = GraphTransform(torch.randn(3, 4)).transform(cls())
    assert nx.is_directed_acyclic_graph(graph)
    assert sum(1 for v in graph if v[0] == "input") == 4  # the batch dimension is not part of the graph
    for i in range(4):
        assert graph.has_edge(("b", i), ("add", i)) and graph.has_edge(("input", i), ("add", i))  # the skip edge
        assert {u for u in graph.predecessors(("a:1", i))} == {("add", j) for j in range(4)}  # reuse, after add
        assert graph.has_edge(("input", i), ("output", 0))  # concatenated input reaches the head
        assert graph.has_edge(("a:1", i), ("output", 1))
    attrs = graph.nodes[("a:1", 2)]
    assert (attrs["module"], attrs["neuron"], attrs["kind"]) == ("a:1", 2, "linear")
    assert graph.nodes[("add", 0)]["layer"] < attrs["layer"] < graph.nodes[("output", 0)]["layer"]
    modules = GraphTransform(torch.randn(3, 4), granularity="module").transform(cls())
    assert {("input", "a"), ("input", "add"), ("b", "add"), ("add", "a:1"), ("input", "head"),
            ("drop", "head"), ("head", "output")} <= set(modules.edges)


def test_fx_and_hooks_agree() -> None:
    model, x = Residual(), torch.randn(2, 4)
    graphs = []
    for rec in (record_fx(model, x), record_hooks(model, x)):
        from deepstruct.transform.neurons import neuron_graph

        graphs.append(neuron_graph(rec).to_networkx())
    assert set(graphs[0].edges) == set(graphs[1].edges)


def test_model_unchanged_in_training_mode() -> None:
    torch.manual_seed(0)
    model = Residual().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(5, 4)
    rng = torch.get_rng_state()
    GraphTransform(x).transform(model)
    GraphTransform(x, granularity="module").transform(model)
    record_hooks(model, x)
    assert torch.equal(rng, torch.get_rng_state())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(m.training for m in model.modules())


class FunctionalNorm(nn.Module):
    """Reads ``self.training`` in ``forward``: torch.fx bakes that flag into the traced graph."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 3)
        self.register_buffer("mean", torch.zeros(3))
        self.register_buffer("var", torch.ones(3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.lin(x).unsqueeze(-1) * torch.arange(1.0, 6.0)
        return F.batch_norm(h, self.mean, self.var, training=self.training).flatten(1)


def test_functional_training_flags_are_traced_in_eval_mode() -> None:
    model = FunctionalNorm().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert record_fx(model, torch.randn(1, 4)).frontend == "fx"
    GraphTransform(torch.randn(1, 4)).transform(model)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert model.training


def test_masked_layers_in_any_model_use_their_masks() -> None:
    layer = MaskedLinearLayer(5, 3)
    layer.mask[0, 1:] = False
    model = nn.Sequential(nn.Flatten(), layer, nn.ReLU(), nn.Linear(3, 2))
    graph = GraphTransform(torch.randn(1, 5)).transform(model)
    assert set(graph.predecessors(("1", 0))) == {("input", 0)}
    assert graph.number_of_edges() == int(layer.mask.sum()) + 6


def test_cnn_shapes_and_export(tmp_path) -> None:
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 3),
                          nn.LogSoftmax(dim=1))
    compact = GraphTransform(torch.randn(2, 1, 4, 4), include_weights=True).extract(model)
    assert [(b.name, b.count) for b in compact.blocks] == [("input", 16), ("0", 32), ("2", 8), ("4", 3),
                                                           ("output", 3)]
    assert [b.kind for b in compact.blocks] == ["input", "conv", "pool", "linear", "output"]
    conv_edges = 2 * (3 + 4 + 3) ** 2  # 3x3 kernel, padding 1 on a 4x4 map: offsets -1, 0, 1 fit 3, 4, 3 times
    assert compact.num_edges == conv_edges + 32 + 24 + 9
    save_graphml(compact, tmp_path / "g.graphml")
    loaded = nx.read_graphml(tmp_path / "g.graphml")
    assert loaded.number_of_nodes() == compact.num_vertices and loaded.number_of_edges() == compact.num_edges
    save_json(compact, tmp_path / "g.json")
    data = json.loads((tmp_path / "g.json").read_text())
    assert len(data["vertices"]) == compact.num_vertices and len(data["sources"]) == compact.num_edges
    assert data["vertices"][0] == {"id": ["input", 0], "layer": 0, "module": "input", "neuron": 0, "kind": "input"}
    save_json(compact.to_networkx(), tmp_path / "h.json")
    assert len(json.loads((tmp_path / "h.json").read_text())["edges"]) == compact.num_edges


def test_unsupported_modules_are_named_in_a_warning() -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.Softmax2d())
    with pytest.warns(UnsupportedOperationWarning, match=r"1 \(Softmax2d\)"):
        compact = GraphTransform(torch.randn(1, 3, 2, 4)).extract(model)
    assert not compact.complete and compact.unsupported == ["1 (Softmax2d)"]
    assert compact.to_networkx().graph["complete"] is False


def test_untraceable_model_gets_a_clear_error() -> None:
    class Broken(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if float(x.sum()) > -1e9:
                raise RuntimeError("no")
            return x

    with pytest.raises(TraceFailure, match="cannot trace Broken"):
        GraphTransform(torch.randn(1, 3)).transform(Broken())
    with pytest.raises(ValueError, match="random_input"):
        GraphTransform().transform(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="granularity"):
        GraphTransform(torch.randn(1, 2), granularity="edge")


def test_plain_linear_threshold_and_no_warning() -> None:
    lin = nn.Linear(3, 2)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[0.0, 0.2, -0.9], [0.5, 0.0, 0.1]]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert GraphTransform(torch.randn(1, 3)).extract(lin).num_edges == 4
        assert GraphTransform(torch.randn(1, 3), threshold=0.3).extract(lin).num_edges == 2
