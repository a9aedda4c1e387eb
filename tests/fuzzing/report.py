"""The tally that the fuzz benchmarks keep and print (``benchmarks/fuzz_*.py``): outcomes in all and per mutation,
the slowest case, and examples of the unexpected outcomes."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Tally"]


@dataclass
class Tally:
    """Counts of one fuzz run; ``accepted`` are the expected outcomes (a valid file or a clean error)."""

    accepted: Sequence[str]
    outcomes: Counter = field(default_factory=Counter)
    by_mutation: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    slowest: tuple[float, str] = (0.0, "")

    def add(self, case: Any, outcome: Any, keep: Path | None = None, suffix: str = "") -> str:
        """Count ``outcome`` of ``case`` (it has ``index``, ``mutations``, ``data``; the outcome ``kind``,
        ``seconds``, ``detail``); an unexpected one is an example and, with ``keep``, written there. Returns the
        case's label."""
        self.outcomes[outcome.kind] += 1
        for name in set(case.mutations):
            self.by_mutation[name][outcome.kind] += 1
        label = f"case {case.index} {'+'.join(case.mutations)} ({len(case.data)} bytes)"
        if outcome.seconds > self.slowest[0]:
            self.slowest = (outcome.seconds, label)
        if outcome.kind not in self.accepted:
            self.examples[outcome.kind].append(f"{label}: {outcome.detail}")
            if keep is not None:
                keep.mkdir(parents=True, exist_ok=True)
                (keep / f"case{case.index}{suffix}").write_bytes(case.data)
        return label

    @property
    def clean(self) -> bool:
        """Whether every outcome was an accepted one."""
        return set(self.outcomes) <= set(self.accepted)

    def print_counts(self) -> None:
        total = sum(self.outcomes.values())
        for kind, n in self.outcomes.most_common():
            print(f"  {kind:<16} {n:>8}  ({100 * n / max(total, 1):.2f}%)")

    def print_mutation_table(self) -> None:
        """One line per mutation: files, the count of each accepted outcome and of any other; then up to five
        examples of each unexpected outcome."""
        columns = list(self.accepted)
        print(f"\n{'mutation':<24} {'files':>8}" + "".join(f" {c:>{max(8, len(c))}}" for c in columns)
              + f" {'other':>6}")
        for name in sorted(self.by_mutation):
            c = self.by_mutation[name]
            other = sum(n for k, n in c.items() if k not in columns)
            print(f"{name:<24} {sum(c.values()):>8}" + "".join(f" {c[k]:>{max(8, len(k))}}" for k in columns)
                  + f" {other:>6}")
        for kind, lines in self.examples.items():
            print(f"\n{kind}: {len(lines)} files, for example")
            for line in lines[:5]:
                print("  " + line)
