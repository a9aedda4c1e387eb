"""The locally generated Reber grammar task, and the WS-vs-BA example on a tiny budget."""

from __future__ import annotations

import importlib.util
import pathlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepstruct.datasets import SYMBOLS, corrupt, embedded_reber_string, is_embedded_reber, is_reber, reber_dataset


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_generated_strings_are_grammatical_and_corruptions_are_not(seed: int) -> None:
    rng = np.random.default_rng(seed)
    s = embedded_reber_string(rng)
    assert is_embedded_reber(s) and is_reber(s[2:-2]) and s[1] == s[-2]
    bad = corrupt(s, rng)
    assert len(bad) == len(s) and not is_embedded_reber(bad)


def test_recogniser_rejects_known_bad_strings() -> None:
    assert is_reber("BTXSE") and is_reber("BPVVE") and is_embedded_reber("BTBTXSETE")
    for s in ("BTXS", "TXSE", "BTSE", "BPVVEE", "BTXSXE"):
        assert not is_reber(s)
    for s in ("BTBTXSEPE", "BTBTXSET", "BTBTSETE", "BXBTXSEXE"):
        assert not is_embedded_reber(s)


def test_dataset_is_balanced_seeded_and_one_hot() -> None:
    a, b = reber_dataset(40, 3, max_length=18), reber_dataset(40, np.random.default_rng(3), max_length=18)
    assert a.strings == b.strings and a.labels.tolist() == b.labels.tolist()
    assert a.labels.sum().item() == 20
    assert all(is_embedded_reber(s) == bool(y) for s, y in zip(a.strings, a.labels.tolist(), strict=True))
    x = a.inputs
    assert x.shape == (40, max(map(len, a.strings)), len(SYMBOLS)) and max(map(len, a.strings)) <= 18
    for i, s in enumerate(a.strings):
        decoded = "".join(SYMBOLS[int(v.argmax())] for v in x[i] if v.sum() > 0)
        assert decoded == s and bool(x[i, -1, SYMBOLS.index("E")])
    with pytest.raises(ValueError, match="max_length"):
        reber_dataset(10, 0, max_length=5)
    with pytest.raises(ValueError, match="numpy Generator or an integer seed"):
        reber_dataset(10, 0.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not grammatical"):
        corrupt("BTTE", 0)


def test_structures_example_runs_quickly() -> None:
    path = pathlib.Path(__file__).parents[2] / "examples" / "reber_structures.py"
    spec = importlib.util.spec_from_file_location("reber_structures", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    results = module.main(["--quick"])
    assert set(results) == {"WS", "BA"} and all(0.0 <= a <= 1.0 for acc in results.values() for a in acc)
