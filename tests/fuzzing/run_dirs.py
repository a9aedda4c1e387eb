"""Damaged run directories: byte mutations, truncations and hand edits of ``checkpoint.json`` and
``journal.jsonl``, for ``deepstruct resume``.

:func:`run_dir_cases` gives a seeded list of :class:`RunDirCase`: each changes the two files of an interrupted run
(a dict ``{name: bytes}``) and says what ``resume`` must do: ``"refuse"`` (exit code 2, one line), ``"recover"``
(finish equal to the uninterrupted run) or ``"either"`` (random bytes: whichever happens must be clean). Hand
edits come twice: raw (the seal no longer matches) and *sealed* again with a valid checksum, as a bug or a
determined editor would leave them, so the checks behind the seal are exercised too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deepstruct.evo.journal_codec import unpack_result
from deepstruct.evo.persistence import LINE_SEAL, SEAL, read_journal, sealed_json
from deepstruct.evo.protocol import genome_key
from deepstruct.genomes import Genome
from tests.fuzzing.byte_mutations import Rng, mutate_bytes

__all__ = ["RunDirCase", "run_dir_cases", "final_state", "journal_results", "CHECKPOINT", "JOURNAL"]

CHECKPOINT, JOURNAL = "checkpoint.json", "journal.jsonl"
Files = dict[str, bytes]


@dataclass(frozen=True)
class RunDirCase:
    """A named change of the run directory's files and the outcome ``resume`` must have."""

    name: str
    expect: str  # "refuse", "recover" or "either"
    change: Callable[[Files], Files]


def final_state(run_dir: Path) -> dict[str, Any]:
    """The final checkpoint without what depends on the machine (the run time, and the seal that covers it)."""
    data = json.loads((run_dir / CHECKPOINT).read_text())
    for name in ("seconds", "checksum", "config"):
        data.pop(name)
    return data


def journal_results(run_dir: Path) -> dict[str, tuple[list[float], Any]]:
    """key -> (values, reason) of every journalled result, checking the journal on the way: sealed lines, each
    key once, each key the hash of the genome that was evaluated."""
    results: dict[str, tuple[list[float], Any]] = {}
    for record in read_journal(run_dir / JOURNAL, sealed=True):
        if record.get("type") != "result":
            continue
        key, result = record["key"], unpack_result(record["result"])
        assert key not in results, f"{key} journalled twice"
        assert genome_key(Genome.from_dict(result["evaluated"])) == key, f"{key} is not its genome's key"
        results[key] = (result["values"], result["reason"])
    return results


# -- helpers -----------------------------------------------------------------------------------------------
def _checkpoint(files: Files) -> dict[str, Any]:
    return json.loads(files[CHECKPOINT])


def _lines(files: Files) -> list[bytes]:
    return files[JOURNAL].split(b"\n")[:-1]


def _journal(lines: list[bytes]) -> bytes:
    return b"".join(line + b"\n" for line in lines)


def _seal_checkpoint(data: dict[str, Any]) -> bytes:
    return sealed_json({k: v for k, v in data.items() if k != SEAL}).encode()


def _seal_line(record: dict[str, Any]) -> bytes:
    return sealed_json({k: v for k, v in record.items() if k != LINE_SEAL}, LINE_SEAL).encode()


def _position(files: Files) -> int:
    return int(_checkpoint(files)["journal_position"])


def _edit_checkpoint(edit: Callable[[dict[str, Any]], None], *, seal: bool) -> Callable[[Files], Files]:
    def change(files: Files) -> Files:
        data = _checkpoint(files)
        edit(data)
        return {**files, CHECKPOINT: _seal_checkpoint(data) if seal else json.dumps(data).encode()}

    return change


def _edit_line(pick: Callable[[Files, list[dict[str, Any]]], int], edit: Callable[[dict[str, Any]], None], *,
               seal: bool) -> Callable[[Files], Files]:
    def change(files: Files) -> Files:
        lines = _lines(files)
        records = [json.loads(line) for line in lines]
        i = pick(files, records)
        edit(records[i])
        lines[i] = _seal_line(records[i]) if seal else json.dumps(records[i]).encode()
        return {**files, JOURNAL: _journal(lines)}

    return change


