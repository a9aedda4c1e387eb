"""Fuzz ``deepstruct evolve --config FILE`` offline with a large seeded corpus and print the counts per outcome.

    .venv/bin/python benchmarks/fuzz_run_configs.py [--files 20000] [--seed 0] [--keep DIR] [--no-cli]

The corpus and the oracle are those of ``tests/cli/test_fuzz_run_configs.py`` (``tests/fuzzing/run_configs.py``):
TOML written by ``config_to_toml`` for the defaults and a few variants, each with one to three mutations (table
values and keys, text, bytes), and here also nesting 100,000 deep and strings of a million characters. Outcomes:
``valid`` (loads, and ``evolve --check`` accepts it), ``ConfigError`` (clean error, exit code 2, one line naming the
file), ``refused`` (loads, then a clean error from evolve's later checks: task, initialiser, operators, run
directory), anything else (listed with the mutations that produced it, and written to ``--keep DIR``). Runs,
evaluators and Ray are patched to raise, so nothing trains. Exit status 1 when any file had another outcome.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fuzzing.report import Tally  # noqa: E402
from tests.fuzzing.run_configs import check_case, config_corpus, no_training  # noqa: E402

OK = ("valid", "ConfigError", "refused")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="write every file with another outcome here")
    parser.add_argument("--no-cli", action="store_true", help="judge load_config only (no evolve --check)")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="fuzz-configs-"))
    os.chdir(work)  # a default run directory is relative: --check must not create one here
    tally = Tally(OK)
    start = time.perf_counter()
    corpus = config_corpus(args.files, args.seed, depths=(10, 40, 600, 5_000, 100_000),
                           huge=(10_000, 200_000, 1_000_000))
    with no_training():
        for case in corpus:
            tally.add(case, check_case(case, work / "run.toml", check_cli=not args.no_cli), args.keep, ".toml")
    elapsed = time.perf_counter() - start
    leftovers = sorted(p.name for p in work.iterdir() if not p.name.startswith("run.toml"))

    total = sum(tally.outcomes.values())
    print(f"{total} run configs (seed {args.seed}) in {elapsed:.0f} s ({1000 * elapsed / max(total, 1):.1f} ms each)")
    tally.print_counts()
    print(f"slowest: {tally.slowest[0]:.3f} s, {tally.slowest[1]}")
    print(f"files left in the working directory besides the case: {leftovers or 'none'}")
    tally.print_mutation_table()
    return 0 if tally.clean and not leftovers else 1


if __name__ == "__main__":
    sys.exit(main())
