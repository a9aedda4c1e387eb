"""Journal and checkpoint files survive kills: torn last lines are skipped, checkpoints are replaced atomically."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from deepstruct.evo.persistence import Journal, read_journal, write_json_atomic

records = st.lists(st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=8), max_size=4),
                   min_size=1, max_size=8)


@settings(max_examples=30, deadline=None)
@given(records=records, cut=st.integers(1, 10_000))
def test_a_torn_last_line_loses_only_itself(tmp_path_factory: object, records: list[dict], cut: int) -> None:
    path = tmp_path_factory.mktemp("journal") / "journal.jsonl"  # type: ignore[attr-defined]
    with Journal(path, fsync=False) as journal:
        for record in records:
            journal.append(record)
    raw = path.read_bytes()
    last_start = raw[:-1].rfind(b"\n") + 1
    torn = raw[: last_start + (cut % (len(raw) - last_start))]  # cut somewhere inside the last line
    path.write_bytes(torn)
    assert read_journal(path) == records[:-1] or read_journal(path) == records
    with Journal(path, fsync=False) as journal:  # appending after a torn line starts a fresh line
        journal.append({"after": 1})
    assert read_journal(path)[-1] == {"after": 1}
    assert read_journal(path)[:-1] in (records[:-1], records)


def test_atomic_write_replaces_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "checkpoint.json"
    write_json_atomic(target, {"a": 1})
    write_json_atomic(target, {"a": 2, "big": 2**80})
    assert json.loads(target.read_text()) == {"a": 2, "big": 2**80}
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.json"]


def test_missing_journal_reads_empty(tmp_path: Path) -> None:
    assert read_journal(tmp_path / "none.jsonl") == []
