"""Configuration: TOML round trip, dotted overrides, errors that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepstruct.evo.config import ALGORITHMS, MODES, ConfigError, RunConfig, config_to_toml, load_config


def test_defaults_round_trip_through_toml(tmp_path: Path) -> None:
    config = RunConfig()
    path = tmp_path / "run.toml"
    path.write_text(config_to_toml(config))
    assert load_config(path) == config
    assert RunConfig.from_dict(config.to_dict()) == config


@settings(max_examples=25, deadline=None)
@given(population=st.integers(2, 500), generations=st.integers(0, 100), epochs=st.integers(1, 50),
       algorithm=st.sampled_from(ALGORITHMS), mode=st.sampled_from(MODES),
       prune=st.floats(0.0, 0.99), seed=st.integers(0, 2**31),
       objectives=st.lists(st.sampled_from(["accuracy", "params", "edges", "depth", "loss"]), min_size=1,
                           max_size=3, unique=True))
def test_any_valid_config_round_trips(population: int, generations: int, epochs: int, algorithm: str, mode: str,
                                      prune: float, seed: int, objectives: list[str]) -> None:
    from deepstruct.evo.config import tomllib  # tomli on Python 3.10

    config = RunConfig().override({
        "algorithm.population": population, "algorithm.generations": generations, "training.epochs": epochs,
        "algorithm.name": algorithm, "training.mode": mode, "training.prune_amount": prune, "seed": seed,
        "training.objectives": objectives, "algorithm.elites": 1,
    })
    assert RunConfig.from_dict(tomllib.loads(config_to_toml(config))) == config


@pytest.mark.parametrize(("field", "value"), [
    ("algorithm.population", 1), ("algorithm.population", "many"), ("training.epochs", 0),
    ("training.learning_rate", -1.0), ("training.mode", "darwinian"), ("training.objectives", ["speed"]),
    ("training.prune_amount", 1.5), ("evaluator.kind", "dask"), ("algorithm.name", "cmaes"),
    ("seed", -3), ("task.validation_fraction", 0.0), ("algorithm.mutations", {"grow": 1.0}),
    ("training.seeds", 0), ("algorithm.max_mutations", 0), ("genome.min_vertices", -1),
])
def test_bad_values_name_the_field(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=field.split(".")[0]):
        RunConfig().override({field: value})


def test_unknown_fields_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="training.epoch"):
        RunConfig().override({"training.epoch": 3})
    path = tmp_path / "bad.toml"
    path.write_text("[training]\nepochz = 3\n")
    with pytest.raises(ConfigError, match="training.epochz"):
        load_config(path)
    path.write_text("[training\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml")


def test_config_is_frozen() -> None:
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        RunConfig().seed = 3  # type: ignore[misc]
