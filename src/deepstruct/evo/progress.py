"""Progress of a run: a tqdm bar on a terminal, one line per generation elsewhere (a log file, CI)."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import Any

__all__ = ["generation_line", "LineProgress", "make_progress"]


def generation_line(record: dict[str, Any], objectives: Sequence[str], evaluations: int) -> str:
    """One generation in a few words (the fitness is measured on the validation split; ``new`` counts the
    generation's evaluations, ``cached`` its children isomorphic to an individual evaluated before, which are not
    trained again, ``re-evaluated`` its survivors given one more training repeat, with ``algorithm.reevaluate``):
    ``validation: best accuracy 0.9652 params 2784 | mean accuracy 0.951 | new 14, cached 2,
    218 evaluations``."""
    best = " ".join(f"{name} {value:.4g}" for name, value in zip(objectives, record["best"], strict=True))
    counts = f"new {record['nevals']}, cached {record.get('cached', 0)}, " if "nevals" in record else ""
    if "reevals" in record:  # algorithm.reevaluate: survivors given one more training repeat
        counts += f"re-evaluated {record['reevals']}, "
    return f"validation: best {best} | mean {objectives[0]} {record['mean'][0]:.4g} | {counts}{evaluations} evaluations"


class LineProgress:
    """The progress bar's stand-in when stderr is not a terminal: one line per generation, nothing in between.

    tqdm redraws with a carriage return, which a log file or a CI console turns into one line per update.
    """

    def __init__(self, total: int, done: int, stream: Any) -> None:
        self.total, self.n, self.stream, self.postfix = total, done, stream, ""
        self.started = time.monotonic()

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        self.postfix = text

    def update(self, n: int = 1) -> None:
        self.n += n
        seconds = time.monotonic() - self.started
        print(f"generation {self.n - 1}/{self.total - 1} ({seconds:.0f} s): {self.postfix}", file=self.stream,
              flush=True)

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        pass


def make_progress(total: int, done: int, enabled: bool, stream: Any = None) -> Any:
    """A tqdm bar on a terminal (redrawn at most twice a second), else a :class:`LineProgress`; ``None`` if off."""
    if not enabled:
        return None
    stream = stream if stream is not None else sys.stderr
    isatty = getattr(stream, "isatty", None)
    if not (callable(isatty) and isatty()):
        return LineProgress(total, done, stream)
    from tqdm import tqdm

    return tqdm(total=total, initial=done, desc="generations", unit="gen", file=stream, dynamic_ncols=True,
                mininterval=0.5)
