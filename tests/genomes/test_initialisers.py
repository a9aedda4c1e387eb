import numpy as np
import pytest

from deepstruct.genomes import INITIALISERS, GenomeError, GenomeLimits, initialise
from deepstruct.genomes.phenotype import is_layered

NAMES = ["watts_strogatz", "newman_watts_strogatz", "erdos_renyi", "barabasi_albert", "random_layered"]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n", [1, 2, 5, 40])
def test_initialisers_give_valid_genomes_reproducibly(name, n):
    a = INITIALISERS[name](4, 3, n, rng=np.random.default_rng(7))
    b = INITIALISERS[name](4, 3, n, rng=np.random.default_rng(7))
    assert a.validate() == b
    assert a.num_vertices == n and a.next_id == n and (a.num_inputs, a.num_outputs) == (4, 3)
    assert sorted(a.vertices) == list(range(n))


def test_watts_strogatz_common_setting_and_orientations():
    g = INITIALISERS["ws"](8, 2, 32, rng=np.random.default_rng(0), k=4, p=0.75)
    assert g.num_edges == 64
    assert all(u < v for u, v in g.edges)  # index orientation, as randomly wired networks
    r = INITIALISERS["ws"](8, 2, 32, rng=np.random.default_rng(0), orientation="coloring")
    assert r.validate().num_edges == 64


def test_random_layered_is_layered():
    g = INITIALISERS["random_layered"](4, 2, 50, rng=np.random.default_rng(0), num_layers=5, p=0.2)
    assert is_layered(g)


def test_bad_arguments_are_named():
    with pytest.raises(GenomeError, match="num_vertices"):
        initialise("er", 4, 2, 0, rng=np.random.default_rng(0))
    with pytest.raises(GenomeError, match="limit"):
        initialise("er", 4, 2, 20, rng=np.random.default_rng(0), limits=GenomeLimits(max_vertices=10))
    with pytest.raises(ValueError, match="unknown initialiser"):
        initialise("nope", 4, 2, 20, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="Generator"):
        initialise("er", 4, 2, 20, rng=0)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("rng", [None, 0, np.random.RandomState(0)])
def test_every_initialiser_refuses_anything_but_a_generator(name, rng):
    with pytest.raises(ValueError, match="numpy.random.Generator"):
        INITIALISERS[name](4, 3, 1, rng=rng)
