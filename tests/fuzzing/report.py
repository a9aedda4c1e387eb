"""The per-mutation table that the fuzz benchmarks print (``benchmarks/fuzz_*.py``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

__all__ = ["print_mutation_table"]


def print_mutation_table(by_mutation: Mapping[str, Counter], columns: Sequence[str],
                         examples: Mapping[str, Sequence[str]]) -> None:
    """One line per mutation: files, the count of each outcome in ``columns`` (the accepted ones) and of any other
    outcome; then up to five examples of each outcome that has some."""
    print(f"\n{'mutation':<24} {'files':>8}" + "".join(f" {c:>{max(8, len(c))}}" for c in columns) + f" {'other':>6}")
    for name in sorted(by_mutation):
        c = by_mutation[name]
        other = sum(n for k, n in c.items() if k not in columns)
        print(f"{name:<24} {sum(c.values()):>8}" + "".join(f" {c[k]:>{max(8, len(k))}}" for k in columns)
              + f" {other:>6}")
    for kind, lines in examples.items():
        print(f"\n{kind}: {len(lines)} files, for example")
        for line in lines[:5]:
            print("  " + line)