def _result_of(key_of: Callable[[dict[str, Any]], str]) -> Callable[[Files, list[dict[str, Any]]], int]:
    def pick(files: Files, records: list[dict[str, Any]]) -> int:
        key = key_of(_checkpoint(files))
        return next(i for i, r in enumerate(records) if r.get("key") == key)

    return pick


def _first(files: Files, records: list[dict[str, Any]]) -> int:
    return 0


def _after(files: Files, records: list[dict[str, Any]]) -> int:
    return _position(files)  # the first result of the generation cut short


def _member(data: dict[str, Any]) -> str:
    return data["strategy"]["population"][0]["key"]


def _rekey(key: str) -> Callable[[dict[str, Any]], None]:
    """Give a result line another key (in the line and in its result: only its genome contradicts it)."""
    def edit(record: dict[str, Any]) -> None:
        record.update(key=key, result={**record["result"], "key": key})

    return edit


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        for key in path[:-1]:
            data = data[key]
        if value is _DELETE:
            del data[path[-1]]
        else:
            data[path[-1]] = value(data[path[-1]]) if callable(value) else value

    return edit


_DELETE = object()


def _swap_keys(files: Files) -> Files:
    """The result of a population member and another result exchange keys (both lines sealed again)."""
    lines, member = _lines(files), _member(_checkpoint(files))
    records = [json.loads(line) for line in lines]
    i = next(i for i, r in enumerate(records) if r["key"] == member)
    j = next(j for j, r in enumerate(records[: _position(files)]) if j != i)
    for a, b in ((i, j), (j, i)):
        lines[a] = _seal_line({**records[a], "key": records[b]["key"],
                               "result": {**records[a]["result"], "key": records[b]["key"]}})
    return {**files, JOURNAL: _journal(lines)}


def _lines_change(edit: Callable[[list[bytes], int], list[bytes]]) -> Callable[[Files], Files]:
    def change(files: Files) -> Files:
        return {**files, JOURNAL: _journal(edit(_lines(files), _position(files)))}

    return change


