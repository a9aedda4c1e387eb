"""The lottery-ticket example runs end to end on a tiny budget (MNIST-1D is generated locally)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "lottery_ticket.py"


def test_lottery_ticket_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("lottery_ticket_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    plot = tmp_path / "lt.png"
    monkeypatch.setattr(sys, "argv", ["lottery_ticket.py", "--rounds", "2", "--steps", "3", "--reinit",
                                      "--plot", str(plot)])
    threads = torch.get_num_threads()
    try:
        module.main()
    finally:
        torch.set_num_threads(threads)  # the example sets its own thread count
    out = capsys.readouterr().out
    assert "magnitude" in out and "random" in out and "reinit" in out
    assert plot.stat().st_size > 0
