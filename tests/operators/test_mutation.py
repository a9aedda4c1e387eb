import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepstruct.genomes import Genome, GenomeLimits, InnovationRegistry
from deepstruct.operators import (
    mut_add_edge,
    mut_add_input_edge,
    mut_add_output_edge,
    mut_add_vertex,
    mut_any,
    mut_change_attribute,
    mut_duplicate_vertex,
    mut_prune_fraction,
    mut_prune_weights,
    mut_remove_edge,
    mut_remove_input_edge,
    mut_remove_output_edge,
    mut_remove_vertex,
    mut_rewire_edge,
)
from tests.genomes.strategies import genomes

LIMITS = GenomeLimits(max_vertices=24, max_edges=40)
REGISTRY = InnovationRegistry()
OPERATORS = [
    mut_add_edge, mut_remove_edge, mut_add_vertex, mut_rewire_edge, mut_change_attribute, mut_any,
    mut_add_input_edge, mut_remove_input_edge, mut_add_output_edge, mut_remove_output_edge, mut_duplicate_vertex,
    lambda g, rng: mut_add_vertex(g, rng=rng, registry=REGISTRY),
    lambda g, rng: mut_duplicate_vertex(g, rng=rng, registry=REGISTRY),
    lambda g, rng: mut_add_input_edge(g, rng=rng, weight=0.5),
    lambda g, rng: mut_remove_vertex(g, rng=rng, reconnect=True),
    lambda g, rng: mut_remove_vertex(g, rng=rng, reconnect=False),
    lambda g, rng: mut_change_attribute(g, rng=rng, attribute="bias"),
    lambda g, rng: mut_prune_weights(g, rng=rng, k=2),
    lambda g, rng: mut_prune_fraction(g, rng=rng),
    lambda g, rng: mut_add_edge(g, rng=rng, weight=0.0),
]


def _run(genome: Genome, ops: list[int], seed: int, check: bool) -> Genome:
    global REGISTRY
    REGISTRY = InnovationRegistry()  # one population per run: its ids are at least the genome's next_id
    rng = np.random.default_rng(seed)
    for i in ops:
        (out,) = OPERATORS[i](genome, rng=rng)
        assert out is genome
        if check:
            genome.validate()  # every vertex on an input-to-output path, interface edges within the limit
            assert genome.num_vertices <= LIMITS.max_vertices
            assert genome.num_edges + genome.num_interface_edges <= LIMITS.max_edges
    return genome


@given(genomes(max_vertices=12, weights=None, limits=LIMITS),
       st.lists(st.integers(0, len(OPERATORS) - 1), min_size=50, max_size=120), st.integers(0, 2**32 - 1))
@settings(max_examples=200, deadline=None)
def test_random_operator_sequences_keep_a_valid_dag_within_limits(genome, ops, seed):
    ids_before = set(genome.vertices)
    next_before = genome.next_id
    _run(genome, ops, seed, check=True)
    new = set(genome.vertices) - ids_before
    assert all(v >= next_before for v in new)  # ids are never reused


@given(genomes(max_vertices=12, weights=None, limits=LIMITS),
       st.lists(st.integers(0, len(OPERATORS) - 1), max_size=60), st.integers(0, 2**32 - 1))
@settings(max_examples=30, deadline=None)
def test_same_seed_same_result(genome, ops, seed):
    a = _run(genome.copy(), ops, seed, check=False)
    b = _run(genome.copy(), ops, seed, check=False)
    assert a == b and a.next_id == b.next_id and list(a.graph.edges) == list(b.graph.edges)


def test_limits_stop_growth():
    genome = Genome(2, 1, edges=[(0, 1)], limits=GenomeLimits(max_vertices=3, max_edges=6))  # 1 + 3 interface
    rng = np.random.default_rng(0)
    for _ in range(50):
        mut_add_vertex(genome, rng=rng)
        mut_add_edge(genome, rng=rng)
    assert genome.num_vertices <= 3 and genome.num_edges + genome.num_interface_edges <= 6
    assert genome.validate().num_edges == 3 and genome.num_interface_edges == 3


