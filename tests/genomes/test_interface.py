"""The explicit interface of genome v2: storage, validation, limits, files (v1 migration) and hashing."""

import json
from pathlib import Path

import networkx as nx
import pytest
from hypothesis import given, settings

from deepstruct.genomes import (
    SCHEMA_VERSION,
    Genome,
    GenomeError,
    GenomeLimits,
    canonical_hash,
    from_json,
    load_graphml,
    load_json,
    save_graphml,
    save_json,
    to_json,
)
from tests.genomes.strategies import genomes

FIXTURES = Path(__file__).parent / "fixtures"


def test_the_default_interface_is_dense_and_explicit():
    g = Genome(3, 2, edges=[(0, 1), (0, 2)], vertices=[5])
    assert sorted(g.interface_edges("input")) == [(i, v) for i in range(3) for v in (0, 5)]
    assert sorted(g.interface_edges("output")) == [(v, j) for v in (1, 2, 5) for j in range(2)]
    assert g.num_interface_edges == 6 + 6 and g.direct_edges == {} and not g.has_weights
    sparse = Genome(3, 2, edges=[(0, 1)], input_edges=[(2, 0, {"weight": 0.5})], output_edges=[(1, 1)],
                    direct_edges=[(0, 0)], output_biases={1: 0.25})
    assert sparse.input_edges == {0: {2: {"weight": 0.5}}} and sparse.direct_edges == {0: {0: {}}}
    assert sparse.has_weights and sparse.validate() is sparse
    assert not sparse.copy().strip_weights().has_weights and sparse.has_weights


@pytest.mark.parametrize("kwargs, message", [
    ({"input_edges": [], "output_edges": [(1, 0)]}, "vertex 0 lies on no input-to-output path: it has no "
                                                    "predecessor and reads no input"),
    ({"input_edges": [(0, 0)], "output_edges": [(0, 0)]}, "vertex 1 lies on no input-to-output path: it has no "
                                                          "successor"),
    ({"input_edges": [(3, 0)]}, r"input edge of 0 names input 3, not an index in \[0, 3\)"),
    ({"output_edges": [(1, -1)]}, r"names output -1"),
    ({"input_edges": [(0, 9), (0, 0)]}, "missing hidden vertex 9"),
    ({"direct_edges": [(5, 0)]}, "starts at input 5"),
    ({"input_edges": [(0, 0, {"weight": float("nan")})]}, "non-finite weight"),
    ({"input_edges": [(0, 0, {"colour": 1})]}, "unknown attribute 'colour'"),
    ({"output_biases": {7: 0.0}}, "output bias belongs to output 7"),
])
def test_validation_names_the_problem(kwargs, message):
    with pytest.raises(GenomeError, match=message):
        Genome(3, 2, edges=[(0, 1)], **kwargs).validate()


def test_limits_count_interface_edges_and_the_dense_interface_is_checked_before_it_is_built():
    limits = GenomeLimits(max_edges=10)
    Genome(4, 2, edges=[(0, 1)], limits=limits).validate()  # 1 hidden + 4 input + 2 output edges
    with pytest.raises(GenomeError, match="7 edges .* over the limit 6"):
        Genome(4, 2, edges=[(0, 1)], limits=GenomeLimits(max_edges=6)).validate()
    with pytest.raises(GenomeError, match="dense interface would have"):
        Genome(1_000_000, 1_000_000, vertices=range(5000))  # 10^10 edges: refused before any is built


def test_equality_ignores_empty_entries_and_sees_every_interface_part():
    a = Genome(3, 2, edges=[(0, 1)])
    b = a.copy()
    b.input_edges[1] = {}
    assert a == b
    for change in (lambda g: g.remove_input_edge(2, 0), lambda g: g.add_output_edge(0, 1),
                   lambda g: g.add_direct_edge(0, 0), lambda g: g.output_biases.update({0: 1.0}),
                   lambda g: g.input_edges[0][1].update(weight=2.0)):
        c = a.copy()
        change(c)
        assert c != a


