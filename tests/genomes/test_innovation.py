"""The innovation registry: homologous ids for the same structural event across a population."""

import json

import numpy as np
import pytest
import torch

from deepstruct.genomes import Genome, GenomeError, InnovationRegistry, decode, encode, init_watts_strogatz
from deepstruct.operators import cx_aligned, mut_add_vertex, mut_any, mut_duplicate_vertex
from deepstruct.pruning import prune_by_magnitude


def _one_edge(next_id: int) -> Genome:
    return Genome(3, 2, edges=[(0, 1)], next_id=next_id)


def test_the_same_split_gets_the_same_id_with_a_registry_and_different_ones_without():
    a, b = _one_edge(5), _one_edge(9)  # two lineages whose counters differ
    mut_add_vertex(a, rng=np.random.default_rng(0))
    mut_add_vertex(b, rng=np.random.default_rng(1))
    assert set(a.vertices) - {0, 1} == {5} and set(b.vertices) - {0, 1} == {9}  # per-genome counters
    registry = InnovationRegistry()
    a, b = _one_edge(5), _one_edge(9)
    mut_add_vertex(a, rng=np.random.default_rng(0), registry=registry)
    mut_add_vertex(b, rng=np.random.default_rng(1), registry=registry)
    (new_a,) = set(a.vertices) - {0, 1}
    (new_b,) = set(b.vertices) - {0, 1}
    assert new_a == new_b >= 5 and b.next_id > new_b and a.next_id > new_a
    assert a.graph.has_edge(0, new_a) and b.graph.has_edge(new_b, 1)


def test_unrelated_events_get_different_ids_across_the_population():
    a = Genome(3, 2, edges=[(0, 1)], vertices=[2], next_id=3)
    b = Genome(3, 2, edges=[(1, 2)], vertices=[0], next_id=3)
    plain_a, plain_b = a.copy(), b.copy()
    mut_add_vertex(plain_a, rng=np.random.default_rng(0))
    mut_add_vertex(plain_b, rng=np.random.default_rng(0))
    assert set(plain_a.vertices) - {0, 1, 2} == set(plain_b.vertices) - {0, 1, 2} == {3}  # noise without one
    registry = InnovationRegistry()
    mut_add_vertex(a, rng=np.random.default_rng(0), registry=registry)
    mut_add_vertex(b, rng=np.random.default_rng(0), registry=registry)
    assert (set(a.vertices) - {0, 1, 2}) != (set(b.vertices) - {0, 1, 2})
    assert len(registry) == 2


def test_a_genome_never_holds_one_id_twice():
    registry = InnovationRegistry()
    g = _one_edge(2)
    mut_add_vertex(g, rng=np.random.default_rng(0), registry=registry)  # splits 0 -> 1 into 0 -> w -> 1
    g.graph.add_edge(0, 1)
    g.graph.remove_edge(0, next(iter(set(g.vertices) - {0, 1})))
    g.connect_inputs(next(iter(set(g.vertices) - {0, 1})))
    first = set(g.vertices)
    while set(g.vertices) == first:  # split 0 -> 1 again: the second occurrence of the event
        mut_add_vertex(g, rng=np.random.default_rng(len(g.vertices)), registry=registry)
    assert len(set(g.vertices)) == g.num_vertices == 4 and g.validate()


def test_duplicates_and_initialisers_use_the_registry():
    registry = InnovationRegistry()
    population = [init_watts_strogatz(4, 2, 6, rng=np.random.default_rng(s), registry=registry) for s in range(3)]
    assert all(sorted(g.vertices) == list(range(6)) for g in population) and registry.next_id == 6
    for g in population:
        g.graph.nodes[0]["activation"] = "tanh"
    copies = [g.copy() for g in population]
    for g in copies:
        while g.num_vertices == 6:
            mut_duplicate_vertex(g, rng=np.random.default_rng(3), registry=registry)
    new = [set(g.vertices) - set(range(6)) for g in copies]
    assert new[0] == new[1] == new[2] == {6}  # the same vertex duplicated in every genome: one id
    assert registry.next_id == 7


def test_mut_any_passes_the_registry_and_ids_survive_pruning_and_reencoding():
    registry = InnovationRegistry()
    g = init_watts_strogatz(5, 3, 8, rng=np.random.default_rng(0), registry=registry)
    rng = np.random.default_rng(1)
    for _ in range(30):
        mut_any(g, rng=rng, registry=registry, probabilities={"add_vertex": 1.0, "add_edge": 1.0})
    assert max(g.vertices) < registry.next_id
    model = decode(g, generator=torch.Generator().manual_seed(0))
    prune_by_magnitude(model, 0.3, scope="global")
    back = encode(model, template=g)
    assert set(back.vertices) <= set(g.vertices) and back.next_id == g.next_id


def test_crossover_aligns_homologues_of_a_shared_registry():
    registry = InnovationRegistry()
    base = Genome(2, 1, edges=[(0, 1)], next_id=2)
    a, b = base.copy(), base.copy()
    mut_add_vertex(a, rng=np.random.default_rng(0), registry=registry, attributes={"activation": "tanh"})
    mut_add_vertex(b, rng=np.random.default_rng(0), registry=registry, attributes={"activation": "tanh"})
    assert a == b  # the same event: the same genome
    c1, c2 = cx_aligned(a.copy(), b.copy(), rng=np.random.default_rng(0))
    assert c1 == a and c2 == b  # aligned homologues: nothing is duplicated or lost


def test_plain_data_round_trip_and_malformed_registries():
    registry = InnovationRegistry(4)
    g = _one_edge(4)
    registry.vertex_id(g, ("split", 0, 1))
    registry.vertex_id(g, ("duplicate", 0))
    data = json.loads(json.dumps(registry.to_dict()))
    assert InnovationRegistry.from_dict(data) == registry and len(registry) == 2
    for bad in [{"schema": "x"}, {**data, "version": 3}, {**data, "events": {}},
                {**data, "events": [["split", 0, 1, 0, 99]]}, {**data, "events": [["teleport", 0, 0, 1]]},
                {**data, "events": [data["events"][0], data["events"][0]]}, {**data, "next_id": -1}]:
        with pytest.raises(GenomeError):
            InnovationRegistry.from_dict(bad)
    with pytest.raises(GenomeError, match="not a structural event"):
        registry.vertex_id(g, ("split", "a"))
