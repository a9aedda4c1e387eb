"""The one mask reader per phenotype: encode, extraction, the DAN's structure arrays and the counters read the same
connections from the same masks."""

import networkx as nx
import numpy as np
import pytest
import torch

from deepstruct.evo.fitness import _count
from deepstruct.genomes import Genome, decode, encode
from deepstruct.pruning import density_report, prune_random
from deepstruct.sparse import MaskedDeepDAN, MaskedDeepFFN
from deepstruct.sparse.connections import count_set
from deepstruct.transform import GraphTransform


def _pruned_dan(seed: int) -> MaskedDeepDAN:
    genome = Genome(5, 3, edges=[(0, 2), (1, 2), (0, 3), (2, 4), (3, 4), (1, 4)],
                    input_edges=[(0, 0), (1, 0), (4, 1), (2, 3), (3, 2)], output_edges=[(4, 0), (3, 1), (2, 2)],
                    direct_edges=[(0, 2), (4, 1)])
    model = decode(genome, generator=torch.Generator().manual_seed(seed))
    prune_random(model, 0.3, generator=torch.Generator().manual_seed(seed))
    return model


def _pruned_ffn(seed: int) -> MaskedDeepFFN:
    model = MaskedDeepFFN(6, 3, [5, 4], generator=torch.Generator().manual_seed(seed))
    prune_random(model, 0.4, generator=torch.Generator().manual_seed(seed))
    return model


def _unit_edges(model) -> set[tuple[int, int]]:
    return {(s, t) for c in model.connections() for s, t in zip(*(a.tolist() for a in c.edges()[:2]), strict=True)}


@pytest.mark.parametrize("make", [_pruned_dan, _pruned_ffn])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_reader_reads_exactly_the_set_mask_entries(make, seed):
    model = make(seed)
    connections = model.connections()
    assert [c.count for c in connections] == [int(m.mask.sum()) for m in model.matrices()]
    assert sum(c.count for c in connections) == count_set(model.maskable_layers())[0]
    for c, matrix in zip(connections, model.matrices(), strict=True):
        sources, targets, weights = c.edges()
        rows, cols = np.nonzero(matrix.mask.numpy())
        assert np.array_equal(targets - c.row_start, rows)
        assert np.array_equal(weights, matrix.weight.detach().numpy()[rows, cols])
        assert len(set(zip(sources.tolist(), targets.tolist(), strict=True))) == len(sources)  # one pair per entry


@pytest.mark.parametrize("make", [_pruned_dan, _pruned_ffn])
@pytest.mark.parametrize("seed", [0, 1])
def test_extraction_is_the_reader_s_graph(make, seed):
    model = make(seed)
    compact = GraphTransform(include_weights=True).extract(model)
    assert set(zip(compact.sources.tolist(), compact.targets.tolist(), strict=True)) == _unit_edges(model)
    pruned = GraphTransform(threshold=0.2).extract(model)
    assert pruned.num_edges == sum(c.count for c in model.connections(threshold=0.2)) < compact.num_edges


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_encode_the_dan_s_structure_arrays_and_the_counters_agree(seed):
    model = _pruned_dan(seed)
    sources, targets, _ = model.edge_arrays()
    assert set(zip(sources.tolist(), targets.tolist(), strict=True)) == set(model.generate_structure().edges)
    interface = model.interface_arrays()
    n_in, hidden = model.size_input, [v for vs in model.layer_vertices for v in vs]
    unit = {**{("input", i): i for i in range(n_in)}, **{v: n_in + k for k, v in enumerate(hidden)},
            **{("output", j): n_in + len(hidden) + j for j in range(model.size_output)}}
    edges = {(unit[u], unit[v]) for u, v in zip(sources.tolist(), targets.tolist(), strict=True)}
    for kind, (a, b, _) in interface.items():
        ends = {"input": ("input", None), "output": (None, "output"), "direct": ("input", "output")}[kind]
        edges |= {(unit[(ends[0], x) if ends[0] else x], unit[(ends[1], y) if ends[1] else y])
                  for x, y in zip(a.tolist(), b.tolist(), strict=True)}
    assert edges == _unit_edges(model)
    counts = _count(model)
    assert counts["params"] == count_set(model.matrices())[0] + sum(m.bias.numel() for m in model.matrices())
    assert counts["edges"] == len(sources)  # hidden-to-hidden only (deepstruct.genomes.size)
    assert counts["interface_edges"] == sum(len(a) for a, _, _ in interface.values())
    encoded = encode(model)
    assert set(encoded.graph.edges) <= set(model.generate_structure().edges)
    inputs, outputs, _ = interface["direct"]
    assert set(encoded.interface_edges("direct")) == set(zip(inputs.tolist(), outputs.tolist(), strict=True))


def test_the_densities_count_through_count_set():
    model = _pruned_ffn(0)
    active, total = count_set(model.maskable_layers())
    assert model.density() == active / total < 1.0
    assert [row["active"] for row in density_report(model)] == [count_set([m])[0] for m in model.matrices()]
    assert nx.is_directed_acyclic_graph(nx.DiGraph(list(_unit_edges(model))))
