"""The run-configuration corpus (``deepstruct evolve --config FILE``) and its oracle.

:func:`config_corpus` starts from TOML the project writes itself (:func:`deepstruct.evo.config.config_to_toml` of
the defaults and of a few variants) and applies one to three mutations to each case: to the parsed table (values:
negative, huge, non-finite, of the wrong type, valid alternatives; keys and sections: unknown, removed, replaced),
to the text (duplicate keys and sections, deep nesting, huge strings) and to the bytes
(:mod:`.byte_mutations`: flips, truncation, splices, bad UTF-8). :func:`check_case` runs the oracle on one file.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np

from deepstruct.evo.config import ConfigError, RunConfig, config_to_toml, load_config
from tests.fuzzing.byte_mutations import Rng, mutate_bytes

__all__ = ["ConfigCase", "ConfigOutcome", "seed_configs", "config_corpus", "check_case", "no_training",
           "TrainingStarted", "TABLE_MUTATIONS", "TEXT_MUTATIONS", "FIELDS"]

#: Variants of the defaults, each written by ``config_to_toml`` (the first is the defaults themselves).
VARIANTS: list[dict[str, Any]] = [
    {},
    {"task.max_samples": 300, "training.epochs": 1, "training.seeds": 1, "algorithm.population": 4,
     "algorithm.generations": 1, "evaluator.kind": "serial", "genome.num_vertices": 10},
    {"algorithm.name": "nsga2", "training.objectives": ["accuracy", "params"], "algorithm.offspring": 8},
    {"algorithm.name": "aging", "algorithm.asynchronous": True, "algorithm.offspring": 4, "evaluator.batch": 2},
    {"training.mode": "lamarckian", "training.prune_amount": 0.5, "training.phenotype": "auto",
     "genome.init": "watts_strogatz", "genome.params": {"k": 4, "p": 0.5}},
    {"task.name": "fashion-mnist", "task.params": {"path": "/nonexistent/fashion"}},
    {"algorithm.mutations": {"mut_add_edge": 1.0, "mut_remove_edge": 0.5}, "algorithm.crossover": "cx_subgraph",
     "seed": 12345, "out": "runs/fuzzed"},
]
#: Every section and its fields, and the prefixes an error about a field starts with.
FIELDS = {name: set(value) for name, value in RunConfig().to_dict().items() if isinstance(value, dict)}
PREFIXES = tuple(f"{section}." for section in FIELDS) + ("seed", "out")

VALID_CHOICES: dict[str, list[Any]] = {
    "name": ["digits", "ga", "mu_plus_lambda", "nsga2", "aging"], "mode": ["lamarckian", "baldwinian", "none"],
    "kind": ["serial", "ray"], "phenotype": ["dan", "ffn", "auto"], "device": ["auto", "cpu"],
    "init": ["ws", "er", "ba", "layered", "random_layered"], "crossover": ["cx_aligned", "cx_subgraph"],
    "objectives": [["accuracy"], ["loss", "edges"], ["accuracy", "accuracy"], []],
    "prune_scope": ["layer", "global"], "prune_layers": ["all", "hidden"],
}
HUGE_INTS = [2**31, 2**63 - 1, 2**63, 2**64, 10**30, -(2**63) - 1]
ODD_STRINGS = ["", " ", "\n", "a\x00b", "\x1f\x7f", "ünï©ødé", "../../etc/passwd", "a:b", "mut_\nx", "\ud7ff",
               "module:function", "os:system"]


@dataclass(frozen=True)
class ConfigCase:
    """One generated config file: the mutations applied, and its bytes."""

    index: int
    mutations: tuple[str, ...]
    data: bytes


@dataclass(frozen=True)
class ConfigOutcome:
    """How a case ended: ``valid`` (loads, and ``evolve --check`` accepts it), ``ConfigError`` (refused by
    ``load_config``, exit code 2), ``refused`` (loads, refused by evolve's later checks: task, initialiser,
    operators; exit code 2), or a finding (anything else, with ``detail``)."""

    kind: str
    detail: str
    seconds: float


# -- table mutations (on the parsed TOML) --------------------------------------------------------------------
def _leaves(data: dict[str, Any]) -> list[tuple[str, ...]]:
    out = []
    for key, value in data.items():
        if isinstance(value, dict) and value:
            out.extend((key, *rest) for rest in _leaves(value))
        else:
            out.append((key,))
    return out


def _set(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        data = data[key]
    data[path[-1]] = value


def _pick(items: list[Any], rng: Rng) -> Any:
    return items[int(rng.integers(len(items)))]


def _bad_value(path: tuple[str, ...], rng: Rng) -> Any:
    choice = int(rng.integers(9))
    if choice == 0:
        return _pick([-1, -3, 0, -0.5, -1e-9, 0.0], rng)
    if choice == 1:
        return _pick(HUGE_INTS, rng)
    if choice == 2:
        return _pick([math.nan, math.inf, -math.inf, 1e308, 5e-324], rng)
    if choice == 3:  # wrong type
        return _pick(["three", True, [1, "a"], {"x": 1}, datetime.date(1979, 5, 27), 2.5, 7], rng)
    if choice == 4:
        return _pick(ODD_STRINGS, rng)
    if choice == 5:
        return "x" * int(_pick([100, 10_000], rng))
    return _pick(VALID_CHOICES.get(path[-1], [1, 2, 0.5, 0.0, 1.0]), rng)  # a valid alternative (often)


def _table_value(data: dict[str, Any], rng: Rng) -> None:
    path = _pick(_leaves(data), rng)
    _set(data, path, _bad_value(path, rng))


def _table_unknown_key(data: dict[str, Any], rng: Rng) -> None:
    sections = [k for k, v in data.items() if isinstance(v, dict)]
    target = data[_pick(sections, rng)] if sections and rng.random() < 0.8 else data
    target[_pick(["epochz", "bogus", "Seed", "params2", "mut_x", "a b", "ü"], rng)] = _bad_value(("x",), rng)


def _table_unknown_section(data: dict[str, Any], rng: Rng) -> None:
    data[_pick(["bogus", "Training", "tasks", "evaluators", "x"], rng)] = {"a": 1}


def _table_remove(data: dict[str, Any], rng: Rng) -> None:
    path = _pick(_leaves(data), rng)
    if rng.random() < 0.3 and len(path) > 1:
        path = path[:1]  # a whole section
    target = data
    for key in path[:-1]:
        target = target[key]
    target.pop(path[-1], None)


def _table_section_type(data: dict[str, Any], rng: Rng) -> None:
    data[_pick(list(FIELDS), rng)] = _pick([3, "training", [1, 2], True], rng)


def _table_subtable(data: dict[str, Any], rng: Rng) -> None:
    section = _pick(list(FIELDS), rng)
    if isinstance(data.get(section), dict):
        data[section][_pick(["sub", "params", "mutations", "objectives"], rng)] = {"a": {"b": 1}}


TABLE_MUTATIONS: dict[str, Callable[[dict[str, Any], Rng], None]] = {
    "value": _table_value, "unknown_key": _table_unknown_key, "unknown_section": _table_unknown_section,
    "remove": _table_remove, "section_type": _table_section_type, "subtable": _table_subtable,
}


# -- a TOML writer of its own (independent of the one under test; writes any value, NaN and dates too) -------
def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, (int, datetime.date)):
        return value.isoformat() if isinstance(value, datetime.date) else str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON escapes are TOML escapes (\ud7ff-style too)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k, ensure_ascii=False)} = {_value(v)}" for k, v in value.items()) + "}"


def dump_toml(data: dict[str, Any]) -> str:
    """``data`` as TOML: plain keys first, then one ``[table]`` per top-level table (deeper tables inline)."""
    lines = [f"{json.dumps(k, ensure_ascii=False)} = {_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for key, table in data.items():
        if isinstance(table, dict):
            lines.append(f"\n[{json.dumps(key, ensure_ascii=False)}]")
            lines.extend(f"{json.dumps(k, ensure_ascii=False)} = {_value(v)}" for k, v in table.items())
    return "\n".join(lines) + "\n"


# -- text mutations ----------------------------------------------------------------------------------------
def _text_duplicate_line(text: str, rng: Rng) -> str:
    lines = text.split("\n")
    candidates = [i for i, line in enumerate(lines) if "=" in line or line.startswith("[")]
    if not candidates:
        return text + "seed = 1\nseed = 2\n"
    i = _pick(candidates, rng)
    return "\n".join(lines[: i + 1] + [lines[i]] + lines[i + 1:])


def _text_deep(text: str, rng: Rng, depths: tuple[int, ...]) -> str:
    depth = int(_pick(list(depths), rng))
    kind = int(rng.integers(3))
    if kind == 0:
        nested = "[" * depth + "]" * depth
    elif kind == 1:
        nested = "{a = " * depth + "1" + "}" * depth
    else:
        return text + "\n[" + ".".join(["task", "params"] + ["a"] * depth) + "]\nb = 1\n"
    lines = text.split("\n")
    values = [i for i, line in enumerate(lines) if " = " in line]
    if not values:
        return f"seed = {nested}\n" + text
    i = _pick(values, rng)
    lines[i] = lines[i].split(" = ", 1)[0] + " = " + nested
    return "\n".join(lines)


def _text_huge_string(text: str, rng: Rng, sizes: tuple[int, ...]) -> str:
    size = int(_pick(list(sizes), rng))
    lines = text.split("\n")
    values = [i for i, line in enumerate(lines) if " = " in line]
    filler = _pick(["x", "ü", "\\n", "a:b"], rng) * size
    if not values:
        return text + f'seed = "{filler}"\n'
    i = _pick(values, rng)
    lines[i] = lines[i].split(" = ", 1)[0] + f' = "{filler}"'
    return "\n".join(lines)


TEXT_MUTATIONS = ("duplicate_line", "deep", "huge_string")


# -- the corpus ------------------------------------------------------------------------------------------
def seed_configs() -> list[bytes]:
    """The TOML the project writes for each variant, plus a sparse hand-written one."""
    written = [config_to_toml(RunConfig().override(v)).encode() for v in VARIANTS]
    return [*written, b'seed = 3\n[training]\nobjectives = ["accuracy", "edges"]\n[algorithm]\nname = "nsga2"\n']


def config_corpus(count: int, seed: int, *, depths: tuple[int, ...] = (10, 40, 600, 5_000),
                  huge: tuple[int, ...] = (10_000, 200_000)) -> Iterator[ConfigCase]:
    """``count`` cases, a pure function of ``seed``: one to three mutations each, most on the table or the text,
    some on the bytes (last, as bytes need not decode)."""
    import tomllib

    seeds = seed_configs()
    rng = np.random.default_rng(seed)
    for index in range(count):
        base = seeds[index % len(seeds)]
        names: list[str] = []
        data = tomllib.loads(base.decode())
        for _ in range(1 + (rng.random() < 0.4) + (rng.random() < 0.2)):
            if rng.random() < 0.6:
                name = _pick(list(TABLE_MUTATIONS), rng)
                TABLE_MUTATIONS[name](data, rng)
                names.append(f"table.{name}")
        text = dump_toml(data) if names else base.decode()
        if rng.random() < 0.3:
            name = _pick(list(TEXT_MUTATIONS), rng)
            if name == "duplicate_line":
                text = _text_duplicate_line(text, rng)
            elif name == "deep":
                text = _text_deep(text, rng, depths)
            else:
                text = _text_huge_string(text, rng, huge)
            names.append(f"text.{name}")
        raw = text.encode("utf-8", "surrogatepass")
        if not names or rng.random() < 0.25:
            name, raw = mutate_bytes(raw, rng)
            names.append(name)
        yield ConfigCase(index, tuple(names), raw)


# -- the oracle --------------------------------------------------------------------------------------------
class TrainingStarted(BaseException):
    """Raised by :func:`no_training` when a command got as far as running, evaluating or starting Ray (not an
    ``Exception``: ``deepstruct.cli.main`` turns every ``Exception`` into one error line)."""


@contextlib.contextmanager
def no_training() -> Iterator[None]:
    """Make any start of a run, an evaluator or Ray raise :class:`TrainingStarted`."""
    from deepstruct.evo.evaluators import RayEvaluator, SerialEvaluator
    from deepstruct.evo.run import EvolutionRun

    def started(*args: Any, **kwargs: Any) -> None:
        raise TrainingStarted("a run, an evaluator or Ray was started")

    with contextlib.ExitStack() as stack:
        for owner, name in [(EvolutionRun, "run"), (EvolutionRun, "make_evaluator"), (RayEvaluator, "__init__"),
                            (SerialEvaluator, "__init__")]:
            stack.enter_context(mock.patch.object(owner, name, started))
        yield


def _one_line(text: str) -> str:
    from deepstruct.cli import _one_line

    return _one_line(text)


def _cli(argv: list[str]) -> tuple[int, list[str]]:
    from deepstruct.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    return code, err.getvalue().splitlines()


def check_case(case: ConfigCase, path: Path, *, check_cli: bool = True) -> ConfigOutcome:
    """Write ``case`` to ``path`` and judge it (call inside :func:`no_training`).

    ``load_config`` must give a :class:`RunConfig` (which JSON and ``config_to_toml`` write and read back
    equal) or a :class:`ConfigError` naming the file; ``deepstruct evolve --config PATH --check`` must exit 0 only
    for a config that loads, else 2 with one line ``deepstruct: error: ...`` that names the file or a field."""
    path.write_bytes(case.data)
    start = time.perf_counter()
    config: RunConfig | None = None
    try:
        config = load_config(path)
        expected = ""
    except ConfigError as exc:
        expected = str(exc)
    except Exception as exc:  # noqa: BLE001 - a finding
        return ConfigOutcome(f"load:{type(exc).__name__}", str(exc)[:300], time.perf_counter() - start)
    if config is not None:
        try:
            json.dumps(config.to_dict(), allow_nan=False)
            again = path.with_name(path.name + ".again.toml")
            again.write_text(config_to_toml(config), encoding="utf-8")
            if load_config(again) != config:
                return ConfigOutcome("round-trip", "config_to_toml did not read back equal", 0.0)
        except Exception as exc:  # noqa: BLE001 - a finding
            return ConfigOutcome(f"write:{type(exc).__name__}", str(exc)[:300], time.perf_counter() - start)
    kind = "ConfigError" if config is None else "valid"
    if check_cli:
        try:
            code, err = _cli(["evolve", "--config", str(path), "--check", "--no-progress"])
        except BaseException as exc:  # noqa: BLE001 - a finding (TrainingStarted included)
            return ConfigOutcome(f"cli:{type(exc).__name__}", str(exc)[:300], time.perf_counter() - start)
        errors = [line for line in err if line.startswith("deepstruct: error:")]
        if config is None or code != 0:
            if code != 2 or len(err) != 1 or len(errors) != 1:
                return ConfigOutcome("cli:unclean", f"exit {code}, stderr {err[:3]!r:.300}", 0.0)
            if config is None and _one_line(expected)[:60] not in err[0]:
                return ConfigOutcome("cli:other-error", f"{err[0][:200]} / {expected[:100]}", 0.0)
            if str(path) not in err[0] and not any(p in err[0] for p in PREFIXES):
                return ConfigOutcome("cli:unnamed", err[0][:300], 0.0)
            kind = "ConfigError" if config is None else "refused"
    return ConfigOutcome(kind, expected[:300], time.perf_counter() - start)
