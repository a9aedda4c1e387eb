import networkx as nx
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from deepstruct.genomes import Genome, canonical_hash, init_random_layered
from tests.genomes.strategies import genomes, relabelled


@given(genomes(weights=None), st.integers(0, 2**32 - 1))
@settings(max_examples=80, deadline=None)
def test_isomorphic_genomes_hash_the_same(genome, seed):
    assert canonical_hash(relabelled(genome, np.random.default_rng(seed))) == canonical_hash(genome)


def _whole_graph(genome: Genome) -> nx.DiGraph:
    """The hidden DAG plus one labelled vertex per interface unit (which only matches itself)."""
    g = nx.DiGraph(genome.graph)
    for i in range(genome.num_inputs):
        g.add_node(("input", i), unit=f"input:{i}")
    for j in range(genome.num_outputs):
        g.add_node(("output", j), unit=f"output:{j}", **({"bias": genome.output_biases[j]}
                                                          if j in genome.output_biases else {}))
    for v, inner in genome.input_edges.items():
        g.add_edges_from((("input", i), v, d) for i, d in inner.items())
    for v, inner in genome.output_edges.items():
        g.add_edges_from((v, ("output", j), d) for j, d in inner.items())
    for i, inner in genome.direct_edges.items():
        g.add_edges_from((("input", i), ("output", j), d) for j, d in inner.items())
    return g


def _isomorphic(a: Genome, b: Genome) -> bool:
    if (a.num_inputs, a.num_outputs) != (b.num_inputs, b.num_outputs):
        return False
    return nx.is_isomorphic(_whole_graph(a), _whole_graph(b), node_match=lambda x, y: x == y,
                            edge_match=lambda x, y: x == y)


@given(genomes(max_vertices=7, weights=False, activations=False, interface=(2, 1)),
       genomes(max_vertices=7, weights=False, activations=False, interface=(2, 1)))
@settings(max_examples=200, deadline=None)
def test_hash_equal_exactly_when_isomorphic(a, b):
    assert (canonical_hash(a) == canonical_hash(b)) == _isomorphic(a, b)


def test_symmetric_genomes_that_colour_refinement_cannot_tell_apart():
    # two disjoint 3-paths vs one 6-path, both with the same degree sequences; and highly symmetric layers
    a = Genome(2, 1, edges=[(0, 1), (1, 2), (3, 4), (4, 5)])
    b = Genome(2, 1, edges=[(0, 1), (1, 2), (2, 3), (3, 4)], vertices=[5])
    assert canonical_hash(a) != canonical_hash(b)
    c6 = Genome(2, 1, edges=[(0, 1), (2, 1), (2, 3), (4, 3), (4, 5), (0, 5)])  # a 6-cycle, alternating
    two_c3 = Genome(2, 1, edges=[(0, 1), (2, 1), (0, 3), (4, 3), (4, 5), (2, 5)])  # a 6-cycle too
    assert canonical_hash(c6) == canonical_hash(two_c3)
    full = init_random_layered(4, 2, 60, rng=np.random.default_rng(0), num_layers=3, p=1.0)
    assert canonical_hash(full) == canonical_hash(relabelled(full, np.random.default_rng(1)))


def test_hash_sees_interface_attributes_and_weights_but_not_next_id():
    base = Genome(3, 2, edges=[(0, 1), (1, 2)])
    assert canonical_hash(base) != canonical_hash(Genome(4, 2, edges=[(0, 1), (1, 2)]))
    assert canonical_hash(base) == canonical_hash(Genome(3, 2, edges=[(0, 1), (1, 2)], next_id=50))
    other = base.copy()
    other.graph.nodes[1]["activation"] = "tanh"
    assert canonical_hash(base) != canonical_hash(other)
    weighted = base.copy()
    weighted.graph.edges[0, 1]["weight"] = 0.5
    assert canonical_hash(base) != canonical_hash(weighted)
    assert canonical_hash(base, include_weights=False) == canonical_hash(weighted, include_weights=False)


def test_budget_fallback_stays_invariant():
    full = init_random_layered(4, 2, 40, rng=np.random.default_rng(2), num_layers=4, p=0.3)
    rng = np.random.default_rng(3)
    assert canonical_hash(full, budget=1) == canonical_hash(relabelled(full, rng), budget=1)


@given(genomes(max_vertices=10, weights=None, interface=(2, 1)), st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_one_mutation_apart_hash_differently_unless_isomorphic(genome, seed):
    from deepstruct.operators import mut_any

    other = genome.copy()
    mut_any(other, rng=np.random.default_rng(seed))
    assert (canonical_hash(other) == canonical_hash(genome)) == _isomorphic(other, genome)
