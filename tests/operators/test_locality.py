"""Local input windows and function-preserving children of weighted parents."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from deepstruct.evo.algorithms import Variation
from deepstruct.evo.config import AlgorithmConfig
from deepstruct.genomes import Genome, GenomeLimits, init_local
from deepstruct.genomes.phenotype import decode
from deepstruct.operators import mut_add_local_unit, mut_input_window, zero_new_edges
from deepstruct.operators.locality import window
from tests.genomes.strategies import genomes

LIMITS = GenomeLimits(max_vertices=400, max_edges=20_000)
PRESERVING = ("mut_add_edge", "mut_add_vertex", "mut_duplicate_vertex", "mut_add_input_edge", "mut_add_output_edge",
              "mut_add_local_unit")


def _contiguous(genome: Genome) -> bool:
    return all(sorted(inputs) == list(range(min(inputs), max(inputs) + 1))
               for inputs in genome.input_edges.values() if inputs)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), size=st.integers(2, 60), steps=st.integers(1, 30))
def test_window_mutations_keep_genomes_valid_and_windows_contiguous(seed: int, size: int, steps: int) -> None:
    rng = np.random.default_rng(seed)
    genome = init_local(20, 3, size, rng=rng, limits=LIMITS)
    assert _contiguous(genome)
    for _ in range(steps):
        operator = mut_input_window if rng.random() < 0.5 else mut_add_local_unit
        (genome,) = operator(genome, rng=rng)
        genome.validate()
        assert _contiguous(genome)
        assert all(0 <= i < 20 for inputs in genome.input_edges.values() for i in inputs)


def test_init_local_reads_windows_of_the_drawn_width_that_cover_the_inputs() -> None:
    genome = init_local(40, 10, 100, rng=np.random.default_rng(3), width=(7, 7), first=(0.8, 0.8), limits=LIMITS)
    spans = [window(genome, v) for v in genome.input_edges]
    assert {stop - start for start, stop in spans} == {7}
    assert len(spans) == 80
    assert min(start for start, _ in spans) == 0 and max(stop for _, stop in spans) == 40
    with pytest.raises(ValueError, match="width"):
        init_local(40, 10, 100, rng=np.random.default_rng(3), width=(5, 2))


def test_a_window_move_keeps_the_weights_of_the_inputs_it_still_reads() -> None:
    genome = Genome(10, 1, vertices=[0], input_edges=[(i, 0, {"weight": float(i)}) for i in range(2, 6)],
                    output_edges=[(0, 0, {"weight": 1.0})])
    for seed in range(20):
        child = genome.copy()
        (child,) = mut_input_window(child, rng=np.random.default_rng(seed))
        for i, data in child.input_edges[0].items():
            assert data["weight"] == (float(i) if 2 <= i < 6 else 0.0)


def _outputs(genome: Genome, x: torch.Tensor) -> torch.Tensor:
    model = decode(genome, generator=torch.Generator().manual_seed(0), load_weights=True)
    with torch.no_grad():
        return model(x)


@settings(max_examples=60, deadline=None)
@given(parent=genomes(max_vertices=10, weights=True, activations=False), seed=st.integers(0, 10_000))
def test_a_child_of_a_weighted_parent_computes_its_parents_function(parent: Genome, seed: int) -> None:
    """Every growing operator, applied through the Variation as a run does, leaves the function unchanged."""
    variation = Variation(AlgorithmConfig(mutations={name: 1.0 for name in PRESERVING}, max_mutations=4))
    child = variation.mutate(parent, np.random.default_rng(seed))
    if child is None:
        return
    x = torch.from_numpy(np.random.default_rng(seed).normal(size=(16, parent.num_inputs)).astype(np.float32))
    assert torch.allclose(_outputs(child, x), _outputs(parent, x), atol=1e-4, rtol=1e-4)


def test_zero_new_edges_leaves_edges_into_new_vertices_to_the_phenotype() -> None:
    parent = Genome(3, 1, vertices=[0], input_edges=[(0, 0, {"weight": 1.0})], output_edges=[(0, 0, {"weight": 1.0})])
    child = parent.copy()
    w = child.add_vertex()
    child.add_input_edge(1, w)
    child.add_output_edge(w, 0)
    child.add_input_edge(2, 0)
    zero_new_edges(child, parent)
    assert child.input_edges[w][1] == {} and child.output_edges[w][0] == {"weight": 0.0}
    assert child.input_edges[0][2] == {"weight": 0.0}
    unweighted = Genome(3, 1, vertices=[0])
    copy = unweighted.copy()
    copy.add_vertex()
    assert zero_new_edges(copy, unweighted) is copy and not copy.has_weights
