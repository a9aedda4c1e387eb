"""``deepstruct extract`` of a run's best model and the run's best genome files are the same graph.

The extracted GraphML names units as genome GraphML does (hidden vertices by genome id, ``input:i``,
``output:j``); an input unit without any edge (a pruned feature) is in neither file, an output unit is in both
(every output has its bias). For a Lamarckian run the best genome *is* the trained, pruned network, so the
graphs are equal, weights included, and the re-encoded best model is the best genome; otherwise the model is
the genome trained and pruned, so its edges are a subset of the genome's.
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import torch

from deepstruct.cli import main
from deepstruct.evo.extract import phenotype_graph
from deepstruct.evo.run import EvolutionRun
from deepstruct.genomes import Genome, decode, encode, init_random_layered, load_json, save_graphml
from deepstruct.sparse import MaskedDeepDAN, MaskedDeepFFN
from tests.evo.conftest import tiny_config


def _run_and_extract(tmp_path: Path, **overrides: object) -> tuple[nx.DiGraph, nx.DiGraph, Path]:
    config = tiny_config(**{"algorithm.generations": 1, "training.prune_amount": 0.3, **overrides})
    run = EvolutionRun(config, tmp_path / "run").run()
    assert main(["extract", str(run.run_dir / "best_model.pt"), "--out", str(tmp_path / "net")]) == 0
    return (nx.read_graphml(tmp_path / "net.graphml"), nx.read_graphml(run.run_dir / "best" / "genome_00.graphml"),
            run.run_dir)


def _weights(graph: nx.DiGraph) -> dict[tuple[str, str], float]:
    return {(u, v): d["weight"] for u, v, d in graph.edges(data=True)}


@pytest.mark.parametrize("phenotype", ["dan", "auto"])
def test_a_lamarckian_runs_extracted_best_model_is_its_best_genome(tmp_path: Path, phenotype: str) -> None:
    extracted, genome_graph, run_dir = _run_and_extract(
        tmp_path, **{"training.mode": "lamarckian", "training.phenotype": phenotype,
                     "training.prune_scope": "global"})
    assert set(extracted.nodes) == set(genome_graph.nodes)
    assert set(extracted.edges) == set(genome_graph.edges)
    assert _weights(extracted) == _weights(genome_graph)  # the float32 weights, exactly
    assert {v for v in extracted if v.startswith("output:")} == {f"output:{j}" for j in range(10)}
    best = load_json(run_dir / "best" / "genome_00.json")
    assert load_json(tmp_path / "net.genome.json") == best  # the re-encoded best model is the best genome


def test_a_baldwinian_runs_extracted_best_model_is_its_best_genome_pruned(tmp_path: Path) -> None:
    extracted, genome_graph, _ = _run_and_extract(tmp_path, **{"training.mode": "baldwinian"})
    hidden = {v for v in genome_graph if ":" not in v}
    assert {v for v in extracted if ":" not in v} == hidden  # the same vertex ids; pruning removes none
    assert set(extracted.edges) < set(genome_graph.edges)  # pruned connections are absent edges
    assert set(extracted.nodes) <= set(genome_graph.nodes) | {f"output:{j}" for j in range(10)}


def _graphml_graph(genome: Genome, path: Path) -> nx.DiGraph:
    save_graphml(genome, path)
    return nx.read_graphml(path)


@pytest.mark.parametrize("kind", ["dan", "ffn"])
def test_the_extracted_graph_of_a_decoded_genome_is_its_graphml(tmp_path: Path, kind: str) -> None:
    genome = init_random_layered(5, 3, 9, rng=np.random.default_rng(4), num_layers=3)
    first = next(iter(genome.input_edges))
    for v in list(genome.input_edges):  # input 4 is a pruned feature; vertex `first` also loses input 0
        genome.remove_input_edge(4, v)
    genome.remove_input_edge(0, first)
    model = decode(genome.validate(), kind=kind, generator=torch.Generator().manual_seed(0))
    assert isinstance(model, MaskedDeepFFN if kind == "ffn" else MaskedDeepDAN)
    extracted = phenotype_graph(model)
    expected = _graphml_graph(encode(model, include_weights=True), tmp_path / "g.graphml")
    assert set(map(str, extracted.nodes)) == set(expected.nodes) and "input:4" not in extracted
    assert set(extracted.edges) == set(expected.edges)
    assert _weights(extracted) == _weights(expected)
    assert extracted.graph == {"num_inputs": 5, "num_outputs": 3}


def test_a_pruned_vertex_stays_in_the_extracted_graph_but_not_in_the_reencoded_genome() -> None:
    genome = Genome(3, 2, edges=[(0, 2), (1, 2), (1, 3)], vertices=[4])
    model = decode(genome, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        model.layers[0].mask[model.layer_vertices[0].index(1)] = False  # vertex 1 reads no input any more
    extracted = phenotype_graph(model)
    assert {"1", "3"} <= set(extracted) and not any(u.startswith("input:") for u, _ in extracted.in_edges("1"))
    assert sorted(encode(model).vertices) == [0, 2, 4]


def test_a_foreign_model_is_refused() -> None:
    with pytest.raises(ValueError, match="GraphTransform"):
        phenotype_graph(torch.nn.Linear(3, 2))
