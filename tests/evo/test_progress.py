"""Progress output and the start population: one line per generation off a terminal; varied initial sizes."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from deepstruct.evo.progress import LineProgress, generation_line
from deepstruct.evo.progress import make_progress as _progress
from deepstruct.evo.run import EvolutionRun
from tests.evo.conftest import tiny_config


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_off_a_terminal_the_progress_is_one_line_per_generation(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    run = EvolutionRun(tiny_config(**{"algorithm.generations": 3}), tmp_path / "run", progress=True)
    run.run(report=False)
    text = stream.getvalue()
    lines = text.splitlines()
    assert "\r" not in text
    assert len(lines) == 4  # the initial generation and three more, nothing per evaluation
    assert lines[0].startswith("generation 0/3") and lines[-1].startswith("generation 3/3")
    assert f"{run.evaluations} evaluations" in lines[-1] and "validation: best accuracy" in lines[-1]


def test_a_terminal_gets_a_tqdm_bar_with_a_redraw_interval() -> None:
    bar = _progress(5, 0, True, _Terminal())
    try:
        assert not isinstance(bar, LineProgress) and bar.mininterval >= 0.5
    finally:
        bar.close()
    assert isinstance(_progress(5, 0, True, io.StringIO()), LineProgress)
    assert _progress(5, 0, False) is None


def test_generation_line_names_every_objective() -> None:
    record = {"best": [0.96, 1234.0], "mean": [0.9, 900.0]}
    assert generation_line(record, ("accuracy", "params"), 42) == \
        "validation: best accuracy 0.96 params 1234 | mean accuracy 0.9 | 42 evaluations"


def test_initial_sizes_vary_within_the_range_and_follow_the_seed(tmp_path: Path) -> None:
    config = tiny_config(**{"genome.min_vertices": 4, "genome.num_vertices": 9, "algorithm.population": 30})
    sizes = [g.num_vertices for g in EvolutionRun(config, tmp_path / "a").initial_genomes()]
    assert min(sizes) >= 4 and max(sizes) <= 9 and len(set(sizes)) >= 4
    assert sizes == [g.num_vertices for g in EvolutionRun(config, tmp_path / "b").initial_genomes()]
    fixed = tiny_config(**{"genome.min_vertices": 0, "genome.num_vertices": 9})
    assert {g.num_vertices for g in EvolutionRun(fixed, tmp_path / "c").initial_genomes()} == {9}
    clamped = tiny_config(**{"genome.min_vertices": 8, "genome.num_vertices": 5})
    assert {g.num_vertices for g in EvolutionRun(clamped, tmp_path / "d").initial_genomes()} == {5}
