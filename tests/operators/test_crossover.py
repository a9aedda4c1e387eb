import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from deepstruct.genomes import Genome, GenomeLimits
from deepstruct.operators import cx_aligned, cx_subgraph, mut_add_vertex, mut_any
from tests.genomes.strategies import genomes

LIMITS = GenomeLimits(max_vertices=20, max_edges=30)
CROSSOVERS = [cx_aligned, cx_subgraph]


def _related(genome: Genome, seed: int, steps: int) -> Genome:
    """A relative of ``genome``: the same ids, a few mutations apart."""
    rng = np.random.default_rng(seed)
    other = genome.copy()
    for _ in range(steps):
        mut_any(other, rng=rng)
    return other


@given(genomes(max_vertices=14, weights=None, limits=LIMITS), genomes(max_vertices=14, limits=LIMITS),
       st.integers(0, 2**32 - 1), st.sampled_from(CROSSOVERS), st.booleans())
@settings(max_examples=120, deadline=None)
def test_children_are_valid_and_their_vertices_come_from_the_parents(a, b, seed, cx, related):
    if related:
        b = _related(a, seed, 8)
    parents = set(a.vertices) | set(b.vertices)
    next_id = max(a.next_id, b.next_id)
    c1, c2 = cx(a, b, rng=np.random.default_rng(seed))
    assert c1 is a and c2 is b
    for child in (c1, c2):
        child.validate()
        assert set(child.vertices) <= parents
        assert child.num_vertices <= LIMITS.max_vertices and child.num_edges <= LIMITS.max_edges
        assert child.next_id >= next_id


@given(genomes(max_vertices=14, weights=None), st.integers(0, 2**32 - 1), st.sampled_from(CROSSOVERS))
@settings(max_examples=40, deadline=None)
def test_same_seed_same_children(a, seed, cx):
    b = _related(a, seed, 10)
    x1, x2 = cx(a.copy(), b.copy(), rng=np.random.default_rng(seed))
    y1, y2 = cx(a.copy(), b.copy(), rng=np.random.default_rng(seed))
    assert x1 == y1 and x2 == y2


@given(genomes(max_vertices=14, weights=None), st.integers(0, 2**32 - 1), st.sampled_from(CROSSOVERS))
@settings(max_examples=40, deadline=None)
def test_crossing_a_genome_with_itself_gives_itself(a, seed, cx):
    c1, c2 = cx(a.copy(), a.copy(), rng=np.random.default_rng(seed))
    assert c1 == a and c2 == a


def test_aligned_crossover_keeps_homologous_structure():
    a = Genome(3, 1, edges=[(0, 1), (1, 2)])
    b = a.copy()
    mut_add_vertex(b, rng=np.random.default_rng(0))  # b splits one edge with vertex 3
    b.graph.add_edge(0, 2)
    c1, c2 = cx_aligned(a.copy(), b.copy(), rng=np.random.default_rng(1), p_disjoint=1.0)
    assert set(c1.vertices) == {0, 1, 2} and c1.graph.has_edge(0, 2)
    assert set(c2.vertices) == {0, 1, 2, 3}
    assert c1.next_id == c2.next_id == 4
