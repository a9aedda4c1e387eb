import json
import xml.etree.ElementTree as ET

import networkx as nx
import pytest
from hypothesis import given, settings

from deepstruct.genomes import (
    Genome,
    GenomeError,
    GenomeLimits,
    from_json,
    load_graphml,
    load_json,
    save_graphml,
    save_json,
    to_json,
)
from tests.genomes.strategies import genomes


@given(genomes(weights=None))
@settings(max_examples=60, deadline=None)
def test_json_round_trip(genome):
    back = from_json(to_json(genome))
    assert back == genome and back.next_id == genome.next_id


@given(genome=genomes(weights=None))
@settings(max_examples=30, deadline=None)
def test_graphml_round_trip(tmp_path_factory, genome):
    path = tmp_path_factory.mktemp("g") / "genome.graphml"
    save_graphml(genome, path)
    back = load_graphml(path)
    assert back == genome and back.next_id == genome.next_id


def test_files_round_trip_and_graphml_is_standard(tmp_path):
    genome = Genome(3, 2, edges=[(0, 1), (1, 2)])
    genome.graph.nodes[1]["activation"] = "tanh"
    genome.graph.edges[0, 1]["weight"] = 0.5
    save_json(genome, tmp_path / "g.json")
    save_graphml(genome, tmp_path / "g.graphml")
    assert load_json(tmp_path / "g.json") == genome
    assert load_graphml(tmp_path / "g.graphml") == genome
    other = nx.read_graphml(tmp_path / "g.graphml")  # other tools read it
    assert other.number_of_edges() == 2 + genome.num_interface_edges and other.nodes["1"]["activation"] == "tanh"
    assert other.nodes["input:0"]["kind"] == "input" and other.has_edge("input:2", "0")


def _valid_dict():
    return Genome(3, 2, edges=[(0, 1), (1, 2)]).to_dict()


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(schema="something.else"), "not a deepstruct genome"),
    (lambda d: d.update(version=99), "unsupported genome schema version"),
    (lambda d: d.update(num_inputs=-1), "num_inputs"),
    (lambda d: d.update(num_outputs="2"), "num_outputs"),
    (lambda d: d.update(next_id=1), "out of range"),
    (lambda d: d["edges"].append({"source": 2, "target": 0}), "cycle"),
    (lambda d: d["edges"].append({"source": 1, "target": 1}), "self-loop"),
    (lambda d: d["edges"].append({"source": 0, "target": 7}), "missing vertex"),
    (lambda d: d["edges"].append({"source": 0.0, "target": 2}), "missing vertex"),
    (lambda d: d["vertices"].append({"id": 0}), "appears twice"),
    (lambda d: d["vertices"].append({"id": True}), "non-integer id"),
    (lambda d: d["vertices"][0].update(evil="__import__('os')"), "unknown attribute"),
    (lambda d: d["vertices"][0].update(activation=["relu"]), "malformed activation"),
    (lambda d: d["edges"][0].update(weight="1.0"), "non-numeric weight"),
    (lambda d: d.update(vertices=[], edges=[]), "no vertices"),
    (lambda d: d.pop("edges"), "'vertices' and 'edges'"),
])
def test_corrupt_json_is_rejected_with_a_clear_error(mutate, message):
    data = _valid_dict()
    mutate(data)
    with pytest.raises(GenomeError, match=message):
        from_json(json.dumps(data))


@pytest.mark.parametrize("text, message", [
    ("", "not valid genome JSON"),
    ("{", "not valid genome JSON"),
    ("[1, 2]", "must be a JSON object"),
    ('{"schema": 1, "schema": 2}', "duplicate key"),
    ('{"a": NaN}', "not a valid number"),
    ("[" * 100_000 + "]" * 100_000, "not valid genome JSON"),
    ('{"a": 1' + "0" * 10_000 + "}", "not valid genome JSON"),
    (b"\xff\xfe", "not valid UTF-8"),
])
def test_hostile_json_is_rejected(text, message):
    with pytest.raises(GenomeError, match=message):
        from_json(text)


