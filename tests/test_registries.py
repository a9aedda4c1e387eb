"""Every registry has one owner; each test ties the lists derived from (or, where torch must stay out, copied
from) the owner to it, so that adding a name in one place and not the other fails here."""

import pytest
import torch

import deepstruct.operators as operators
from deepstruct.evo import algorithms, config
from deepstruct.evo.training import resolve_device
from deepstruct.genomes import Genome, GenomeError, decode, phenotype, vocabulary
from deepstruct.pruning import SCOPES, prune_by_magnitude
from deepstruct.sparse import MaskedDeepFFN


def test_every_configurable_algorithm_has_a_strategy_and_every_strategy_a_name():
    assert set(algorithms._STRATEGIES) == set(config.ALGORITHMS)
    for name in config.ALGORITHMS:
        strategy = algorithms.make_strategy(config.AlgorithmConfig(name=name, population=4), ("accuracy",),
                                            sample=lambda rng: Genome(2, 1, edges=[(0, 1)]))
        assert isinstance(strategy, algorithms._STRATEGIES[name])


def test_the_operator_names_of_a_run_are_the_operators_table_and_the_public_operators():
    assert algorithms.OPERATOR_NAMES == tuple(operators.OPERATORS)
    public = {name for name in operators.__all__ if name.startswith(("mut_", "cx_"))}
    assert public == set(operators.OPERATORS)
    assert all(getattr(operators, name) is op and op.__name__ == name for name, op in operators.OPERATORS.items())
    assert set(operators.MUTATION_OPERATORS) == {name for name in public if name.startswith("mut_")}
    assert set(operators.CROSSOVER_OPERATORS) == {name for name in public if name.startswith("cx_")}
    defaults = config.AlgorithmConfig()
    assert set(defaults.mutations) <= set(operators.MUTATION_OPERATORS)
    assert defaults.crossover in operators.CROSSOVER_OPERATORS


def test_the_structural_mutations_are_operators_named_without_their_prefix():
    for name, op in operators.MUTATIONS.items():
        assert operators.MUTATION_OPERATORS[f"mut_{name}"] is op


def test_the_activations_the_decoder_builds_are_the_genome_vocabulary():
    assert tuple(phenotype.ACTIVATIONS) == vocabulary.ACTIVATION_NAMES == tuple(vocabulary.TORCH_ACTIVATIONS)
    for name, module in phenotype.ACTIVATIONS.items():
        assert issubclass(module, torch.nn.Module)
        model = decode(Genome(3, 1, edges=[(0, 1)]), kind="dan", activation=name)
        assert isinstance(model.activation, module)


def test_the_cell_operations_are_the_genome_vocabulary():
    assert tuple(phenotype.OPERATIONS) == vocabulary.OPERATION_NAMES


def test_decode_builds_every_phenotype_kind_and_a_run_trains_all_but_cells():
    genome = Genome(2, 1, edges=[(0, 1)])
    for kind in vocabulary.PHENOTYPE_KINDS:
        assert isinstance(decode(genome, kind=kind, generator=torch.Generator().manual_seed(0)), torch.nn.Module)
    with pytest.raises(GenomeError, match="choose dan, ffn, cell or auto"):
        decode(genome, kind="rnn")
    assert config.PHENOTYPES == tuple(kind for kind in vocabulary.PHENOTYPE_KINDS if kind != "cell")


def test_the_configured_prune_scopes_are_those_pruning_knows():
    assert config.PRUNE_SCOPES == SCOPES
    for scope in SCOPES:
        model = MaskedDeepFFN(4, 2, [6], generator=torch.Generator().manual_seed(0))
        prune_by_magnitude(model, amount=0.5, scope=scope)
    with pytest.raises(ValueError, match="scope must be 'layer' or 'global', got 'all'"):
        prune_by_magnitude(MaskedDeepFFN(4, 2, [6]), amount=0.5, scope="all")


def test_resolve_device_knows_exactly_the_configured_devices():
    assert config.DEVICES == ("auto", "cpu", "cuda")
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda")
    if torch.cuda.is_available():
        assert resolve_device("cuda").type == "cuda"
    else:
        with pytest.raises(ValueError, match="finds no CUDA device"):
            resolve_device("cuda")
    with pytest.raises(ValueError, match="training.device must be 'auto', 'cpu' or 'cuda', got 'tpu'"):
        resolve_device("tpu")


def test_the_config_refuses_names_outside_each_registry():
    with pytest.raises(config.ConfigError, match="algorithm.name"):
        config.AlgorithmConfig(name="annealing")
    with pytest.raises(config.ConfigError, match="training.phenotype"):
        config.TrainingConfig(phenotype="cell")
    with pytest.raises(config.ConfigError, match="training.prune_scope"):
        config.TrainingConfig(prune_scope="all")
    with pytest.raises(config.ConfigError, match="training.device"):
        config.TrainingConfig(device="tpu")
