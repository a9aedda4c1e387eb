import networkx as nx
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from deepstruct.genomes import Genome, GenomeLimits
from deepstruct.operators import break_cycles, repair
from tests.genomes.strategies import genomes


@st.composite
def messy_graphs(draw: st.DrawFn) -> nx.DiGraph:
    n = draw(st.integers(0, 15))
    edges = draw(st.lists(st.tuples(st.integers(0, n), st.integers(0, n)), max_size=60))
    graph = nx.DiGraph()
    graph.add_nodes_from(range(n))
    graph.add_edges_from(edges)
    return graph


@given(messy_graphs(), st.integers(0, 2**32 - 1), st.booleans())
@settings(max_examples=150, deadline=None)
def test_repair_makes_any_graph_a_valid_genome_within_limits(graph, seed, use_rng):
    genome = Genome(2, 1, limits=GenomeLimits(max_vertices=10, max_edges=20))
    genome.graph = graph
    genome.next_id = 0
    if graph.number_of_nodes():
        graph.nodes[min(graph.nodes)]["junk"] = object()
    rng = np.random.default_rng(seed) if use_rng else None
    assert repair(genome, rng=rng) is genome
    genome.validate()
    assert set(genome.vertices) <= set(graph.nodes) or genome.num_vertices == 1


@given(genomes(weights=None))
@settings(max_examples=40, deadline=None)
def test_repair_leaves_valid_genomes_alone(genome):
    before = genome.copy()
    assert repair(genome, rng=np.random.default_rng(0)) == before


def test_break_cycles_removes_only_back_edges():
    genome = Genome(2, 1)
    genome.graph.add_edges_from([(0, 1), (1, 2), (2, 0), (2, 3)])
    break_cycles(genome)
    assert sorted(genome.edges) == [(0, 1), (1, 2), (2, 3)]
