"""The journal's compact genome form: exact, much smaller, and refusing damaged or oversized packed text."""

from __future__ import annotations

import base64
import json
import zlib

import numpy as np
import pytest

from deepstruct.evo.journal_codec import CODEC, pack_genome, pack_result, unpack_genome, unpack_result
from deepstruct.genomes import INITIALISERS
from deepstruct.genomes.phenotype import decode, encode


def _weighted(seed: int) -> dict:
    genome = INITIALISERS["watts_strogatz"](64, 10, 24, rng=np.random.default_rng(seed))
    return encode(decode(genome), num_inputs=64, include_weights=True, template=genome).to_dict()


@pytest.mark.parametrize("seed", range(3))
def test_a_genome_comes_back_exactly_key_order_and_bits_included(seed: int) -> None:
    genome = _weighted(seed)
    genome["output_biases"] = [{"output": 0, "bias": -0.0}, *genome.get("output_biases", [])[1:]]
    back = unpack_genome(json.loads(json.dumps(pack_genome(genome))))
    assert json.dumps(back) == json.dumps(genome)  # same keys, same order, same float text


def test_packing_saves_more_than_nine_tenths() -> None:
    plain = INITIALISERS["random_layered"](64, 10, 24, rng=np.random.default_rng(0), num_layers=1).to_dict()
    assert len(json.dumps(pack_genome(plain))) * 10 < len(json.dumps(plain))
    weighted = _weighted(0)
    assert len(json.dumps(pack_genome(weighted))) * 4 < len(json.dumps(weighted))


def test_a_result_packs_only_its_genomes_and_old_results_read_as_they_are() -> None:
    genome = _weighted(1)
    result = {"key": "k", "values": [0.5], "reason": None, "genome": genome, "stats": {"a": 1.0}, "seconds": 1.0,
              "evaluated": genome}
    packed = pack_result(result)
    assert packed["genome"]["codec"] == CODEC and packed["stats"] == result["stats"]
    assert unpack_result(packed) == result
    assert unpack_result(result) == result  # a journal written before packing


@pytest.mark.parametrize("packed", [
    {"codec": CODEC, "data": "not base64!"},
    {"codec": CODEC, "data": base64.b64encode(b"not zlib").decode()},
    {"codec": CODEC, "data": base64.b64encode(zlib.compress(b"{not json")).decode()},
    {"codec": CODEC, "data": base64.b64encode(zlib.compress(b"{}")[:-3]).decode()},
    {"codec": "lz4", "data": ""},
    {"codec": CODEC, "data": 5},
    {"codec": CODEC, "data": base64.b64encode(zlib.compress(b'{"@columns":["a"],"@rows":[[1],[2]]}')).decode()},
    {"codec": CODEC, "data": base64.b64encode(zlib.compress(b'{"x":{"@columns":["a"],"@rows":[{"@f64":"AAA"}]}}'))
     .decode()},
])
def test_a_damaged_packed_genome_is_a_value_error(packed: dict) -> None:
    with pytest.raises(ValueError, match="packed"):
        unpack_genome(packed)


def test_a_decompression_bomb_is_refused_before_it_is_parsed() -> None:
    bomb = {"codec": CODEC, "data": base64.b64encode(zlib.compress(b" " * (8 << 20))).decode()}
    with pytest.raises(ValueError, match="more than 1048576 bytes"):
        unpack_genome(bomb, limit=1 << 20)
