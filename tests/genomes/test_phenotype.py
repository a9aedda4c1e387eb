import networkx as nx
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from deepstruct.batch_plan import MemberShape
from deepstruct.genomes import Genome, GenomeError, GenomeLimits, init_random_layered
from deepstruct.genomes.phenotype import (
    VertexActivationDAN,
    decode,
    encode,
    is_layered,
    member_shape,
    phenotype_weights,
)
from deepstruct.operators import (
    mut_add_edge,
    mut_add_input_edge,
    mut_add_output_edge,
    mut_add_vertex,
    mut_any,
    mut_duplicate_vertex,
    mut_remove_input_edge,
    mut_remove_output_edge,
)
from deepstruct.sparse import DeepCellDAN, MaskedDeepDAN, MaskedDeepFFN
from tests.genomes.strategies import genomes


@given(genomes(weights=None))
@settings(max_examples=40, deadline=None)
def test_encode_decode_is_identity(genome):
    model = decode(genome, generator=torch.Generator().manual_seed(0))
    assert model(torch.zeros(2, genome.num_inputs)).shape == (2, genome.num_outputs)
    back = encode(model, include_weights=genome.has_weights)
    assert back == genome and back.next_id == genome.next_id


@given(genomes(weights=True, activations=False))
@settings(max_examples=15, deadline=None)
def test_auto_kind_round_trips_and_loads_weights(genome):
    model = decode(genome, kind="auto")
    assert encode(model, include_weights=True) == genome
    if isinstance(model, MaskedDeepDAN):
        src, tgt, w = model.edge_arrays()
        for u, v, x in zip(src.tolist(), tgt.tolist(), w.tolist(), strict=True):
            assert x == genome.graph.edges[u, v]["weight"]


def test_kinds():
    layered = init_random_layered(5, 3, 30, rng=np.random.default_rng(0), num_layers=4, p=0.3)
    assert isinstance(decode(layered, kind="auto"), MaskedDeepFFN)
    assert isinstance(decode(layered), MaskedDeepDAN)
    assert encode(decode(layered, kind="ffn")) == layered
    skip = Genome(5, 3, edges=[(0, 1), (1, 2), (0, 2)])
    with pytest.raises(GenomeError, match="not layered"):
        decode(skip, kind="ffn")
    mixed = skip.copy()
    mixed.graph.nodes[1]["activation"] = "tanh"
    model = decode(mixed, kind="auto")
    assert isinstance(model, VertexActivationDAN) and encode(model) == mixed
    cells = Genome(3, 4, edges=[(0, 1), (1, 2), (0, 2)])
    for v, op in zip(cells.vertices, ["reduce", "conv3x3", "conv5x5"], strict=True):
        cells.graph.nodes[v]["op"] = op
    model = decode(cells, kind="auto")
    assert isinstance(model, DeepCellDAN)
    assert model(torch.zeros(2, 3, 16, 16)).shape == (2, 4)
    assert encode(model) == cells
    with pytest.raises(GenomeError, match="unknown phenotype kind"):
        decode(skip, kind="rnn")
    bad = skip.copy()
    bad.graph.nodes[0]["activation"] = "swish2"
    with pytest.raises(GenomeError, match="unknown activation"):
        decode(bad)


def test_mixed_activations_are_applied_per_vertex():
    genome = Genome(2, 1, vertices=[0, 1])
    genome.graph.nodes[0]["activation"] = "identity"
    genome.graph.nodes[1]["activation"] = "relu"
    model = decode(genome)
    with torch.no_grad():
        model.layers[0].weight.copy_(torch.tensor([[1.0, 0.0], [1.0, 0.0]]))
        model.layers[0].bias.zero_()
        model.output.weight.copy_(torch.tensor([[1.0, 10.0]]))
        model.output.bias.zero_()
    out = model(torch.tensor([[-1.0, 0.0], [2.0, 0.0]]))
    assert out.flatten().tolist() == [-1.0, 22.0]


def test_encode_removes_vertices_without_an_input_to_output_path():
    #   0 -> 2 -> 4,  1 -> 3 -> 4,  1 -> 5 (sink)
    genome = Genome(3, 2, edges=[(0, 2), (2, 4), (1, 3), (3, 4), (1, 5)])
    model = decode(genome)
    rows = model.layer_vertices[0]
    with torch.no_grad():
        model.layers[0].mask[rows.index(0)] = False  # source 0 loses all its inputs
    assert sorted(encode(model).vertices) == [1, 3, 4, 5]
    sinks = model.sinks
    with torch.no_grad():
        model.output.mask[:, sinks.index(5)] = False  # sink 5 loses all its outputs
    assert sorted(encode(model).vertices) == [1, 3, 4]
    # pruning the hidden edge 3 -> 4 leaves 3 without a path to the output
    t, row = model.vertex_position(4)
    col = model.column_vertices(t).index(3)
    with torch.no_grad():
        model.layers[t].mask[row, col] = False
    with pytest.raises(GenomeError, match="no vertex"):
        encode(model)


