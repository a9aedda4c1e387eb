import copy

import networkx as nx
import pytest
from hypothesis import given, settings

from deepstruct.genomes import Genome, GenomeError, GenomeLimits
from deepstruct.genomes.genome import copy_graph
from tests.genomes.strategies import genomes


def test_validation_names_the_problem():
    cyclic = Genome(2, 1, edges=[(0, 1), (1, 2), (2, 0)])
    with pytest.raises(GenomeError, match="cycle: "):
        cyclic.validate()
    with pytest.raises(GenomeError, match="out of range"):
        Genome(2, 1, edges=[(0, 1)], next_id=1).validate()
    with pytest.raises(GenomeError, match="over the limit"):
        Genome(2, 1, edges=[(0, 1), (1, 2)], limits=GenomeLimits(max_edges=1)).validate()
    with pytest.raises(GenomeError, match="must be ints"):
        Genome(2, 1, vertices=["a"])
    with pytest.raises(GenomeError, match="num_inputs"):
        Genome(0, 1)
    with pytest.raises(GenomeError, match="max_vertices"):
        GenomeLimits(max_vertices=0)


def test_copies_are_independent_and_deepcopy_keeps_the_class():
    class Individual(Genome):
        pass

    genome = Individual(3, 2, edges=[(0, 1)])
    genome.graph.edges[0, 1]["weight"] = 0.5
    genome.fitness = [1.0]
    clone = copy.deepcopy(genome)
    assert type(clone) is Individual and clone == genome and clone.fitness == [1.0]
    clone.graph.edges[0, 1]["weight"] = 2.0
    clone.fitness.append(2.0)
    assert genome.graph.edges[0, 1]["weight"] == 0.5 and genome.fitness == [1.0]
    plain = genome.copy()
    plain.graph.add_edge(1, 2)
    assert genome.num_edges == 1 and plain.graph.has_edge(0, 1) and plain.next_id == genome.next_id
    assert list(plain.graph.predecessors(1)) == [0]


def test_weights_and_ids():
    genome = Genome(3, 2, edges=[(0, 1)])
    assert not genome.has_weights
    genome.graph.nodes[0]["bias"] = 0.1
    assert genome.has_weights and not genome.strip_weights().has_weights
    assert genome.add_vertex(activation="tanh") == 2 and genome.next_id == 3
    with pytest.raises(GenomeError, match="vertex 2 lies on no input-to-output path"):
        genome.validate()  # a new vertex has no edges yet
    genome.connect_inputs(2)
    genome.connect_outputs(2)
    assert genome.validate().graph.nodes[2] == {"activation": "tanh"}
    assert sorted(genome.input_edges[2]) == [0, 1, 2] and sorted(genome.output_edges[2]) == [0, 1]


@given(genomes(max_vertices=12, weights=True))
@settings(max_examples=40, deadline=None)
def test_copy_graph_equals_networkx_copy(genome):
    g = genome.graph
    g.graph["name"] = "g"
    out, reference = copy_graph(g), g.copy()
    assert type(out) is nx.DiGraph and out.graph == reference.graph
    assert list(out.nodes(data=True)) == list(reference.nodes(data=True))
    assert list(out.edges(data=True)) == list(reference.edges(data=True))
    assert {v: dict(out.pred[v]) for v in out} == {v: dict(reference.pred[v]) for v in reference}
    for u, v, d in out.edges(data=True):
        assert d is out.pred[v][u] and d is not g.edges[u, v]  # one dict per edge, not the original's
    for v, d in out.nodes(data=True):
        assert d is not g.nodes[v]
    out.add_edge(max(out, default=0) + 1, max(out, default=0) + 2)  # the copy works as any graph
    assert out.number_of_edges() == g.number_of_edges() + 1 and nx.is_directed_acyclic_graph(out)
