"""examples/ask_tell.py scores typed requests with the batched fitness function and improves or keeps its best."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ask_tell.py"


def test_the_ask_tell_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("ask_tell_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    best = module.main(cycles=2, epochs=1)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[-1].startswith("cycle 1: best validation accuracy")
    assert 0.1 < best <= 1.0  # better than chance on 10 classes after one epoch