def test_add_edge_orients_against_existing_paths():
    genome = Genome(2, 1, edges=[(0, 1), (1, 2)])
    for seed in range(20):
        g = genome.copy()
        mut_add_edge(g, rng=np.random.default_rng(seed), max_tries=100)
        assert g.graph.has_edge(0, 2) and g.validate().num_edges == 3


def test_add_vertex_splits_an_edge_and_keeps_the_function_of_weights():
    genome = Genome(2, 1, edges=[(0, 1)])
    genome.graph.edges[0, 1]["weight"] = 0.7
    mut_add_vertex(genome, rng=np.random.default_rng(0), attributes={"activation": "relu"})
    assert sorted(genome.edges) == [(0, 2), (2, 1)] and genome.next_id == 3
    assert genome.graph.edges[0, 2]["weight"] == 1.0 and genome.graph.edges[2, 1]["weight"] == 0.7
    assert genome.graph.nodes[2] == {"activation": "relu", "bias": 0.0}
    empty = Genome(2, 1, vertices=[0])
    mut_add_vertex(empty, rng=np.random.default_rng(0))
    assert empty.vertices == [0, 1]


def test_remove_vertex_reconnects_neighbours():
    genome = Genome(2, 1, edges=[(0, 2), (1, 2), (2, 3), (2, 4)], vertices=[])
    rng = np.random.default_rng(0)
    while 2 in genome.graph:
        g = genome.copy()
        mut_remove_vertex(g, rng=rng, reconnect=True)
        if 2 not in g.graph:
            assert sorted(g.edges) == [(0, 3), (0, 4), (1, 3), (1, 4)]
            break
    single = Genome(2, 1, vertices=[5])
    assert mut_remove_vertex(single, rng=rng)[0].vertices == [5]


def test_rewire_and_remove_edge_keep_edge_counts():
    genome = Genome(2, 1, edges=[(0, 1), (1, 2), (2, 3), (0, 3)])
    rng = np.random.default_rng(1)
    for _ in range(30):
        mut_rewire_edge(genome, rng=rng)
        assert genome.validate().num_edges == 4
    mut_remove_edge(genome, rng=rng)
    assert genome.num_edges == 3
    bare = Genome(2, 1, vertices=[0, 1])
    assert mut_remove_edge(bare, rng=rng)[0].num_edges == 0


def test_prune_removes_the_smallest_weights():
    genome = Genome(2, 1, edges=[(0, 1), (1, 2), (0, 2), (2, 3), (2, 4)])
    for (u, v), w in {(0, 1): 0.5, (1, 2): -0.1, (0, 2): 2.0, (2, 3): 0.05, (2, 4): 1.0}.items():
        genome.graph.edges[u, v]["weight"] = w
    mut_prune_weights(genome, rng=np.random.default_rng(0), k=2)
    # (1, 2) and (2, 3) go; 1 and 3 are then on no input-to-output path and go too, as in encoding
    assert sorted(genome.edges) == [(0, 2), (2, 4)] and sorted(genome.vertices) == [0, 2, 4]
    interface = Genome(3, 1, vertices=[0], input_edges=[(i, 0, {"weight": w}) for i, w in enumerate([0.1, 3, -2])],
                       output_edges=[(0, 0, {"weight": 0.01})])
    before = interface.copy()
    mut_prune_weights(interface, rng=np.random.default_rng(0), k=2)  # would cut the last way out: no vertex left
    assert interface == before
    interface.output_edges[0][0]["weight"] = 5.0
    mut_prune_weights(interface, rng=np.random.default_rng(0), k=1)
    assert sorted(interface.input_edges[0]) == [1, 2]  # the weakest input feature is pruned
    with pytest.raises(ValueError, match="non-negative"):
        mut_prune_weights(genome, rng=np.random.default_rng(0), k=-1)


