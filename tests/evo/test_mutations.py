"""The search's own mutations and the variation rules: widening keeps the layer, a mutated child is new."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepstruct.evo.algorithms import Variation
from deepstruct.evo.config import AlgorithmConfig
from deepstruct.genomes import Genome, init_random_layered
from deepstruct.operators import mut_duplicate_vertex


def _layers(genome: Genome) -> dict[int, int]:
    """Longest-path layer of every vertex (sources 0)."""
    g = genome.graph
    layer: dict[int, int] = {}
    for v in nx.topological_sort(g):
        layer[v] = max((layer[u] + 1 for u in g.pred[v]), default=0)
    return layer


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(1, 20), layers=st.integers(1, 4))
def test_duplicate_vertex_adds_a_twin_in_the_same_layer(seed: int, size: int, layers: int) -> None:
    rng = np.random.default_rng(seed)
    genome = init_random_layered(5, 3, size, rng=rng, num_layers=min(layers, size))
    before = genome.copy()
    (genome,) = mut_duplicate_vertex(genome, rng=rng)
    genome.validate()
    (new,) = set(genome.vertices) - set(before.vertices)
    twins = [v for v in before.vertices if set(before.graph.pred[v]) == set(genome.graph.pred[new])
             and set(before.graph.succ[v]) == set(genome.graph.succ[new])]
    assert twins
    assert genome.num_edges == before.num_edges + len(genome.graph.pred[new]) + len(genome.graph.succ[new])
    old_layers, new_layers = _layers(before), _layers(genome)
    assert all(new_layers[v] == old_layers[v] for v in before.vertices)  # no vertex moves
    assert any(new_layers[new] == old_layers[v] for v in twins)


def test_duplicate_vertex_halves_inherited_outgoing_weights() -> None:
    genome = Genome(2, 1, edges=[(0, 1)])
    genome.graph.edges[0, 1]["weight"] = 0.8
    genome.graph.nodes[0]["bias"] = 0.1
    (genome,) = mut_duplicate_vertex(genome, rng=np.random.default_rng(1))  # draws vertex 0
    assert genome.graph.nodes[2]["bias"] == 0.1
    assert genome.graph.edges[0, 1]["weight"] == genome.graph.edges[2, 1]["weight"] == 0.4


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(1, 4))
def test_a_mutated_child_differs_from_its_parent(seed: int, steps: int) -> None:
    # removing an edge of an edgeless genome changes nothing: the variation must draw again
    config = AlgorithmConfig(mutations={"mut_remove_edge": 5.0, "mut_duplicate_vertex": 1.0}, max_mutations=steps)
    variation = Variation(config)
    rng = np.random.default_rng(seed)
    parent = init_random_layered(4, 2, 6, rng=rng, num_layers=1)
    child = variation.mutate(parent, rng)
    assert child is not None and child != parent
    assert child.num_vertices - parent.num_vertices <= steps
    assert parent.num_vertices == 6  # the parent is never edited


def test_variation_finds_the_search_mutations_and_the_operators() -> None:
    variation = Variation(AlgorithmConfig())
    assert "mut_duplicate_vertex" in variation.names and "mut_add_edge" in variation.names


@pytest.mark.parametrize("retries", [0, 4])
def test_known_mutants_are_drawn_again(retries: int) -> None:
    from deepstruct.evo.algorithms import make_strategy

    config = AlgorithmConfig(mutations={"mut_duplicate_vertex": 1.0, "mut_remove_vertex": 1.0}, max_mutations=1)
    strategy = make_strategy(config, ("accuracy",))
    strategy.retries = retries
    parent = init_random_layered(4, 2, 6, rng=np.random.default_rng(0), num_layers=1)
    def known(genome: Genome) -> bool:  # every grown genome is "known"
        return genome.num_vertices > parent.num_vertices

    rng = np.random.default_rng(1)
    grown = sum(strategy._mutate(parent, rng, known).num_vertices > 6 for _ in range(200))
    if retries:
        assert grown < 20  # about 200 / 2**5
    else:
        assert 70 < grown < 130


def _weigh(genome: Genome, rng: np.random.Generator) -> dict[tuple[str, int, int], float]:
    """Give every edge a weight, as a trained Lamarckian genome has; the weights by (kind, source, target)."""
    weights = {}
    for u, v, d in genome.graph.edges(data=True):
        d["weight"] = weights["h", u, v] = float(rng.normal())
    for kind, table in (("i", genome.input_edges), ("o", genome.output_edges)):
        for a, inner in table.items():
            for b, d in inner.items():
                d["weight"] = weights[kind, a, b] = float(rng.normal())
    return weights


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_a_pruning_variation_shrinks_a_trained_parent_and_keeps_the_other_weights(seed: int) -> None:
    rng = np.random.default_rng(seed)
    parent = init_random_layered(6, 3, 12, rng=rng, num_layers=2)
    before = _weigh(parent, rng)
    variation = Variation(AlgorithmConfig(mutations={"mut_prune_fraction": 1.0}, max_mutations=1))
    child = variation.mutate(parent, rng)
    assert child is not None
    after = _weigh(child.copy(), np.random.default_rng(0))  # the child's edges (weights overwritten in the copy)
    assert set(after) <= set(before)
    for u, v, d in child.graph.edges(data=True):
        assert d["weight"] == before["h", u, v]  # a pruned child inherits what it keeps unchanged
    k = max(1, round(0.1 * len(before)))  # the least a share of 0.1-0.5 prunes
    assert not set(sorted(before, key=lambda key: abs(before[key]))[:k]) & set(after)  # the smallest went
    # an untrained genome (a random-search sample) has nothing to prune: the variation cannot change it
    assert variation.mutate(init_random_layered(6, 3, 12, rng=rng, num_layers=2), rng) is None
