"""Masked recurrent layers: torch.nn's equations, structure masks, pruning and exact extraction."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch
from torch import nn

from deepstruct.pruning import prune_by_magnitude
from deepstruct.sparse import MaskedGRU, MaskedLSTM, MaskedRNN, hidden_mask, maskable_layers
from deepstruct.transform import GraphTransform
from tests.transform.test_layer_coverage import jacobian_pattern, reach_pattern

PAIRS = [(MaskedRNN, nn.RNN), (MaskedLSTM, nn.LSTM), (MaskedGRU, nn.GRU)]


@pytest.mark.parametrize("masked_cls,torch_cls", PAIRS)
def test_dense_masked_layers_compute_what_torch_computes(masked_cls, torch_cls) -> None:
    masked = masked_cls(3, 5, 2, generator=torch.Generator().manual_seed(0))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        reference = torch_cls(3, 5, 2, batch_first=True)
    with torch.no_grad():
        for layer in range(2):
            w_ih, _, b_ih, w_hh, _, b_hh = masked.layer_parameters(layer)
            for name, p in (("weight_ih", w_ih), ("bias_ih", b_ih), ("weight_hh", w_hh), ("bias_hh", b_hh)):
                getattr(reference, f"{name}_l{layer}").copy_(p)
    x = torch.randn(4, 6, 3, generator=torch.Generator().manual_seed(1))
    out, state = masked(x)
    ref_out, ref_state = reference(x)
    assert torch.allclose(out, ref_out, atol=1e-6)
    for a, b in zip(state if isinstance(state, tuple) else (state,),
                    ref_state if isinstance(ref_state, tuple) else (ref_state,), strict=True):
        assert torch.allclose(a, b, atol=1e-6)
    seq_first = masked_cls(3, 5, 2, batch_first=False, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(seq_first(x.transpose(0, 1))[0].transpose(0, 1), out, atol=1e-6)


@pytest.mark.parametrize("cls", [MaskedRNN, MaskedLSTM, MaskedGRU])
def test_structure_masks_every_gate_and_masked_weights_get_no_gradient(cls) -> None:
    graph = nx.watts_strogatz_graph(6, 2, 0.3, seed=2)
    model = cls(2, structure=graph, self_loops=False, generator=torch.Generator().manual_seed(0))
    adjacency = torch.from_numpy(nx.to_numpy_array(graph, nodelist=sorted(graph)) != 0)
    assert torch.equal(model.hh[0].mask, adjacency.repeat(cls.gates, 1))
    model(torch.randn(2, 3, 2))[0].sum().backward()
    assert bool((model.hh[0].weight.grad[~model.hh[0].mask] == 0).all())
    directed = cls(2, structure=nx.DiGraph([(0, 1), (1, 2)]), self_loops=True)
    assert directed.hh[0].mask[:3].int().tolist() == [[1, 0, 0], [1, 1, 0], [0, 1, 1]]


def test_per_gate_structures_and_bad_input() -> None:
    graphs = [nx.path_graph(4), nx.empty_graph(4), nx.complete_graph(4)]
    gru = MaskedGRU(2, structure=graphs, self_loops=False)
    assert [int(gru.hh[0].mask[k * 4:(k + 1) * 4].sum()) for k in range(3)] == [6, 0, 12]
    with pytest.raises(ValueError, match="3 gates"):
        MaskedGRU(2, structure=graphs[:2])
    with pytest.raises(ValueError, match="hidden_size 5 but the structure has 4"):
        MaskedGRU(2, 5, structure=graphs[0])
    with pytest.raises(ValueError, match="positive hidden_size"):
        MaskedLSTM(2)
    with pytest.raises(ValueError, match="expected input of shape"):
        MaskedRNN(2, 3)(torch.randn(4, 3))
    with pytest.raises(ValueError, match="non-empty networkx graph"):
        hidden_mask(nx.Graph())


def test_magnitude_pruning_works_on_recurrent_masks() -> None:
    model = MaskedLSTM(3, structure=nx.barabasi_albert_graph(10, 2, seed=0), generator=torch.Generator().manual_seed(0))
    layers = maskable_layers(model)
    assert len(layers) == 2
    before = [int(layer.mask.sum()) for layer in layers]
    prune_by_magnitude(model, 0.5, include_output=True)
    after = [int(layer.mask.sum()) for layer in layers]
    assert all(a == round(b / 2) or abs(a - b / 2) <= 1 for a, b in zip(after, before, strict=True))
    kept = model.hh[0].weight.detach().abs()[model.hh[0].mask]
    structure = hidden_mask(nx.barabasi_albert_graph(10, 2, seed=0))[0].repeat(4, 1)
    dropped = model.hh[0].weight.detach().abs()[~model.hh[0].mask & structure]
    assert float(kept.min()) >= float(dropped.max())


class Wrapped(nn.Module):
    def __init__(self, rnn: nn.Module) -> None:
        super().__init__()
        self.pre = nn.Linear(3, 3, bias=False)
        self.rnn = rnn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, state = self.rnn(self.pre(x))
        h = state[0] if isinstance(state, tuple) else state
        return torch.cat([out.flatten(1), h.transpose(0, 1).flatten(1)], 1)


@pytest.mark.parametrize("cls", [MaskedRNN, MaskedLSTM, MaskedGRU])
@pytest.mark.parametrize("bias", [False, True])
def test_extraction_reads_the_masks_exactly(cls, bias: bool) -> None:
    graph = nx.watts_strogatz_graph(5, 2, 0.5, seed=3)
    rnn = cls(3, structure=graph, num_layers=2, bias=bias, self_loops=False, generator=torch.Generator().manual_seed(4))
    prune_by_magnitude(rnn, 0.3, include_output=True)
    model = Wrapped(rnn).double().eval()
    with torch.no_grad():
        model.pre.weight.copy_(torch.eye(3) + torch.tensor([[0.0, 0.5, 0.0], [0, 0, 0], [0, 0, 0]]))
        for layer in maskable_layers(rnn):
            layer.weight.mul_(layer.mask)  # the Jacobian sees the effective weights
    shape = (4, 3)
    assert np.array_equal(reach_pattern(model, shape), jacobian_pattern(model, shape))
    extracted = GraphTransform(torch.randn(1, *shape, dtype=torch.float64)).transform(model)
    hh = rnn.hh[0].mask
    for i in range(5):
        for j in range(5):
            if cls is MaskedRNN:
                assert extracted.has_edge(("rnn.l0.t0.h", j), ("rnn.l0.t1.h", i)) == bool(hh[i, j])