@given(genomes(max_vertices=12, weights=None, limits=LIMITS), st.floats(0.05, 0.9), st.integers(0, 2**32 - 1))
@settings(max_examples=100, deadline=None)
def test_prune_fraction_removes_the_drawn_share_of_smallest_weights(genome, share, seed):
    rng = np.random.default_rng(seed)
    tables = (genome.input_edges, genome.output_edges, genome.direct_edges)
    for u, v in genome.edges:
        genome.graph.edges[u, v]["weight"] = float(rng.normal())
    for table in tables:
        for inner in table.values():
            for d in inner.values():
                d["weight"] = float(rng.normal())
    weights = sorted(abs(d["weight"]) for _, _, d in genome.graph.edges(data=True))
    weights += sorted(abs(d["weight"]) for table in tables for inner in table.values() for d in inner.values())
    before = genome.copy()
    mut_prune_fraction(genome, rng=np.random.default_rng(seed), low=share, high=share)
    genome.validate()
    if genome == before:  # only where pruning would have left no vertex
        return
    tables = (genome.input_edges, genome.output_edges, genome.direct_edges)  # the pruned genome's own
    kept = [abs(d["weight"]) for _, _, d in genome.graph.edges(data=True)]
    kept += [abs(d["weight"]) for table in tables for inner in table.values() for d in inner.values()]
    k = max(1, round(share * len(weights)))
    assert len(kept) <= len(weights) - k  # k pruned, and maybe more that dangled
    assert min(kept, default=np.inf) >= sorted(weights)[k - 1]  # none of the kept is below the k-th smallest


def test_prune_fraction_leaves_unweighted_genomes_and_rejects_bad_ranges():
    genome = Genome(4, 2, vertices=range(6), edges=[(0, 3), (1, 4), (2, 5)])
    before = genome.copy()
    assert mut_prune_fraction(genome, rng=np.random.default_rng(0))[0] == before
    for low, high in ((0.0, 0.5), (0.6, 0.5), (0.1, 1.0)):
        with pytest.raises(ValueError, match="0 < low <= high < 1"):
            mut_prune_fraction(genome, rng=np.random.default_rng(0), low=low, high=high)


def test_change_attribute():
    genome = Genome(2, 1, vertices=[0])
    rng = np.random.default_rng(0)
    mut_change_attribute(genome, rng=rng, choices=["tanh", "relu"])
    assert genome.graph.nodes[0]["activation"] in ("tanh", "relu")
    first = genome.graph.nodes[0]["activation"]
    mut_change_attribute(genome, rng=rng, choices=["tanh", "relu"])
    assert genome.graph.nodes[0]["activation"] != first
    mut_change_attribute(genome, rng=rng, attribute="op")
    assert genome.validate().graph.nodes[0]["op"]
    with pytest.raises(ValueError, match="cannot change"):
        mut_change_attribute(genome, rng=rng, attribute="weight")
    for sigma in (float("nan"), float("inf"), -0.1):  # a NaN bias would make the genome invalid
        with pytest.raises(ValueError, match="sigma"):
            mut_change_attribute(genome, rng=rng, attribute="bias", sigma=sigma)
    genome.validate()
    with pytest.raises(ValueError, match="weight"):
        mut_add_edge(Genome(2, 1, vertices=[0, 1]), rng=rng, weight=float("nan"))