def test_encode_keeps_ids_weights_and_template_attributes():
    genome = Genome(3, 2, edges=[(10, 20), (20, 30)], next_id=99)
    model = decode(genome)
    back = encode(model, include_weights=True)
    assert sorted(back.vertices) == [10, 20, 30] and back.next_id == 99
    assert back.has_weights and back.graph.edges[10, 20]["weight"] == model.edge_arrays()[2][0]
    plain = MaskedDeepDAN(3, 2, genome.graph)
    template = genome.copy()
    template.graph.nodes[20]["activation"] = "tanh"
    assert encode(plain, template=template) == template
    assert encode(plain).next_id == 31
    with pytest.raises(GenomeError, match="cannot encode"):
        encode(torch.nn.Linear(2, 2))
    assert encode(model, num_inputs=3) == genome
    with pytest.raises(GenomeError, match="reads 3 inputs"):
        encode(model, num_inputs=4)  # a genome whose interface the model does not have


@given(genomes(max_vertices=12), st.integers(0, 2**32 - 1))
@settings(max_examples=40, deadline=None)
def test_encode_after_random_pruning_keeps_exactly_the_vertices_on_input_output_paths(genome, seed):
    model = decode(genome)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in [*model.layers, model.output]:
            layer.mask &= torch.rand(layer.mask.shape, generator=generator) < 0.7
    structure = model.generate_structure()
    reference = nx.DiGraph(structure)
    reference.add_nodes_from(["IN", "OUT"])
    arrays = model.interface_arrays()  # the set connections of every input block and of the output matrix
    reference.add_edges_from(("IN", v) for v in arrays["input"][1].tolist())
    reference.add_edges_from((v, "OUT") for v in arrays["output"][0].tolist())
    expected = (nx.descendants(reference, "IN") & nx.ancestors(reference, "OUT")) - {"IN", "OUT"}
    if not expected:
        with pytest.raises(GenomeError, match="no vertex"):
            encode(model)
        return
    back = encode(model).validate()
    assert set(back.vertices) == expected
    assert set(back.edges) == {(u, v) for u, v in structure.edges if u in expected and v in expected}
    assert back.next_id == genome.next_id
    assert all(back.graph.nodes[v] == genome.graph.nodes[v] for v in back.vertices)
    import deepstruct.genomes as genomes_package
    assert genomes_package.encode is encode


@pytest.mark.parametrize("kind", ["dan", "ffn", "cell"])
def test_the_generator_is_the_only_randomness_of_decode(kind):
    genome = init_random_layered(3, 2, 6, rng=np.random.default_rng(0), num_layers=2)
    if kind == "cell":
        for v in genome.vertices:
            genome.graph.nodes[v]["op"] = "conv3x3"
    state = torch.random.get_rng_state()
    a = decode(genome, kind=kind, generator=torch.Generator().manual_seed(5))
    assert torch.equal(torch.random.get_rng_state(), state), "the global torch generator was used"
    b = decode(genome, kind=kind, generator=torch.Generator().manual_seed(5))
    c = decode(genome, kind=kind, generator=torch.Generator().manual_seed(6))
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))
    assert not all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), c.state_dict().values(),
                                                     strict=True))


@given(genomes(max_vertices=12, weights=None, activations=False))
@settings(max_examples=30, deadline=None)
def test_phenotype_weights_counts_the_decoded_matrices(genome):
    from deepstruct.sparse import maskable_layers

    for kind in ["dan", "ffn"] if is_layered(genome) else ["dan"]:
        model = decode(genome, kind=kind, generator=torch.Generator().manual_seed(0))
        assert phenotype_weights(genome) == sum(layer.mask.numel() for layer in maskable_layers(model))


def test_a_hostile_interface_is_refused_before_anything_is_allocated():
    # 10^10 weights from a few bytes of JSON per vertex: one input and one output edge per vertex
    hostile = Genome(1_000_000, 1_000_000, vertices=range(5000), input_edges=[(0, v) for v in range(5000)],
                     output_edges=[(v, 0) for v in range(5000)])
    for kind in ["dan", "ffn", "auto"]:
        with pytest.raises(GenomeError, match="max_weights"):
            decode(hostile, kind=kind)
    small = GenomeLimits(max_weights=100)
    assert isinstance(decode(Genome(10, 2, edges=[(0, 1)], limits=small)), MaskedDeepDAN)  # 10 + 1 + 2 weights
    with pytest.raises(GenomeError, match="over the limit 100"):
        decode(Genome(10, 2, vertices=range(10), limits=small))
    reading = Genome(10, 2, edges=[(0, 1)], input_edges=[(0, 0), (3, 1)], output_edges=[(1, 0)],
                     direct_edges=[(4, 1)])
    assert phenotype_weights(reading) == 10 * 1 + 1 * (1 + 10) + 2 * (1 + 10)  # inputs feed layer 1 and the output


