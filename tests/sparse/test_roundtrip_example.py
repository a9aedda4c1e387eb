"""The paper's round trip on digits (examples/roundtrip_digits.py) runs end to end on a tiny budget."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "roundtrip_digits.py"


def test_roundtrip_example_prunes_rebuilds_and_retrains(capsys: pytest.CaptureFixture[str]) -> None:
    prune = 0.3
    spec = importlib.util.spec_from_file_location("roundtrip_digits_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    threads = torch.get_num_threads()
    try:
        result = module.main(["--vertices", "30", "--epochs", "1", "--prune", str(prune)])
    finally:
        torch.set_num_threads(threads)  # the example sets its own thread count
    assert set(result) == {"before", "pruned", "after"} and all(0.0 <= a <= 1.0 for a in result.values())
    rows = {line[:24].strip(): line.split() for line in capsys.readouterr().out.splitlines()}
    edges, kept = int(rows["trained"][-1]), int(rows["rebuilt and retrained"][-1])
    assert kept == edges - round(prune * edges)  # the rebuilt model has exactly the unpruned edges
