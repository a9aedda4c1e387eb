"""Every supported operation against an independent ground truth: the Jacobian sparsity of the output with
respect to the input (biases removed, union over random inputs), compared with which input vertices reach
which output vertices in the extracted graph."""

from __future__ import annotations

import math
import warnings

import networkx as nx
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from deepstruct.transform import GraphTransform


def stochastic_depth(x: torch.Tensor, p: float, mode: str, training: bool = True) -> torch.Tensor:
    """torchvision semantics: the identity in eval mode; in training, rows (or the batch) dropped with
    probability ``p`` and survivors scaled by ``1 / (1 - p)``."""
    if not training or p == 0.0:
        return x
    shape = [x.shape[0]] + [1] * (x.dim() - 1) if mode == "row" else [1] * x.dim()
    return x * (torch.rand(shape, dtype=x.dtype) >= p) / (1.0 - p)


torch.fx.wrap("stochastic_depth")


class Op(nn.Module):
    """``f(pre(x))``: a sparse linear (or conv) map first, so the graph is not trivially the identity."""

    def __init__(self, f, features: int = 6, pre: nn.Module | None = None) -> None:
        super().__init__()
        self.pre = pre if pre is not None else nn.Linear(features, features, bias=False)
        self.f = f
        self.scale = nn.Parameter(torch.linspace(0.5, 1.5, features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.f(self, self.pre(x))
        return out[0] if isinstance(out, tuple) else out


def sparsify(model: nn.Module, seed: int, zero: float = 0.4) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "bias" in name:
                p.zero_()
            elif p.dim() >= 2:
                p.mul_(torch.rand(p.shape, generator=g) >= zero)
    return model.double().eval()


def jacobian_pattern(model: nn.Module, shape: tuple[int, ...], seeds: int = 3) -> np.ndarray:
    """``(outputs, inputs)``: True where some random input gives a non-zero derivative."""
    pattern = None
    for s in range(seeds):
        x = torch.randn(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(100 + s))
        jac = torch.autograd.functional.jacobian(lambda v: model(v[None]).reshape(-1), x)
        nz = (jac.reshape(jac.shape[0], -1) != 0).numpy()
        pattern = nz if pattern is None else pattern | nz
    return pattern


def reach_pattern(model: nn.Module, shape: tuple[int, ...]) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "unsupported" warning
        compact = GraphTransform(torch.randn(1, *shape, dtype=torch.float64)).extract(model)
    assert compact.complete
    graph = compact.to_networkx()
    assert nx.is_directed_acyclic_graph(graph)
    n_in, n_out = math.prod(shape), compact.block("output").count
    reach = np.zeros((n_out, n_in), dtype=bool)
    for i in range(n_in):
        for v in nx.descendants(graph, ("input", i)):
            if v[0] == "output":
                reach[v[1], i] = True
    return reach


def check(model: nn.Module, shape: tuple[int, ...], seed: int = 0) -> None:
    model = sparsify(model, seed)
    assert np.array_equal(reach_pattern(model, shape), jacobian_pattern(model, shape))


ELEMENTWISE = {
    "hardswish": lambda m, h: F.hardswish(h), "hardsigmoid": lambda m, h: nn.Hardsigmoid()(h),
    "silu": lambda m, h: nn.SiLU()(h), "gelu": lambda m, h: F.gelu(h, approximate="tanh"),
    "dropout": lambda m, h: F.dropout(h, 0.5, m.training), "alpha_dropout": lambda m, h: F.alpha_dropout(h, 0.2),
    "feature_alpha_dropout": lambda m, h: F.feature_alpha_dropout(h, 0.2, m.training),
    "stochastic_depth": lambda m, h: stochastic_depth(h, 0.3, "row", m.training),
    "scalar_arithmetic": lambda m, h: (2.0 * h - 1.0) / 3.0 + 0.5,
    "layer_scale": lambda m, h: h * m.scale,
    "mish_softplus": lambda m, h: F.softplus(F.mish(h)),
}


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_and_eval_identity_ops(name: str) -> None:
    check(Op(ELEMENTWISE[name]), (6,))


def test_dropout2d_on_feature_maps() -> None:
    check(Op(lambda m, h: F.dropout2d(h, 0.5, m.training), pre=nn.Conv2d(2, 3, 2, bias=False)), (2, 3, 3))


NORMS = {
    "layer_norm": (lambda m, h: nn.LayerNorm(3).double()(h), (2, 3), nn.Linear(3, 3, bias=False)),
    "functional_layer_norm": (lambda m, h: F.layer_norm(h, (2, 3)), (2, 3), nn.Linear(3, 3, bias=False)),
    "rms_norm": (lambda m, h: nn.RMSNorm(3).double()(h), (2, 3), nn.Linear(3, 3, bias=False)),
    "group_norm": (lambda m, h: nn.GroupNorm(2, 4).double()(h), (2, 3, 3), nn.Conv2d(2, 4, 1, bias=False)),
    "instance_norm": (lambda m, h: F.instance_norm(h), (2, 3, 3), nn.Conv2d(2, 2, 2, bias=False)),
}


@pytest.mark.parametrize("name", sorted(NORMS))
def test_normalisation_reads_its_slice(name: str) -> None:
    f, shape, pre = NORMS[name]
    check(Op(f, pre=pre), shape)


def test_batch_norm_in_eval_stays_elementwise() -> None:
    check(Op(lambda m, h: h, pre=nn.Sequential(nn.Linear(6, 6, bias=False), nn.BatchNorm1d(6))), (6,))


class Attention(nn.Module):
    def __init__(self, mode: str, dim: int = 4, heads: int = 2, tokens: int = 3) -> None:
        super().__init__()
        self.mode, self.heads = mode, heads
        self.pre = nn.Linear(dim, dim, bias=False)
        self.mha = nn.MultiheadAttention(dim, heads, bias=False, batch_first=mode != "seq_first")
        self.register_buffer("mask", torch.triu(torch.ones(tokens, tokens, dtype=torch.bool), 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.pre(x)
        if self.mode == "mha":
            return self.mha(h, h, h, need_weights=False)[0]
        if self.mode == "mha_masked":
            return self.mha(h, h, h, attn_mask=self.mask, need_weights=False)[0]
        if self.mode == "mha_weights":
            out, w = self.mha(h, h, h[:, :, :], average_attn_weights=True)
            return torch.cat([out.flatten(1), w.flatten(1)], 1)
        if self.mode == "seq_first":
            t = h.transpose(0, 1)
            return self.mha(t, t, t, need_weights=False)[0].transpose(0, 1)
        q = h.unflatten(-1, (self.heads, -1)).transpose(1, 2)
        if self.mode == "sdpa_causal":
            return F.scaled_dot_product_attention(q, q * 2.0, torch.tanh(q), is_causal=True)
        scores = torch.softmax(q @ q.transpose(-2, -1) / 2.0, dim=-1)  # hand-written attention
        return scores @ q


@pytest.mark.parametrize("mode", ["mha", "mha_masked", "mha_weights", "seq_first", "sdpa_causal", "matmul"])
def test_attention(mode: str) -> None:
    check(Attention(mode), (3, 4), seed=1)


class Recurrent(nn.Module):
    def __init__(self, cls: type[nn.RNNBase], layers: int, bidirectional: bool, batch_first: bool = True) -> None:
        super().__init__()
        self.pre = nn.Linear(3, 3, bias=False)
        self.rnn = cls(3, 4, layers, bias=False, batch_first=batch_first, bidirectional=bidirectional)
        self.batch_first = batch_first

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.pre(x)
        if not self.batch_first:
            h = h.transpose(0, 1)
        out, state = self.rnn(h)
        h_n = state[0] if isinstance(state, tuple) else state
        out = out if self.batch_first else out.transpose(0, 1)
        return torch.cat([out.flatten(1), h_n.transpose(0, 1).flatten(1)], 1)


@pytest.mark.parametrize("cls", [nn.RNN, nn.GRU, nn.LSTM])
@pytest.mark.parametrize("layers,bidirectional,batch_first", [(1, False, True), (2, True, True), (1, False, False)])
def test_recurrent_unrolled(cls: type[nn.RNNBase], layers: int, bidirectional: bool, batch_first: bool) -> None:
    check(Recurrent(cls, layers, bidirectional, batch_first), (4, 3), seed=layers)


def test_gru_reset_gate_reaches_only_where_the_candidate_reads_the_state() -> None:
    model = Recurrent(nn.GRU, 1, False)
    model = sparsify(model, 3, zero=0.0)
    with torch.no_grad():
        model.rnn.weight_hh_l0[8:10] = 0.0  # W_hn rows of units 0 and 1: r_0, r_1 multiply zero
    shape = (3, 3)
    assert np.array_equal(reach_pattern(model, shape), jacobian_pattern(model, shape))
    graph = GraphTransform(torch.randn(1, *shape, dtype=torch.float64)).transform(model)
    assert not graph.has_edge(("rnn.l0.t1.rz", 0), ("rnn.l0.t1.n", 0))
    assert graph.has_edge(("rnn.l0.t1.rz", 2), ("rnn.l0.t1.n", 2))


class Embed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 3)
        self.lin = nn.Linear(3, 2, bias=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.lin(self.embed(tokens) + F.embedding(tokens, self.embed.weight * 2.0))


def test_embedding_neurons_read_their_position_only() -> None:
    torch.manual_seed(0)
    model = Embed().eval()
    tokens = torch.tensor([[1, 4, 7, 2]])
    graph = GraphTransform(tokens).transform(model)
    reach = {(i, v[1]) for i in range(4) for v in nx.descendants(graph, ("input", i)) if v[0] == "output"}
    changed = set()  # ground truth: outputs that change when one token changes
    with torch.no_grad():
        base = model(tokens).reshape(-1)
        for i in range(4):
            other = tokens.clone()
            other[0, i] = (other[0, i] + 3) % 10
            changed |= {(i, int(j)) for j in torch.nonzero(model(other).reshape(-1) != base)}
    assert reach == changed
    assert {u for u in graph.predecessors(("embed", 5))} == {("input", 1)}  # position 1, feature 2