def _torn(files: Files) -> Files:
    raw = files[JOURNAL]
    start = raw[:-1].rfind(b"\n") + 1
    return {**files, JOURNAL: raw[: start + (len(raw) - start) // 2]}


def _unsealed_tail(files: Files) -> Files:
    record = json.loads(_lines(files)[-1])
    record.pop(LINE_SEAL)
    return {**files, JOURNAL: files[JOURNAL] + json.dumps({**record, "key": "0" * 16}).encode() + b"\n"}


def _bytes(name: str, rng: Rng) -> Callable[[Files], Files]:
    seed = int(rng.integers(2**32))

    def change(files: Files) -> Files:
        return {**files, name: mutate_bytes(files[name], np.random.default_rng(seed))[1]}

    return change


# -- the cases ---------------------------------------------------------------------------------------------
def run_dir_cases(seed: int, byte_cases: int = 6) -> list[RunDirCase]:
    """The cases: ``byte_cases`` random byte mutations of each file, then the named truncations and edits."""
    rng = np.random.default_rng(seed)
    cases = [RunDirCase(f"{name}.bytes#{i}", "either", _bytes(name, rng))
             for name in (CHECKPOINT, JOURNAL) for i in range(byte_cases)]
    cases += [
        RunDirCase("checkpoint.truncated", "refuse",
                   lambda f: {**f, CHECKPOINT: f[CHECKPOINT][: len(f[CHECKPOINT]) * 2 // 3]}),
        RunDirCase("checkpoint.missing", "recover", lambda f: {k: v for k, v in f.items() if k != CHECKPOINT}),
        RunDirCase("journal.torn_last_line", "recover", _torn),
        RunDirCase("journal.lines_lost_before_position", "refuse", _lines_change(lambda ls, p: ls[: p - 2])),
        RunDirCase("journal.lines_lost_after_position", "recover", _lines_change(lambda ls, p: ls[:p])),
        RunDirCase("journal.empty", "refuse", lambda f: {**f, JOURNAL: b""}),
        RunDirCase("journal.duplicated_line", "refuse", _lines_change(lambda ls, p: ls[:1] + ls)),
        RunDirCase("journal.reordered_before_position", "recover",
                   _lines_change(lambda ls, p: [ls[1], ls[0], *ls[2:]])),
        RunDirCase("journal.swapped_across_position", "refuse",
                   _lines_change(lambda ls, p: [*ls[: p - 1], ls[p], ls[p - 1], *ls[p + 1:]])),
        RunDirCase("journal.unsealed_line_appended", "refuse", _unsealed_tail),
        # raw hand edits: the seal no longer matches
        RunDirCase("checkpoint.edit.generation", "refuse",
                   _edit_checkpoint(_set(("generation",), lambda g: g + 1), seal=False)),
        RunDirCase("checkpoint.edit.removed_field", "refuse", _edit_checkpoint(_set(("rng",), _DELETE), seal=False)),
        RunDirCase("checkpoint.edit.wrong_type", "refuse",
                   _edit_checkpoint(_set(("evaluations",), str), seal=False)),
        RunDirCase("journal.edit.gen", "refuse", _edit_line(_first, _set(("gen",), lambda g: g + 1), seal=False)),
        RunDirCase("journal.edit.values", "refuse",
                   _edit_line(_first, _set(("result", "values", 0), lambda v: v + 0.125), seal=False)),
        # sealed again: the checks behind the seal
        RunDirCase("checkpoint.sealed.generation_up", "refuse",
                   _edit_checkpoint(_set(("generation",), lambda g: g + 1), seal=True)),
        RunDirCase("checkpoint.sealed.generation_down", "refuse",
                   _edit_checkpoint(lambda d: d.update(generation=d["generation"] - 1, logbook=d["logbook"][:-1]),
                                    seal=True)),
        RunDirCase("checkpoint.sealed.evaluations", "refuse",
                   _edit_checkpoint(_set(("evaluations",), lambda e: e + 1), seal=True)),
        RunDirCase("checkpoint.sealed.position_up", "refuse",
                   _edit_checkpoint(_set(("journal_position",), lambda p: p + 2), seal=True)),
        RunDirCase("checkpoint.sealed.position_down", "refuse",
                   _edit_checkpoint(_set(("journal_position",), lambda p: p - 1), seal=True)),
        RunDirCase("checkpoint.sealed.population_fitness", "refuse",
                   _edit_checkpoint(_set(("strategy", "population", 0, "values", 0), lambda v: v + 0.125),
                                    seal=True)),
        RunDirCase("checkpoint.sealed.hall_of_fame_fitness", "refuse",
                   _edit_checkpoint(_set(("hall_of_fame", 0, "values", 0), lambda v: v + 0.125), seal=True)),
        RunDirCase("checkpoint.sealed.removed_rng", "refuse", _edit_checkpoint(_set(("rng",), _DELETE), seal=True)),
        RunDirCase("checkpoint.sealed.rng_of_wrong_type", "refuse",
                   _edit_checkpoint(_set(("rng",), {"state": "x"}), seal=True)),
        RunDirCase("checkpoint.sealed.other_config", "refuse",
                   _edit_checkpoint(_set(("config", "seed"), lambda s: s + 1), seal=True)),
        RunDirCase("checkpoint.legacy_unsealed", "recover",
                   lambda f: {**f, CHECKPOINT: json.dumps({**{k: v for k, v in _checkpoint(f).items() if k != SEAL},
                                                           "version": 2}).encode()}),
        RunDirCase("journal.sealed.key_of_a_population_member", "refuse",
                   _edit_line(_result_of(_member), _rekey("0" * 16), seal=True)),
        RunDirCase("journal.sealed.keys_swapped", "refuse", _swap_keys),
        RunDirCase("journal.sealed.key_after_position", "refuse",
                   _edit_line(_after, _rekey("1" * 16), seal=True)),
        RunDirCase("journal.sealed.gen_before_position", "refuse",
                   _edit_line(_after, _set(("gen",), lambda g: g - 1), seal=True)),
        RunDirCase("journal.sealed.values_of_wrong_type", "refuse",
                   _edit_line(_first, _set(("result", "values"), ["x"]), seal=True)),
        RunDirCase("journal.sealed.values_count", "refuse",
                   _edit_line(_first, _set(("result", "values"), lambda v: [*v, 1.0]), seal=True)),
        RunDirCase("journal.sealed.unknown_type", "refuse", _edit_line(_first, _set(("type",), "bogus"), seal=True)),
        RunDirCase("journal.sealed.removed_result", "refuse", _edit_line(_first, _set(("result",), _DELETE),
                                                                         seal=True)),
    ]
    return cases