def test_rng_is_required_and_checked():
    genome = Genome(2, 1, vertices=[0])
    with pytest.raises(TypeError):
        mut_add_edge(genome)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="numpy.random.Generator"):
        mut_add_edge(genome, rng=42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown mutations"):
        mut_any(genome, rng=np.random.default_rng(0), probabilities={"fly": 1.0})
    for bad in ({"add_edge": float("nan")}, {"add_edge": -1.0}, {"add_edge": 0.0}, {"add_edge": float("inf")}):
        with pytest.raises(ValueError, match="probabilities"):
            mut_any(genome, rng=np.random.default_rng(0), probabilities=bad)


def test_duplicate_vertex_needs_a_generator():
    from deepstruct.genomes import Genome
    from deepstruct.operators import mut_duplicate_vertex

    with pytest.raises(ValueError, match="rng must be a numpy.random.Generator"):
        mut_duplicate_vertex(Genome(2, 2, edges=[(0, 1)]), rng=0)


def test_interface_mutations_never_cut_a_last_way_in_or_out():
    genome = Genome(3, 2, edges=[(0, 1)], input_edges=[(0, 0), (1, 1)], output_edges=[(1, 0), (0, 1)])
    rng = np.random.default_rng(0)
    for _ in range(20):
        mut_remove_input_edge(genome, rng=rng)
        mut_remove_output_edge(genome, rng=rng)
    assert genome.interface_edges("input") == [(0, 0)] and genome.interface_edges("output") == [(1, 0)]
    for _ in range(40):
        mut_add_input_edge(genome, rng=rng)
        mut_add_output_edge(genome, rng=rng, weight=0.25)
    assert genome.validate().num_interface_edges == 3 * 2 + 2 * 2  # every pair, once
    assert genome.output_edges[0][1] == {"weight": 0.25}
    full = Genome(3, 2, edges=[(0, 1)], limits=GenomeLimits(max_edges=6))
    assert mut_add_input_edge(full, rng=rng, max_tries=100)[0].num_interface_edges == 5  # 3 in + 2 out: no room
    with pytest.raises(ValueError, match="finite"):
        mut_add_output_edge(full, rng=rng, weight=float("inf"))


def test_removing_a_last_edge_gives_the_v1_meaning_of_sources_and_sinks():
    genome = Genome(4, 2, edges=[(0, 1), (1, 2)])  # dense: 0 reads every input, 2 feeds every output
    rng = np.random.default_rng(0)
    while genome.graph.has_edge(0, 1):
        g = genome.copy()
        mut_remove_edge(g, rng=rng)
        if not g.graph.has_edge(0, 1):
            genome = g
    assert sorted(genome.input_edges) == [0, 1] and sorted(genome.output_edges) == [0, 2]
    assert sorted(genome.input_edges[1]) == [0, 1, 2, 3] and sorted(genome.output_edges[0]) == [0, 1]
    tight = Genome(4, 2, edges=[(0, 1)], limits=GenomeLimits(max_edges=7))
    assert mut_remove_edge(tight, rng=rng)[0].num_edges == 1  # reconnecting both ends would pass max_edges


def test_remove_vertex_hands_its_interface_to_its_neighbours():
    genome = Genome(3, 2, edges=[(0, 1)], input_edges=[(2, 0, {"weight": 2.0})],
                    output_edges=[(1, 0, {"weight": 3.0})])
    genome.graph.edges[0, 1]["weight"] = 0.5
    rng = np.random.default_rng(0)
    while genome.num_vertices == 2:
        mut_remove_vertex(genome, rng=rng)
    (left,) = genome.vertices
    if left == 1:  # 0 went: 1 reads input 2 (weight 2 * 0.5)
        assert genome.input_edges == {1: {2: {"weight": 1.0}}}
    else:  # 1 went: 0 feeds output 0 (weight 0.5 * 3)
        assert genome.output_edges == {0: {0: {"weight": 1.5}}}
    genome.validate()


@given(genomes(max_vertices=10, weights=True, activations=False), st.integers(0, 2**32 - 1))
@settings(max_examples=30, deadline=None)
def test_duplicating_a_fully_weighted_vertex_keeps_the_function(genome, seed):
    import torch

    from deepstruct.genomes import decode

    before = decode(genome, generator=torch.Generator().manual_seed(0))
    (widened,) = mut_duplicate_vertex(genome.copy(), rng=np.random.default_rng(seed))
    after = decode(widened, generator=torch.Generator().manual_seed(1))
    x = torch.randn(8, genome.num_inputs, generator=torch.Generator().manual_seed(seed % 1000))
    with torch.no_grad():
        assert torch.allclose(before(x), after(x), atol=1e-4)
