"""``docs/migrating-from-deepstruct-0.10.md``: every table row points to an example, and every example runs."""

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "migrating-from-deepstruct-0.10.md"
TEXT = DOC.read_text()
EXAMPLES = dict(re.findall(r"```python\n# example: (ex-[\w-]+)\n(.*?)```", TEXT, flags=re.S))
ROWS = [line for line in TEXT.splitlines() if line.startswith("| `")]


def test_every_row_names_examples_that_exist():
    assert len(ROWS) >= 50 and len(EXAMPLES) >= 20
    for row in ROWS:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert len(cells) == 4, row
        names = re.findall(r"ex-[\w-]+", cells[3])
        assert names and all(name in EXAMPLES for name in names), row


def test_every_example_is_used_by_a_row():
    used = {name for row in ROWS for name in re.findall(r"ex-[\w-]+", row.split("|")[-2])}
    assert set(EXAMPLES) == used


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_runs(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples write files to the working directory
    exec(compile(EXAMPLES[name], f"{DOC.name}:{name}", "exec"), {"__name__": f"example_{name}"})