@pytest.mark.parametrize("name", ["v1_weighted", "v1_plain"])
def test_version_1_files_load_migrated_to_the_dense_interface(tmp_path, name):
    raw = json.loads((FIXTURES / f"{name}.json").read_text())
    assert raw["version"] == 1 and "input_edges" not in raw
    genome = load_json(FIXTURES / f"{name}.json")
    assert load_graphml(FIXTURES / f"{name}.graphml") == genome
    hidden = nx.DiGraph([(e["source"], e["target"]) for e in raw["edges"]])
    hidden.add_nodes_from(v["id"] for v in raw["vertices"])
    assert set(genome.edges) == set(hidden.edges) and genome.next_id == raw["next_id"]
    sources = [v for v in hidden if hidden.in_degree(v) == 0]
    sinks = [v for v in hidden if hidden.out_degree(v) == 0]
    assert sorted(genome.interface_edges("input")) == sorted((i, v) for v in sources for i in range(raw["num_inputs"]))
    assert sorted(genome.interface_edges("output")) == sorted((v, j) for v in sinks
                                                              for j in range(raw["num_outputs"]))
    for entry in raw["edges"]:  # hidden weights survive the migration; the interface has none (v1 had none)
        assert genome.graph.edges[entry["source"], entry["target"]] == {
            k: x for k, x in entry.items() if k not in ("source", "target")}
    assert not genome.output_biases and all(not d for _, inner in genome.input_edges.items() for d in inner.values())
    save_json(genome, tmp_path / "v2.json")  # written again: schema 2, same genome
    save_graphml(genome, tmp_path / "v2.graphml")
    assert json.loads((tmp_path / "v2.json").read_text())["version"] == SCHEMA_VERSION == 2
    assert load_json(tmp_path / "v2.json") == genome == load_graphml(tmp_path / "v2.graphml")


def test_a_version_1_file_with_interface_lists_is_refused():
    data = json.loads((FIXTURES / "v1_plain.json").read_text())
    data["input_edges"] = []
    with pytest.raises(GenomeError, match="version-1 genome has no interface lists"):
        Genome.from_dict(data)


@given(genomes(weights=None, sparse=True))
@settings(max_examples=40, deadline=None)
def test_sparse_interfaces_round_trip_through_both_files(tmp_path_factory, genome):
    assert from_json(to_json(genome)) == genome
    path = tmp_path_factory.mktemp("g") / "genome.graphml"
    save_graphml(genome, path)
    assert load_graphml(path) == genome
    other = nx.read_graphml(path)  # other tools read the interface as ordinary nodes with a kind
    kinds = nx.get_node_attributes(other, "kind")
    assert {v for v, k in kinds.items() if k == "input"} == {
        f"input:{i}" for i in {i for _, inner in genome.input_edges.items() for i in inner} | set(genome.direct_edges)}
    assert other.number_of_edges() == genome.num_edges + genome.num_interface_edges


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["input_edges"].append(dict(d["input_edges"][0])), "appears twice"),
    (lambda d: d["input_edges"].append({"input": "0", "target": 0}), "integer 'input'"),
    (lambda d: d.update(output_edges={}), "must be a list"),
    (lambda d: d["output_biases"].append({"output": 0}), "exactly 'output' and 'bias'"),
    (lambda d: d["output_edges"].clear(), "no successor and feeds no output"),
    (lambda d: d["input_edges"].extend({"input": 0, "target": 100 + k} for k in range(40)), "over the limit"),
])
def test_malformed_interface_lists_are_refused(mutate, message):
    data = Genome(3, 2, edges=[(0, 1)], output_biases={0: 0.5}).to_dict()
    mutate(data)
    with pytest.raises(GenomeError, match=message):
        Genome.from_dict(data, limits=GenomeLimits(max_edges=20))


def test_graphml_interface_nodes_are_strict(tmp_path):
    genome = Genome(2, 1, edges=[(0, 1)], output_biases={0: 0.5})
    save_graphml(genome, tmp_path / "g.graphml")
    text = (tmp_path / "g.graphml").read_text()
    for old, new, message in [
        ('<node id="input:0"><data key="v_kind">input</data></node>', "", "undeclared node input:0"),
        ('<data key="v_kind">output</data>', "", "needs the attribute kind='output'"),
        ('source="1" target="output:0"', 'source="output:0" target="1"', "runs against the interface"),
    ]:
        assert old in text
        (tmp_path / "bad.graphml").write_text(text.replace(old, new))
        with pytest.raises(GenomeError, match=message):
            load_graphml(tmp_path / "bad.graphml")


def test_the_hash_covers_the_interface_and_never_permutes_interface_units():
    a = Genome(3, 1, vertices=[0, 1], input_edges=[(0, 0), (1, 1)], output_edges=[(0, 0), (1, 0)])
    swapped = Genome(3, 1, vertices=[7, 8], input_edges=[(0, 8), (1, 7)], output_edges=[(7, 0), (8, 0)])
    assert canonical_hash(a) == canonical_hash(swapped)  # vertex ids are relabelled, input i stays input i
    moved = Genome(3, 1, vertices=[0, 1], input_edges=[(0, 0), (2, 1)], output_edges=[(0, 0), (1, 0)])
    assert canonical_hash(a) != canonical_hash(moved)
    direct = a.copy()
    direct.add_direct_edge(2, 0)
    assert canonical_hash(direct) != canonical_hash(a)
    biased = a.copy()
    biased.output_biases[0] = 0.5
    assert canonical_hash(biased) != canonical_hash(a) and canonical_hash(biased, include_weights=False) == (
        canonical_hash(a, include_weights=False))
