"""deepstruct 0.10's ``deepstruct.recurrent`` and ``deepstruct.scalable`` on our layers."""

import networkx as nx
import pytest
import torch

from deepstruct.graph import CachedLayeredGraph, uniform_proportions
from deepstruct.recurrent import MaskedDeepRNN, MaskedGRULayer, MaskedLSTMLayer, MaskedRecurrentLayer
from deepstruct.scalable import ScalableDAN, ScalableDeepFFN
from deepstruct.sparse import maskable_layers


def test_cells_match_torch_cells_with_the_same_weights():
    torch.manual_seed(0)
    x, h, c = torch.randn(3, 4), torch.randn(3, 5), torch.randn(3, 5)
    pairs = ((MaskedGRULayer(4, 5), torch.nn.GRUCell(4, 5)), (MaskedLSTMLayer(4, 5), torch.nn.LSTMCell(4, 5)),
             (MaskedRecurrentLayer(4, 5), torch.nn.RNNCell(4, 5)))
    for ours, theirs in pairs:
        with torch.no_grad():
            theirs.weight_ih.copy_(ours.ih.weight)
            theirs.weight_hh.copy_(ours.hh.weight)
            theirs.bias_ih.copy_(ours.ih.bias)
            theirs.bias_hh.copy_(ours.hh.bias)
        state = (h, c) if isinstance(ours, MaskedLSTMLayer) else h
        got, want = ours(x, state), theirs(x, state)
        for a, b in zip(got if isinstance(got, tuple) else [got], want if isinstance(want, tuple) else [want],
                        strict=True):
            assert torch.allclose(a, b, atol=1e-6)


def test_a_custom_nonlinearity_is_used_and_masks_cut_connections():
    cell = MaskedRecurrentLayer(2, 3, nonlinearity=torch.nn.LogSigmoid())
    assert (cell(torch.randn(4, 2), torch.zeros(4, 3)) < 0).all()
    cell.set_h2h_mask(torch.zeros(3, 3))
    x = torch.randn(4, 2)
    assert torch.equal(cell(x, torch.zeros(4, 3)), cell(x, torch.randn(4, 3)))


@pytest.mark.parametrize("builder", [MaskedRecurrentLayer, MaskedGRULayer, MaskedLSTMLayer])
@pytest.mark.parametrize("batch_first", [True, False])
def test_deep_rnn_has_a_width_per_layer_and_returns_the_last_step(builder, batch_first):
    rnn = MaskedDeepRNN(3, [6, 4, 2], build_recurrent_layer=builder, batch_first=batch_first)
    assert [layer.hidden_size for layer in rnn.recurrent_layers] == [6, 4, 2]
    assert len(maskable_layers(rnn)) == 6
    x = torch.randn(5, 7, 3) if batch_first else torch.randn(7, 5, 3)
    assert rnn(x.double()).shape == (5, 2)
    rnn.apply_mask(threshold=0.3, h2h=True)
    for layer in rnn.recurrent_layers:
        assert torch.equal(layer.hh.mask, layer.hh.weight.abs() >= 0.3) and layer.ih.mask.all()


def test_scalable_dan_grows_blocks_and_reloads_from_its_saved_structure(tmp_path):
    base = CachedLayeredGraph([(1, 3), (2, 4), (3, 4), (4, 5)])
    family = ScalableDAN(base, {1: 0.1, 2: 0.2, 3: 0.3, 4: 0.2, 5: 0.2})
    grown = family.grow(20)
    blocks = family.vertex_correspondences
    assert [len(blocks[v]) for v in (1, 2, 3, 4, 5)] == [2, 4, 6, 4, 4]
    assert grown.number_of_edges() == sum(len(blocks[u]) * len(blocks[v]) for u, v in base.edges)
    model, graph = family.build(8, 2, 20, return_graph=True)
    graph.save(tmp_path / "s.graphml")
    torch.save(model.state_dict(), tmp_path / "m.pt")
    again = ScalableDAN.model(8, 2, CachedLayeredGraph.load(tmp_path / "s.graphml"))
    again.load_state_dict(torch.load(tmp_path / "m.pt", weights_only=True))
    x = torch.randn(3, 8)
    assert torch.equal(model(x), again(x))


def test_scalable_families_check_their_proportions():
    with pytest.raises(ValueError, match="sum to 1"):
        ScalableDAN(nx.DiGraph([(0, 1)]), {0: 0.5, 1: 0.6})
    with pytest.raises(ValueError, match="one proportion per vertex"):
        ScalableDAN(nx.DiGraph([(0, 1)]), {0: 1.0})
    family = ScalableDAN(nx.DiGraph([(0, 1), (1, 2)]), uniform_proportions(nx.path_graph(3), rng=1))
    assert family.build(4, 2, 30)(torch.zeros(1, 4)).shape == (1, 2)
    ffn = ScalableDeepFFN([0.6, 0.4])
    assert ffn.draw(10) == [6, 4] and ffn != ScalableDeepFFN([0.1, 0.9]) and str(ffn) == "[60, 40]"
    assert ffn.build(3, 2, 10)(torch.zeros(1, 3)).shape == (1, 2)