def test_decode_builds_exactly_the_interface_of_the_genome():
    genome = Genome(5, 3, edges=[(0, 1), (1, 2)], input_edges=[(0, 0), (4, 2), (1, 1)],
                    output_edges=[(2, 0), (0, 2)], direct_edges=[(3, 1)])
    model = decode(genome)
    arrays = model.interface_arrays()
    assert sorted(zip(*(a.tolist() for a in arrays["input"][:2]), strict=True)) == [(0, 0), (1, 1), (4, 2)]
    assert sorted(zip(*(a.tolist() for a in arrays["output"][:2]), strict=True)) == [(0, 2), (2, 0)]
    assert list(zip(*(a.tolist() for a in arrays["direct"][:2]), strict=True)) == [(3, 1)]
    assert encode(model) == genome
    with pytest.raises(GenomeError, match="not layered"):
        decode(genome, kind="ffn")
    assert isinstance(decode(genome, kind="auto"), MaskedDeepDAN)
    cells = Genome(3, 2, edges=[(0, 1)], input_edges=[(0, 0)])
    cells.graph.nodes[0]["op"] = "conv3x3"
    with pytest.raises(GenomeError, match="dense one"):
        decode(cells, kind="cell")


def test_ffn_phenotype_masks_its_first_and_output_layers():
    genome = Genome(4, 2, edges=[(0, 2), (1, 2), (1, 3)], input_edges=[(0, 0), (3, 0), (2, 1)],
                    output_edges=[(2, 1), (3, 0), (3, 1)])
    model = decode(genome, kind="ffn")
    assert isinstance(model, MaskedDeepFFN)
    assert model.layers[0].mask.tolist() == [[True, False, False, True], [False, False, True, False]]
    assert model.output.mask.tolist() == [[False, True], [True, True]]
    assert encode(model) == genome


_SHAPE_MUTATIONS = [mut_any, mut_add_edge, mut_add_vertex, mut_duplicate_vertex, mut_add_input_edge,
                    mut_remove_input_edge, mut_add_output_edge, mut_remove_output_edge]


def _mutated(genome, seed, steps, direct):
    """``genome`` after ``steps`` random structural and interface mutations, plus ``direct`` input->output edges."""
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        (genome,) = _SHAPE_MUTATIONS[int(rng.integers(len(_SHAPE_MUTATIONS)))](genome, rng=rng)
    for _ in range(direct):
        genome.add_direct_edge(int(rng.integers(genome.num_inputs)), int(rng.integers(genome.num_outputs)))
    return genome.validate()


@given(genomes(max_vertices=12, activations=False), st.integers(0, 2**32 - 1), st.integers(0, 8), st.integers(0, 2))
@settings(max_examples=60, deadline=None)
def test_member_shape_is_the_shape_of_the_decoded_dan(genome, seed, steps, direct):
    genome = _mutated(genome, seed, steps, direct)
    shape = member_shape(genome)
    assert shape == MemberShape.of(decode(genome, generator=torch.Generator().manual_seed(0)))
    assert shape.weights == phenotype_weights(genome)


@given(st.integers(1, 8), st.integers(2, 40), st.integers(0, 2**32 - 1), st.integers(0, 12), st.integers(0, 2))
@settings(max_examples=30, deadline=None)
def test_member_shape_of_deep_mutated_genomes(layers, vertices, seed, steps, direct):
    genome = init_random_layered(7, 3, max(vertices, layers), rng=np.random.default_rng(seed), num_layers=layers)
    genome = _mutated(genome, seed + 1, steps, direct)
    assert member_shape(genome) == MemberShape.of(decode(genome, generator=torch.Generator().manual_seed(0)))


def test_member_shape_refuses_what_decode_refuses():
    with pytest.raises(GenomeError, match="no vertices"):
        member_shape(Genome(3, 2))
    big = Genome(1000, 10, edges=[(0, 1)], limits=GenomeLimits(max_weights=1000))
    with pytest.raises(GenomeError, match="max_weights"):
        member_shape(big)
    with pytest.raises(GenomeError, match="max_weights"):
        decode(big)
