"""Fuzz both genome loaders with a seeded corpus of mutated files (``tests/fuzzing``): whatever the bytes, the
only outcomes are a valid genome or a GenomeError, each within a time and a memory bound per file.

The long offline run of the same corpus is ``benchmarks/fuzz_genome_files.py``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from deepstruct.genomes import GenomeLimits, load_graphml, load_json
from tests.fuzzing import GRAPHML_MUTATIONS, JSON_MUTATIONS, genome_corpus, load_case, seed_files, seed_genomes
from tests.fuzzing.byte_mutations import BYTE_MUTATIONS

SECONDS_PER_FILE = 2.0  # the slowest file takes about 0.25 s on one busy core
BASE_BYTES, BYTES_PER_BYTE = 4 << 20, 64  # traced peak <= 4 MiB + 64 x file size (measured: 10 KiB + 64 x size)
# tight limits make the size refusals cheap: "big" files just over them (1,001 vertices, 65 layers)
TIGHT = GenomeLimits(max_vertices=1_000, max_edges=4_000, max_depth=64)


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[bytes]]:
    return seed_files(tmp_path_factory.mktemp("seeds"))


def _fuzz(seeds: dict[str, list[bytes]], tmp_path: Path, count: int, seed: int, limits: GenomeLimits | None,
          big_sizes: tuple[int, ...]) -> tuple[Counter[str], Counter[str]]:
    outcomes: Counter[str] = Counter()
    mutations: Counter[str] = Counter()
    findings = []
    for case in genome_corpus(count, seed, seeds, big_sizes=big_sizes):
        outcome = load_case(case, tmp_path / f"case.{case.fmt}", limits=limits)
        outcomes[outcome.kind] += 1
        mutations.update(case.mutations)
        bound = BASE_BYTES + BYTES_PER_BYTE * len(case.data)
        if outcome.kind not in ("valid", "GenomeError"):
            findings.append(f"case {case.index} {case.mutations}: {outcome.kind}: {outcome.detail}")
        elif outcome.seconds > SECONDS_PER_FILE:
            findings.append(f"case {case.index} {case.mutations}: {outcome.seconds:.2f} s to load")
        elif outcome.peak_bytes > bound:
            findings.append(f"case {case.index} {case.mutations}: {outcome.peak_bytes} bytes traced for a file of "
                            f"{len(case.data)} bytes (bound {bound})")
    assert not findings, "\n".join(findings[:20])
    return outcomes, mutations


def test_loaders_give_a_valid_genome_or_a_genome_error_for_any_file(seeds, tmp_path) -> None:
    outcomes, mutations = _fuzz(seeds, tmp_path, 2_000, seed=11, limits=TIGHT, big_sizes=(65, 1_001))
    assert set(outcomes) <= {"valid", "GenomeError"}
    # the oracle is not vacuous: mutants are mostly refused, some survive (and were checked to round-trip)
    assert outcomes["GenomeError"] > 1_500 and outcomes["valid"] > 20
    expected = {*BYTE_MUTATIONS, *(f"json.{m}" for m in JSON_MUTATIONS), *(f"graphml.{m}" for m in GRAPHML_MUTATIONS)}
    assert expected <= set(mutations), f"never applied: {expected - set(mutations)}"


def test_default_limits_refuse_big_and_deep_files(seeds, tmp_path) -> None:
    # vertex counts at the default depth limit (257) and over the vertex limit (10,001), as the probe found them
    outcomes, mutations = _fuzz(seeds, tmp_path, 160, seed=12, limits=None, big_sizes=(257, 10_001))
    assert set(outcomes) <= {"valid", "GenomeError"} and mutations["json.big"] + mutations["graphml.big"] > 5


def test_the_corpus_is_a_function_of_its_seed(seeds) -> None:
    def corpus(seed: int) -> list[tuple[tuple[str, ...], bytes]]:
        return [(c.mutations, c.data) for c in genome_corpus(200, seed, seeds, big_sizes=(65,))]

    first = corpus(3)
    assert first == corpus(3) and first != corpus(4)
    assert [c.fmt for c in genome_corpus(4, 3, seeds)] == ["json", "graphml", "json", "graphml"]


def test_seed_files_are_the_live_file_format(seeds, tmp_path) -> None:
    # the corpus mutates what save_json/save_graphml write today, so it follows schema changes
    for i, genome in enumerate(seed_genomes()):
        (tmp_path / "s.json").write_bytes(seeds["json"][i])
        (tmp_path / "s.graphml").write_bytes(seeds["graphml"][i])
        assert load_json(tmp_path / "s.json") == genome
        assert load_graphml(tmp_path / "s.graphml") == genome
