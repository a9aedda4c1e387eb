"""Mutations of genome GraphML files, on the text (``save_graphml`` writes one element per line): DOCTYPE and
entities, XML declarations with bogus encodings, hostile values, line surgery, structure, keys, nesting, size."""

from __future__ import annotations

import re
from collections.abc import Callable

from tests.fuzzing.byte_mutations import Rng

__all__ = ["GRAPHML_MUTATIONS"]


_LAUGHS = ('<!DOCTYPE graphml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
           '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>')
_DOCTYPES = (_LAUGHS, '<!DOCTYPE graphml SYSTEM "file:///etc/passwd">',
             '<!DOCTYPE graphml [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]>',
             '<!DOCTYPE graphml [<!ENTITY x SYSTEM "file:///etc/hostname">]>')


def _lines(text: str) -> list[str]:
    return text.split("\n")


def _doctype(text: str, rng: Rng) -> str:
    decl, _, rest = text.partition("\n")
    doctype = _DOCTYPES[int(rng.integers(len(_DOCTYPES)))]
    body = rest.replace('<data key="v_activation">', '<data key="v_activation">&d;&x;', 1)
    return f"{decl}\n{doctype}\n{body}"


def _declaration(text: str, rng: Rng) -> str:
    names = ["no-such-codec", "shift_jis", "euc-jp", "gb2312", "big5", "UTF-16", "UTF-32", "latin-1", "ascii", "",
             "x" * 300, "utf-8\u0000"]
    name = names[int(rng.integers(len(names)))]
    if rng.random() < 0.2:
        return text.replace('<?xml version="1.0" encoding="UTF-8"?>', '<?xml version="9.9"?>')
    return text.replace('encoding="UTF-8"', f'encoding="{name}"', 1)


def _graphml_values(text: str, rng: Rng) -> str:
    """Hostile text in <data> values and in id/source/target attributes."""
    hostile = ["nan", "NaN", "inf", "-inf", "1e400", "9" * 30, "abc", "", " 1 ", "0x10", "\uff11", "-1", "1.0",
               "99999999999999999999", "1e-400", "&#1;", "&lt;", "<![CDATA[1]]>", "2" * 2000]
    pattern = re.compile(r'(?<=>)[^<]*(?=</data>)|(?<=id=")[^"]*|(?<=source=")[^"]*|(?<=target=")[^"]*')
    spans = list(pattern.finditer(text))
    for m in sorted((spans[int(i)] for i in set(rng.integers(len(spans), size=int(rng.integers(1, 4))))),
                    key=lambda m: -m.start()) if spans else []:
        text = text[:m.start()] + hostile[int(rng.integers(len(hostile)))] + text[m.end():]
    return text


def _graphml_lines(text: str, rng: Rng) -> str:
    """Delete, duplicate or swap whole lines (``save_graphml`` writes one element per line)."""
    lines = _lines(text)
    i, j = (int(x) for x in rng.integers(len(lines), size=2))
    choice = int(rng.integers(3))
    if choice == 0:
        del lines[i]
    elif choice == 1:
        lines.insert(j, lines[i])
    else:
        lines[i], lines[j] = lines[j], lines[i]
    return "\n".join(lines)


def _graphml_structure(text: str, rng: Rng) -> str:
    """Dangling and reversed edges, self-loops, a second graph, undirected graphs, retyped or undeclared keys."""
    nodes = re.findall(r'<node id="([^"]*)"', text)
    u = nodes[int(rng.integers(len(nodes)))] if nodes else "0"
    edges = re.findall(r'<edge source="([^"]*)" target="([^"]*)"', text)
    extra = [f'<edge source="{u}" target="{10_000 + int(rng.integers(100))}"/>', f'<edge source="{u}" target="{u}"/>',
             f'<node id="{u}"/>', '<graph id="second" edgedefault="directed"></graph>',
             '<data key="nope">1</data>', f'<node id="{u}"><graph><node id="77"/></graph><data key="v_bias">1</data>'
             '</node>', '<edge source="0"/>', "<node/>", '<data key="g_num_inputs">7</data>', "<!-- c -->",
             "<?pi x?>", "<![CDATA[<node id='5'/>]]>"]
    if edges:
        s, t = edges[int(rng.integers(len(edges)))]
        extra.append(f'<edge source="{t}" target="{s}"/>')
    replacements = [('edgedefault="directed"', 'edgedefault="undirected"'), ("<edge ", '<edge directed="false" '),
                    ('attr.type="double"', 'attr.type="int"'), ('attr.type="string"', 'attr.type="double"'),
                    ('for="node"', 'for="edge"'), ('for="graph"', 'for="all"'), ('key="v_', 'key="x_'),
                    ("<graph ", "<graph><graph "), ('xmlns="http://graphml.graphdrawing.org/xmlns"', 'xmlns="urn:x"')]
    if rng.random() < 0.5:
        old, new = replacements[int(rng.integers(len(replacements)))]
        return text.replace(old, new, int(rng.integers(1, 3)))
    at = text.find("</graph>")
    return text[:at] + extra[int(rng.integers(len(extra)))] + "\n" + text[at:] if at >= 0 else text


