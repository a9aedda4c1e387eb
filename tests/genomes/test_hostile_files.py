"""Reproducers from probing the genome loaders with hostile files: each one used to escape as another exception
type (or, for the deep chain, be accepted and take seconds to decode); each is now a GenomeError naming it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deepstruct.genomes import Genome, GenomeError, GenomeLimits, load_graphml, load_json, save_graphml, save_json


@pytest.fixture
def graphml_text(tmp_path: Path) -> str:
    path = tmp_path / "g.graphml"
    save_graphml(Genome(3, 2, edges=[(0, 1), (1, 2)]), path)
    return path.read_text(encoding="utf-8")


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("value", [10**400, -(10**400), 2**1024])
def test_integer_weight_too_large_for_a_float_is_a_genome_error(tmp_path: Path, value: int) -> None:
    data = Genome(3, 2, edges=[(0, 1), (1, 2)]).to_dict()
    data["vertices"][0]["bias"] = value  # an OverflowError in attribute_problem before
    data["edges"][0]["weight"] = 1
    path = _write(tmp_path, "g.json", json.dumps(data))
    with pytest.raises(GenomeError, match="bias too large for a float"):
        load_json(path)
    data["vertices"][0]["bias"] = 0
    data["edges"][0]["weight"] = value
    with pytest.raises(GenomeError, match="weight too large for a float"):
        load_json(_write(tmp_path, "h.json", json.dumps(data)))


def test_largest_float_sized_integer_is_still_a_valid_weight() -> None:
    g = Genome(3, 2, edges=[(0, 1)])
    g.graph.edges[0, 1]["weight"] = int(1e300)
    assert g.validate() is g


@pytest.mark.parametrize(("encoding", "problem"), [
    ("no-such-codec", "unknown encoding"),  # a LookupError before
    ("shift_jis", "multi-byte encodings are not supported"),  # a ValueError before
    ("euc-jp", "multi-byte"),
])
def test_graphml_with_a_bogus_or_multibyte_encoding_is_a_genome_error(
        tmp_path: Path, graphml_text: str, encoding: str, problem: str) -> None:
    text = graphml_text.replace('encoding="UTF-8"', f'encoding="{encoding}"')
    with pytest.raises(GenomeError, match=f"text encoding: .*{problem}"):
        load_graphml(_write(tmp_path, "g.graphml", text))


def test_graphml_in_utf16_with_a_matching_declaration_still_loads(tmp_path: Path, graphml_text: str) -> None:
    path = tmp_path / "g.graphml"
    path.write_bytes(graphml_text.replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16"))
    assert load_graphml(path) == Genome(3, 2, edges=[(0, 1), (1, 2)])


def test_graphml_data_after_a_nested_graph_is_a_genome_error(tmp_path: Path, graphml_text: str) -> None:
    # a <graph> nested in a <node> reset the current vertex: the following <data> hit a bare AssertionError
    text = graphml_text.replace('<node id="1">', '<node id="1"><graph><node id="9"></node></graph>'
                                '<data key="v_bias">1.0</data>', 1)
    with pytest.raises(GenomeError, match=r"<graph> inside a <node>"):
        load_graphml(_write(tmp_path, "g.graphml", text))


def test_graph_element_outside_graphml_root_is_refused(tmp_path: Path, graphml_text: str) -> None:
    text = graphml_text.replace('<graph id="genome"', '<desc><graph id="genome"').replace("</graph>", "</graph></desc>")
    with pytest.raises(GenomeError, match=r"<graph> inside a <desc>"):
        load_graphml(_write(tmp_path, "g.graphml", text))


def _chain(n: int, limits: GenomeLimits | None = None) -> Genome:
    return Genome(4, 2, edges=[(i, i + 1) for i in range(n - 1)], limits=limits)


def test_a_10000_vertex_chain_is_refused_for_its_depth(tmp_path: Path) -> None:
    # within every other limit, it was accepted and decode plus one forward pass took over 5 s
    data = _chain(2).to_dict()
    data["vertices"] = [{"id": i} for i in range(10_000)]
    data["edges"] = [{"source": i, "target": i + 1} for i in range(9_999)]
    data["next_id"] = 10_000
    with pytest.raises(GenomeError, match=r"10000 layers deep .*over the limit 256 \(GenomeLimits.max_depth\)"):
        load_json(_write(tmp_path, "deep.json", json.dumps(data)))


def test_depth_limit_is_counted_in_vertices_on_the_longest_path(tmp_path: Path) -> None:
    limits = GenomeLimits(max_depth=5)
    assert _chain(5, limits).validate().num_vertices == 5
    with pytest.raises(GenomeError, match="6 layers deep"):
        _chain(6, limits).validate()
    wide = Genome(4, 2, vertices=range(50), limits=limits)  # 50 parallel vertices: one layer
    assert wide.validate() is wide
    save_json(_chain(6), tmp_path / "c.json")
    save_graphml(_chain(6), tmp_path / "c.graphml")
    for load, name in ((load_json, "c.json"), (load_graphml, "c.graphml")):
        assert load(tmp_path / name).num_vertices == 6
        with pytest.raises(GenomeError, match="max_depth"):
            load(tmp_path / name, limits=limits)


def test_decode_refuses_a_genome_over_the_depth_limit() -> None:
    pytest.importorskip("torch")
    from deepstruct.genomes import decode

    genome = _chain(4, GenomeLimits(max_depth=3))
    with pytest.raises(GenomeError, match="4 layers deep"):
        decode(genome)


@pytest.mark.parametrize("value", [0, -1, 2.5, True, None])
def test_depth_limit_must_be_a_positive_int(value: object) -> None:
    with pytest.raises(GenomeError, match="max_depth must be a positive int"):
        GenomeLimits(max_depth=value)  # type: ignore[arg-type]
