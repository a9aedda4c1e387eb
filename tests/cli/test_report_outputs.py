"""What a researcher reads (issue 17): one network size everywhere, the logbook's statistics, the plots, and a
report that reuses the trained best model."""

from __future__ import annotations

import csv
import re
import time
from pathlib import Path

import numpy as np
import pytest

from deepstruct.cli import main
from deepstruct.evo.plots import fitness_png, network_png, non_dominated, pareto_png
from deepstruct.genomes import INITIALISERS
from deepstruct.genomes.phenotype import decode
from deepstruct.genomes.size import genome_size, model_size

TINY = ["--evaluator", "serial", "--population", "4", "--generations", "1", "--epochs", "1",
        "--set", "task.max_samples=300", "--set", "genome.num_vertices=6", "--set", "genome.min_vertices=0",
        "--set", "training.seeds=1", "--no-progress", "--mode", "baldwinian"]
SIZE = re.compile(r"\d[\d,]* vertices, \d[\d,]* hidden edges?, \d[\d,]* interface edges?, \d[\d,]* parameters")


@pytest.mark.parametrize("init", ["random_layered", "watts_strogatz", "erdos_renyi", "barabasi_albert"])
def test_a_genome_and_its_model_have_one_size(init: str) -> None:
    genome = INITIALISERS[init](12, 3, 14, rng=np.random.default_rng(1))
    model = decode(genome)
    assert genome_size(genome) == model_size(model)
    size = genome_size(genome)
    assert size.hidden_edges == genome.num_edges and size.interface_edges == genome.num_interface_edges
    assert size.params == size.connections + genome.num_vertices + genome.num_outputs
    assert size.params == sum(int(m.mask.sum()) for m in [*model.layers, model.output]) + sum(
        m.bias.numel() for m in [*model.layers, model.output])


def test_a_pruned_connection_is_not_counted() -> None:
    genome = INITIALISERS["watts_strogatz"](8, 2, 10, rng=np.random.default_rng(0))
    model = decode(genome)
    before = model_size(model)
    layer = next(m for t, m in enumerate(model.layers) if t > 0 and m.mask[:, model.input_columns(t):].any())
    t = list(model.layers).index(layer)
    rows, cols = layer.mask[:, model.input_columns(t):].nonzero(as_tuple=True)
    layer.mask[rows[0], model.input_columns(t) + cols[0]] = False
    after = model_size(model)
    assert (after.hidden_edges, after.interface_edges, after.params) == (
        before.hidden_edges - 1, before.interface_edges, before.params - 1)


@pytest.fixture(scope="module")
def two_objective_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    run_dir = tmp_path_factory.mktemp("report") / "run"
    argv = ["evolve", *TINY, "--algorithm", "nsga2", "--objectives", "accuracy,params", "--prune", "0.3",
            "--out", str(run_dir)]
    return run_dir, _run(argv)


def _run(argv: list[str]) -> str:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(argv) == 0
    return out.getvalue()


def test_summary_extract_and_objective_give_the_same_size(two_objective_run: tuple[Path, str], tmp_path: Path) -> None:
    run_dir, summary = two_objective_run
    best_line = next(line for line in summary.splitlines() if line.startswith("best network:"))
    extracted = _run(["extract", str(run_dir / "best_model.pt"), "--out", str(tmp_path / "m")])
    assert SIZE.search(best_line).group(0) == SIZE.search(extracted).group(0)  # type: ignore[union-attr]
    params = float(re.search(r"params=([\d.e+]+)", summary).group(1))  # type: ignore[union-attr]
    assert f"{int(params):,} parameters" in best_line


def test_the_logbook_has_deap_statistics_and_sizes_rounded(two_objective_run: tuple[Path, str]) -> None:
    rows = list(csv.reader((two_objective_run[0] / "logbook.csv").open()))
    header = rows[0]
    for stat in ("avg", "std", "min", "max"):
        assert f"{stat}_accuracy" in header and f"{stat}_params" in header
    assert "best_accuracy" not in header and "avg_vertices" in header and "avg_interface_edges" in header
    assert header.count("avg_params") == 1
    for row in rows[1:]:
        for cell in row:
            assert len(cell.split(".")[-1]) <= 4 if "." in cell else cell.lstrip("-").isdigit()


def test_plots_pareto_only_for_two_objectives(two_objective_run: tuple[Path, str], tmp_path: Path) -> None:
    run_dir = two_objective_run[0]
    assert (run_dir / "pareto.png").stat().st_size > 0
    single = tmp_path / "single"
    _run(["evolve", *TINY, "--out", str(single)])
    assert not (single / "pareto.png").exists() and (single / "fitness.png").exists()


def test_the_report_reuses_the_best_model_unless_asked(two_objective_run: tuple[Path, str],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = two_objective_run[0]
    model, network = run_dir / "best_model.pt", run_dir / "best_network.png"
    saved, drawn = model.read_bytes(), network.read_bytes()
    stamp = model.stat().st_mtime_ns
    assert main(["report", str(run_dir)]) == 0
    assert "best_model.pt holds the best genome already: kept" in capsys.readouterr().err
    assert model.stat().st_mtime_ns == stamp and network.read_bytes() == drawn  # the same plot, byte for byte
    assert main(["report", str(run_dir), "--retrain"]) == 0
    assert "training the best genome again" in capsys.readouterr().err
    assert model.read_bytes() == saved  # retraining gives the same network


def test_non_dominated_front() -> None:
    points = [(10, 0.5), (20, 0.9), (15, 0.6), (30, 0.8), (10, 0.4), (25, 0.95)]
    assert non_dominated(points, (-1.0, 1.0)) == [(10, 0.5), (15, 0.6), (20, 0.9), (25, 0.95)]
    assert pareto_png([{"values": [0.9, 10]}], ["accuracy"], [1.0]) is None


def test_a_large_network_draws_in_seconds_and_the_same_each_time() -> None:
    genome = INITIALISERS["watts_strogatz"](784, 10, 250, rng=np.random.default_rng(0), k=6, p=0.3)
    started = time.perf_counter()
    first = network_png(genome)
    assert time.perf_counter() - started < 15  # was ~30 s for the default digits network (networkx drawing)
    assert network_png(genome) == first and first[:8] == b"\x89PNG\r\n\x1a\n"


def test_fitness_plot_of_an_old_logbook_without_avg() -> None:
    logbook = [{"gen": g, "best": [0.5 + g / 10], "mean": [0.4], "min": [0.1], "max": [0.6]} for g in range(3)]
    assert fitness_png(logbook, ["accuracy"])[:4] == b"\x89PNG"


def test_the_end_of_run_report_says_what_it_does(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [a for a in TINY if a != "--no-progress"]
    assert main(["evolve", *argv, "--out", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err
    assert "validation: best accuracy" in err and "memory estimate" in err
    steps = [line for line in err.splitlines() if line.startswith("report (")]
    assert len(steps) >= 4 and "training the best genome again" in err and "wrote logbook.csv" in steps[-1]
