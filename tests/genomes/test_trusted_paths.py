"""A genome is validated once per trust boundary: ``from_dict`` and ``decode`` validate unless told the genome
was validated already."""

from __future__ import annotations

import pytest

from deepstruct.genomes import Genome, GenomeError
from deepstruct.genomes.phenotype import decode


def _cyclic() -> dict:
    data = Genome(2, 1, edges=[(0, 1)], input_edges=[(0, 0)], output_edges=[(1, 0)]).to_dict()
    data["edges"].append({"source": 1, "target": 0})  # parses, but is not a DAG
    return data


def test_from_dict_validates_unless_the_data_is_trusted() -> None:
    with pytest.raises(GenomeError, match="cycle"):
        Genome.from_dict(_cyclic())
    trusted = Genome.from_dict(_cyclic(), validate=False)  # the structure is parsed, the DAG rule not checked
    assert trusted.num_edges == 2
    with pytest.raises(GenomeError, match="cycle"):
        trusted.validate()
    with pytest.raises(GenomeError, match="twice"):  # malformed data is refused either way
        data = _cyclic()
        data["edges"].append(dict(data["edges"][0]))
        Genome.from_dict(data, validate=False)


def test_decode_validates_unless_told_the_genome_was_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    genome = Genome(2, 1, edges=[(0, 1)], input_edges=[(0, 0)], output_edges=[(1, 0)])
    calls: list[int] = []
    validate = Genome.validate
    monkeypatch.setattr(Genome, "validate", lambda self: (calls.append(1), validate(self))[1])
    decode(genome)
    assert len(calls) == 1
    decode(genome, validate=False)
    assert len(calls) == 1
    with pytest.raises(GenomeError, match="cycle"):
        decode(Genome.from_dict(_cyclic(), validate=False))
