import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from deepstruct.genomes import Genome, GenomeLimits
from deepstruct.operators._sampling import (
    cumulative_out_degrees,
    edge_count,
    edges_fit,
    random_edge,
    random_pair,
    total_edges,
)
from tests.genomes.strategies import genomes


@given(genomes(max_vertices=12, weights=None), st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_random_edge_is_random_pair_of_the_successor_adjacency(genome, seed):
    g = genome.graph
    succ = {u: dict(g.succ[u]) for u in g}
    assert random_edge(genome, np.random.default_rng(seed)) == random_pair(succ, np.random.default_rng(seed))
    cumulative = cumulative_out_degrees(g)
    assert (cumulative[-1] if cumulative else 0) == edge_count(g) == g.number_of_edges()
    assert random_edge(genome, np.random.default_rng(seed), cumulative) == random_edge(
        genome, np.random.default_rng(seed))


@given(genomes(max_vertices=12, weights=None), st.integers(-20, 20), st.integers(1, 200))
@settings(max_examples=100, deadline=None)
def test_edges_fit_is_the_exact_limit_check(genome, extra, max_edges):
    genome.limits = GenomeLimits(max_edges=max_edges)  # small limits: both the V * V bound and the count decide
    expected = total_edges(genome) + extra <= max_edges
    assert edges_fit(genome, extra) is expected
    assert edges_fit(genome, extra, hidden=genome.graph.number_of_edges()) is expected


def test_edges_fit_decides_far_below_the_limit_without_counting():
    genome = Genome(2, 1, edges=[(0, 1), (1, 2)])
    assert edges_fit(genome, 1) and not edges_fit(genome, genome.limits.max_edges)
