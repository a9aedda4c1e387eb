"""The Python 3.10 path: ``requires-python`` says 3.10, where ``tomllib`` does not exist and ``tomli`` stands in.

1. Every module of the package imports in a subprocess where ``tomllib`` is hidden (a meta-path finder raises
   ``ModuleNotFoundError`` for it) and ``tomli`` is a stand-in (the real ``tomllib`` under that name, counting its
   calls), and a TOML config loads there through ``evo/config.py`` (``load_config``) and through ``cli.py``
   (``--set`` values, ``--config``, ``evolve --check``), reading with the stand-in.
2. ``pyproject.toml`` depends on ``tomli`` exactly where ``tomllib`` is missing.
3. With a real ``python3.10`` on the machine (``PATH``, pyenv, or ``DEEPSTRUCT_PYTHON310``; skipped otherwise):
   every source file compiles with it, every standard-library name the package imports or uses exists there, and
   ``config.py`` and ``cli.py`` read a TOML config with the ``tomli`` that pip vendors (the 3.10 interpreter has
   no numpy or torch, so only these two modules run, under stub packages).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from deepstruct.evo.config import RunConfig, config_to_toml

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"

#: A config that differs from the defaults in every section (and in the free-form tables).
CONFIG = RunConfig().override({
    "seed": 7, "task.max_samples": 300, "task.params": {"note": "ünïcode \t tab", "n": [1, 2]},
    "genome.num_vertices": 10, "genome.params": {"num_layers": 2}, "training.epochs": 1, "training.seeds": 1,
    "training.objectives": ["accuracy", "edges"], "algorithm.name": "nsga2", "algorithm.population": 4,
    "evaluator.kind": "serial",
})

HIDDEN_TOMLLIB = r'''
import importlib, importlib.abc, json, pkgutil, sys, types

import tomllib as real

class HideTomllib(importlib.abc.MetaPathFinder):
    """Python 3.10: there is no tomllib."""
    def find_spec(self, name, path=None, target=None):
        if name == "tomllib" or name.startswith("tomllib."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

for name in [m for m in sys.modules if m == "tomllib" or m.startswith("tomllib.")]:
    del sys.modules[name]
sys.meta_path.insert(0, HideTomllib())
calls = []
tomli = types.ModuleType("tomli")
tomli.TOMLDecodeError = real.TOMLDecodeError
tomli.loads = lambda text, **kw: (calls.append("loads"), real.loads(text, **kw))[1]
tomli.load = lambda handle, **kw: (calls.append("load"), real.load(handle, **kw))[1]
sys.modules["tomli"] = tomli
try:
    import tomllib
    raise SystemExit("tomllib is not hidden")
except ModuleNotFoundError:
    pass

import deepstruct
failed, modules = {}, []
for info in pkgutil.walk_packages(deepstruct.__path__, "deepstruct.",
                                  onerror=lambda name: failed.setdefault(name, repr(sys.exc_info()[1]))):
    modules.append(info.name)
    try:
        importlib.import_module(info.name)
    except BaseException as exc:
        failed[info.name] = f"{type(exc).__name__}: {exc}"

from deepstruct.cli import _config, build_parser, main
from deepstruct.evo.config import load_config

path = sys.argv[1]
loaded = load_config(path).to_dict()
after_file = len(calls)
args = build_parser().parse_args(["evolve", "--config", path, "--set", "training.learning_rate=0.01",
                                  "--set", "task.params={depth = 3}", "--set", "algorithm.offspring=6"])
overridden = _config(args).to_dict()
check = main(["evolve", "--config", path, "--check", "--no-progress"])
print(json.dumps({"modules": modules, "failed": failed, "loaded": loaded, "overridden": overridden,
                  "calls_file": after_file, "calls": len(calls), "check": check,
                  "tomllib_loaded": any(m == "tomllib" or m.startswith("tomllib.") for m in sys.modules)}))
'''


def test_every_module_imports_and_toml_loads_without_tomllib(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text(config_to_toml(CONFIG), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), str(ROOT)])}
    done = subprocess.run([sys.executable, "-c", HIDDEN_TOMLLIB, str(path)], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert not report["failed"], report["failed"]
    assert "deepstruct.cli" in report["modules"] and "deepstruct.evo.config" in report["modules"]
    files = {".".join(p.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")
             for p in SRC.glob("deepstruct/**/*.py")}
    assert set(report["modules"]) == files - {"deepstruct"}  # every module and package below the top one
    assert report["loaded"] == CONFIG.to_dict()
    expected = CONFIG.override({"training.learning_rate": 0.01, "task.params": {"depth": 3},
                                "algorithm.offspring": 6})
    assert report["overridden"] == expected.to_dict()  # typed --set values: the stand-in parsed them
    assert report["calls_file"] == 1 and report["calls"] >= 1 + 3 + 1  # file, three --set, --check's file
    assert report["check"] == 0 and not report["tomllib_loaded"]


def test_pyproject_depends_on_tomli_where_tomllib_is_missing() -> None:
    from packaging.requirements import Requirement

    try:
        import tomllib
    except ModuleNotFoundError:  # this test runs on 3.10 too
        import tomli as tomllib
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["requires-python"] == ">=3.10"
    tomli = [Requirement(d) for d in project["dependencies"] if Requirement(d).name == "tomli"]
    assert len(tomli) == 1 and tomli[0].marker is not None, project["dependencies"]
    for version, needed in [("3.10", True), ("3.11", False), ("3.12", False)]:
        assert tomli[0].marker.evaluate({"python_version": version}) is needed


# -- a real Python 3.10 -------------------------------------------------------------------------------------
def python310() -> str | None:
    """A working ``python3.10`` (a pyenv shim that only names another version does not count)."""
    candidates = [os.environ.get("DEEPSTRUCT_PYTHON310"), shutil.which("python3.10"), "/usr/bin/python3.10",
                  "/usr/local/bin/python3.10",
                  *sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.10*/bin/python3.10")))]
    for exe in filter(None, candidates):
        try:
            done = subprocess.run([exe, "-c", "import sys; print(sys.version_info[:2] == (3, 10))"],
                                  capture_output=True, text=True, timeout=30)
        except OSError:
            continue
        if done.returncode == 0 and done.stdout.strip() == "True":
            return exe
    return None


STDLIB_310 = r'''
import ast, importlib, json, pathlib, sys

def guarded(node, parents):
    """Inside a try that catches ImportError/ModuleNotFoundError, or an if on sys.version_info."""
    for parent in parents:
        if isinstance(parent, ast.Try) and any(
                isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError")
                for h in parent.handlers) and any(node is n or node in ast.walk(n) for n in parent.body):
            return True
        if isinstance(parent, ast.If) and "version_info" in ast.dump(parent.test):
            return True
    return False

def stdlib(name):
    return name.split(".")[0] in sys.stdlib_module_names

problems, names = [], 0
for path in sorted(pathlib.Path(sys.argv[1]).rglob("*.py")):
    source = path.read_text(encoding="utf-8")
    compile(source, str(path), "exec", dont_inherit=True)
    tree = ast.parse(source)
    parents, aliases = {}, {}
    for parent in ast.walk(tree):
        for child in ast.iter_child_nodes(parent):
            parents[child] = parent
    def chain(node):
        out = []
        while node in parents:
            node = parents[node]
            out.append(node)
        return out
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)) and not guarded(node, chain(node)):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if stdlib(alias.name):
                        names += 1
                        try:
                            importlib.import_module(alias.name)
                            bound = alias.asname or alias.name.split(".")[0]  # import a.b binds a
                            aliases[bound] = alias.name if alias.asname else bound
                        except ImportError as exc:
                            problems.append(f"{path}:{node.lineno}: import {alias.name}: {exc}")
            elif node.module and node.level == 0 and stdlib(node.module):
                try:
                    module = importlib.import_module(node.module)
                except ImportError as exc:
                    problems.append(f"{path}:{node.lineno}: from {node.module}: {exc}")
                    continue
                for alias in node.names:
                    names += 1
                    if alias.name != "*" and not hasattr(module, alias.name):
                        try:
                            importlib.import_module(f"{node.module}.{alias.name}")
                        except ImportError:
                            problems.append(f"{path}:{node.lineno}: {node.module}.{alias.name} is not in 3.10")
    for node in ast.walk(tree):  # module.attr[.attr...] on a stdlib module bound by a plain import
        if isinstance(node, ast.Attribute) and not isinstance(parents.get(node), ast.Attribute):
            parts, inner = [], node
            while isinstance(inner, ast.Attribute):
                parts.append(inner.attr)
                inner = inner.value
            if not isinstance(inner, ast.Name) or inner.id not in aliases or guarded(node, chain(node)):
                continue
            value = importlib.import_module(aliases[inner.id])
            for attr in reversed(parts):
                if not hasattr(value, attr):
                    problems.append(f"{path}:{node.lineno}: {inner.id}...{attr} is not in 3.10")
                    break
                value = getattr(value, attr)
                names += 1
                if not isinstance(value, type(sys)):
                    break
print(json.dumps({"problems": problems, "names": names}))
'''

TOML_310 = r'''
import json, sys, types
try:
    import tomllib
    raise SystemExit("this Python has tomllib")
except ModuleNotFoundError:
    pass
try:
    import tomli
except ModuleNotFoundError:  # not installed for this interpreter: the copy pip vendors
    from pip._vendor import tomli
    sys.modules["tomli"] = tomli
for name, where in (("deepstruct", sys.argv[1] + "/deepstruct"), ("deepstruct.evo", sys.argv[1] + "/deepstruct/evo")):
    package = types.ModuleType(name)  # stubs: the real __init__ modules import numpy and torch
    package.__path__ = [where]
    sys.modules[name] = package
from deepstruct.cli import _assignment, _config, build_parser
from deepstruct.evo.config import load_config

args = build_parser().parse_args(["evolve", "--config", sys.argv[2], "--set", "training.learning_rate=0.01"])
print(json.dumps({"loaded": load_config(sys.argv[2]).to_dict(), "overridden": _config(args).to_dict(),
                  "set": _assignment("task.params={depth = 3}"), "tomli": tomli.__name__}))
'''


@pytest.fixture(scope="module")
def py310() -> str:
    exe = python310()
    if exe is None:
        pytest.skip("no python3.10 on this machine (set DEEPSTRUCT_PYTHON310 to one)")
    return exe


def test_a_real_python310_compiles_the_package_and_has_its_stdlib_names(py310: str) -> None:
    done = subprocess.run([py310, "-c", STDLIB_310, str(SRC / "deepstruct")], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["problems"] == [] and report["names"] > 100


def test_a_real_python310_reads_toml_configs_with_tomli(py310: str, tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text(config_to_toml(CONFIG), encoding="utf-8")
    done = subprocess.run([py310, "-c", TOML_310, str(SRC), str(path)], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path, env={**os.environ, "PYTHONPATH": ""})
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["loaded"] == CONFIG.to_dict()
    assert report["overridden"] == CONFIG.override({"training.learning_rate": 0.01}).to_dict()
    assert report["set"] == ["task.params", {"depth": 3}]
