"""Fuzz the genome loaders offline with a large seeded corpus and print the counts per outcome.

    .venv/bin/python benchmarks/fuzz_genome_files.py [--files 100000] [--seed 0] [--huge 4] [--decode]
                                                     [--keep DIR] [--no-memory]

The corpus is the one of ``tests/genomes/test_fuzz_loaders.py`` (``tests/fuzzing``): files written by
``save_json``/``save_graphml`` on a few seed genomes, each with one to three mutations. ``--huge`` adds that many
files of 10^6 vertices. The only acceptable outcomes are a valid genome (it validates and survives a save and
load) or a ``GenomeError``; anything else is listed with the mutations that produced it (and written to
``--keep DIR`` to reproduce). ``--decode`` also decodes every accepted genome and runs one forward pass, and
prints the slowest (the depth limit bounds it). Exit status 1 when any file had another outcome.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fuzzing import FuzzCase, genome_corpus, load_case, seed_files  # noqa: E402
from tests.fuzzing.genome_json import JSON_MUTATIONS  # noqa: E402
from tests.fuzzing.report import Tally  # noqa: E402

from deepstruct.genomes import load_graphml, load_json  # noqa: E402

OK = ("valid", "GenomeError")


def huge_cases(count: int, start: int, seeds: dict[str, list[bytes]]) -> list[FuzzCase]:
    """``count`` files of 10^6 vertices (alternating JSON chain, GraphML)."""
    import numpy as np
    from tests.fuzzing.genome_graphml import GRAPHML_MUTATIONS

    rng = np.random.default_rng(start)
    out = []
    for i in range(count):
        fmt = "json" if i % 2 == 0 else "graphml"
        if fmt == "json":
            import json
            data = JSON_MUTATIONS["big"](json.loads(seeds["json"][0]), seeds["json"][0], rng, (1_000_000,))
        else:
            data = GRAPHML_MUTATIONS["big"](seeds["graphml"][0].decode(), rng, (1_000_000,)).encode()
        out.append(FuzzCase(start + i, fmt, (f"{fmt}.big(10^6)",), data))
    return out


def decode_seconds(path: Path, fmt: str) -> float:
    import torch

    from deepstruct.genomes import decode

    genome = (load_json if fmt == "json" else load_graphml)(path)
    start = time.perf_counter()
    model = decode(genome, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        model(torch.zeros(2, genome.num_inputs))
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--huge", type=int, default=4, help="extra files of 10^6 vertices")
    parser.add_argument("--decode", action="store_true", help="decode and run every accepted genome")
    parser.add_argument("--keep", type=Path, help="write every file with another outcome here")
    parser.add_argument("--no-memory", action="store_true", help="skip tracemalloc (about 1.5x faster)")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="fuzz-genomes-"))
    seeds = seed_files(work)
    tally = Tally(OK)
    peak = (0, 0, "")
    slowest_decode = (0.0, "")
    start = time.perf_counter()
    cases = huge_cases(args.huge, args.files, seeds)
    corpus = genome_corpus(args.files, args.seed, seeds, big_sizes=(65, 257, 1_001, 10_001))
    for case in itertools.chain(cases, corpus):
        path = work / f"case.{case.fmt}"
        outcome = load_case(case, path, trace_memory=not args.no_memory)
        label = tally.add(case, outcome, args.keep, f".{case.fmt}")
        if outcome.peak_bytes > peak[0]:
            peak = (outcome.peak_bytes, len(case.data), label)
        if outcome.kind == "valid" and args.decode:
            path.write_bytes(case.data)
            seconds = decode_seconds(path, case.fmt)
            if seconds > slowest_decode[0]:
                slowest_decode = (seconds, label)
    elapsed = time.perf_counter() - start

    total = sum(tally.outcomes.values())
    print(f"{total} genome files (seed {args.seed}, {args.huge} of 10^6 vertices) in {elapsed:.0f} s")
    tally.print_counts()
    print(f"slowest load: {tally.slowest[0]:.3f} s, {tally.slowest[1]}")
    if not args.no_memory:
        print(f"largest traced peak: {peak[0] / 2**20:.1f} MiB for a file of {peak[1] / 2**20:.1f} MiB, {peak[2]}")
    if args.decode:
        print(f"slowest decode + forward of an accepted genome: {slowest_decode[0]:.3f} s, {slowest_decode[1]}")
    tally.print_mutation_table()
    return 0 if tally.clean else 1


if __name__ == "__main__":
    sys.exit(main())