_FRAGMENTS = ("<graph>", "</graph>", '<node id="9">', "</node>", '<edge source="0" target="1">', "</edge>",
              '<data key="v_bias">', "</data>", '<graph id="g"><node id="9"/></graph>', '<node id="8"/>',
              '<key id="k" for="node" attr.name="bias" attr.type="double"/>', "<graphml>",
              '<data key="e_weight">2</data>',
              '<data key="v_bias">3</data>', '<data key="g_next_id">5</data>', '<desc>text</desc>')


def _misplace(text: str, rng: Rng) -> str:
    """Insert an element (or a lone start or end tag) after a random tag: nested graphs, data out of place."""
    ends = [m.end() for m in re.finditer(">", text)]
    for _ in range(int(rng.integers(1, 3))):
        at = ends[int(rng.integers(len(ends)))] if ends else 0
        text = text[:at] + _FRAGMENTS[int(rng.integers(len(_FRAGMENTS)))] + text[at:]
        ends = [m.end() for m in re.finditer(">", text)]
    return text


def _graphml_keys(text: str, rng: Rng) -> str:
    """Many key declarations, or a changed graph attribute (schema_version, num_inputs, next_id)."""
    if rng.random() < 0.3:
        keys = "".join(f'<key id="k{i}" for="node" attr.name="a{i}" attr.type="string"/>' for i in range(70))
        return text.replace("<graph ", keys + "<graph ", 1)
    name = ["schema_version", "num_inputs", "num_outputs", "next_id"][int(rng.integers(4))]
    value = ["0", "2", "3", "99", "-1", "1000001", "999999999999999999", "x", ""][int(rng.integers(9))]
    return re.sub(f'(<data key="g_{name}">)[^<]*', lambda m: m.group(1) + value, text, count=1)


def _graphml_nesting(text: str, rng: Rng) -> str:
    depth = [5, 20, 1_000, 50_000][int(rng.integers(4))]
    at = text.find("<node ")
    if at < 0:
        return text
    return text[:at] + "<x>" * depth + text[at:text.find(">", at) + 1] + "</x>" * depth + text[at:]


def _graphml_big(text: str, rng: Rng, sizes: tuple[int, ...]) -> str:
    n = sizes[int(rng.integers(len(sizes)))]
    start, end = text.find('<node '), text.find("</graph>")
    if start < 0 or end < 0:
        return text
    body = "".join(f'<node id="{i}"/>' for i in range(n))
    if rng.random() < 0.5:
        body += "".join(f'<edge source="{i}" target="{i + 1}"/>' for i in range(n - 1))
    text = re.sub(r'(<data key="g_next_id">)[^<]*', lambda m: m.group(1) + str(n), text, count=1)
    start, end = text.find('<node '), text.find("</graph>")
    return text[:start] + body + text[end:]


GRAPHML_MUTATIONS: dict[str, Callable[..., str]] = {
    "doctype": lambda text, rng, sizes: _doctype(text, rng),
    "declaration": lambda text, rng, sizes: _declaration(text, rng),
    "values": lambda text, rng, sizes: _graphml_values(text, rng),
    "lines": lambda text, rng, sizes: _graphml_lines(text, rng),
    "structure": lambda text, rng, sizes: _graphml_structure(text, rng),
    "keys": lambda text, rng, sizes: _graphml_keys(text, rng),
    "misplace": lambda text, rng, sizes: _misplace(text, rng),
    "nesting": lambda text, rng, sizes: _graphml_nesting(text, rng),
    "big": _graphml_big,
}
