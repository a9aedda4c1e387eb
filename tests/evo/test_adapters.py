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


def test_training_an_individual_leaves_the_callers_thread_count_alone():
    from deepstruct.evo.config import TrainingConfig
    from deepstruct.evo.fitness import train_genome

    rng = np.random.default_rng(0)
    genome = INITIALISERS["watts_strogatz"](4, 2, 8, rng=rng, k=2, p=0.5)
    x = rng.normal(size=(40, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    data = {f"x_{s}": x for s in ("train", "val", "test")} | {f"y_{s}": y for s in ("train", "val", "test")}
    training = {k: v for k, v in TrainingConfig().__dict__.items()} | {"epochs": 1, "seeds": 1}
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        _, stats, _ = train_genome(genome.to_dict(), 3, data, training)
        assert torch.get_num_threads() == 2
        assert 0.0 <= stats["accuracy"] <= 1.0
    finally:
        torch.set_num_threads(before)