def test_limits_are_enforced_before_and_after_parsing(tmp_path):
    genome = Genome(3, 2, edges=[(i, i + 1) for i in range(20)])
    with pytest.raises(GenomeError, match="over the limit"):
        from_json(to_json(genome), limits=GenomeLimits(max_vertices=10))
    with pytest.raises(GenomeError, match="over the limit"):
        from_json(to_json(genome), limits=GenomeLimits(max_edges=5))
    big = tmp_path / "big.json"
    big.write_text(" " * 200_000)
    with pytest.raises(GenomeError, match="bytes"):
        load_json(big, limits=GenomeLimits(max_vertices=10, max_edges=10))
    with pytest.raises(GenomeError, match="cannot read"):
        load_json(tmp_path / "missing.json")


LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns"><graph edgedefault="directed">
<node id="&lol2;"/></graph></graphml>"""

EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE g [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns"><graph edgedefault="directed">
<node id="0"><data key="a">&xxe;</data></node></graph></graphml>"""


def _graphml(body: str, graph_attrs: str = 'edgedefault="directed"') -> str:
    keys = "".join(f'<key id="g_{n}" for="graph" attr.name="{n}" attr.type="int"/>'
                   for n in ("num_inputs", "num_outputs", "next_id", "schema_version"))
    keys += '<key id="v_bias" for="node" attr.name="bias" attr.type="double"/>'
    head = ('<data key="g_num_inputs">3</data><data key="g_num_outputs">2</data>'
            '<data key="g_next_id">100</data><data key="g_schema_version">1</data>')
    return (f'<graphml xmlns="http://graphml.graphdrawing.org/xmlns">{keys}<graph {graph_attrs}>{head}'
            f"{body}</graph></graphml>")


@pytest.mark.parametrize("text, message", [
    (LAUGHS, "DOCTYPE"),
    (EXTERNAL, "DOCTYPE"),
    ("<graphml><graph>", "not well-formed"),
    ("not xml at all", "not well-formed"),
    ("<graphml></graphml>", "no <graph>"),
    (_graphml('<node id="0"/>', 'edgedefault="undirected"'), "directed"),
    (_graphml('<node id="zero"/>'), "must be an integer"),
    (_graphml('<node id="0"/><node id="1"/><edge source="0" target="1"/><edge source="1" target="0"/>'),
     "cycle"),
    (_graphml('<node id="0"><data key="v_bias">nan</data></node>'), "non-finite"),
    (_graphml('<node id="0"><data key="v_bias">1e999</data></node>'), "non-finite"),
    (_graphml('<node id="0"><data key="nokey">1</data></node>'), "undeclared key"),
    (_graphml('<node id="0"/>').replace('<data key="g_next_id">100</data>', ""), "next_id"),
    (_graphml('<node id="0"/><edge source="0" target="9"/>'), "missing vertex"),
    (_graphml('<node id="0"><node id="1"/><data key="v_bias">1</data></node>'), "<node> inside a <node>"),
    (_graphml('<node id="0"/>').replace("<graph ", '<node id="7"><data key="v_bias">1</data></node><graph '),
     "<node> inside a <graphml>"),
])
def test_corrupt_and_hostile_graphml_is_rejected(tmp_path, text, message):
    path = tmp_path / "g.graphml"
    path.write_text(text)
    with pytest.raises(GenomeError, match=message):
        load_graphml(path)


def test_graphml_counts_are_limited_while_parsing(tmp_path):
    path = tmp_path / "g.graphml"
    path.write_text(_graphml("".join(f'<node id="{i}"/>' for i in range(50))))
    with pytest.raises(GenomeError, match="more than 10 vertices"):
        load_graphml(path, limits=GenomeLimits(max_vertices=10))
    ET.fromstring(_graphml('<node id="0"/>'))  # the helper itself writes well-formed XML
    assert load_graphml(path).num_vertices == 50


def test_graphml_refuses_strings_xml_cannot_hold(tmp_path):
    genome = Genome(3, 2, vertices=[0])
    genome.graph.nodes[0]["activation"] = "re\x00lu"
    with pytest.raises(GenomeError, match="control characters"):
        save_graphml(genome, tmp_path / "g.graphml")
    genome.graph.nodes[0]["activation"] = "<&'\">"
    save_graphml(genome, tmp_path / "g.graphml")
    assert load_graphml(tmp_path / "g.graphml") == genome
