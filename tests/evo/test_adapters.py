import numpy as np
import torch

from deepstruct.evo import _adapters
from deepstruct.genomes import INITIALISERS


def test_run_pruning_touches_only_what_a_genome_can_hold_and_re_encodes_exactly():
    genome = INITIALISERS["watts_strogatz"](6, 3, 24, rng=np.random.default_rng(1), k=4, p=0.75)
    model = _adapters.decode(genome, generator=torch.Generator().manual_seed(0))
    _adapters.prune(model, 0.5)
    assert bool(model.layers[0].mask.all()) and bool(model.output.mask.all())
    hidden = [layer.mask for layer in model.layers[1:]]
    assert sum(int(m.sum()) for m in hidden) < genome.num_edges
    encoded = _adapters.encode(model, genome, include_weights=False)
    assert set(encoded.edges) == set(model.generate_structure().edges) & set(encoded.edges)
    assert encoded.num_edges <= sum(int(m.sum()) for m in hidden)
    assert _adapters.genome_key(encoded) == _adapters.genome_key(encoded.copy())
