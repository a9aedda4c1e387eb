"""Every docstring example of the library packages runs (``cli`` has its own tests)."""

import doctest
import importlib
import pkgutil

import pytest

PACKAGES = ["graph", "sparse", "pruning", "transform", "genomes", "operators", "evo"]
MODULES = [name for package in PACKAGES for name in [f"deepstruct.{package}", *(
    info.name for info in pkgutil.walk_packages(importlib.import_module(f"deepstruct.{package}").__path__,
                                                f"deepstruct.{package}."))]]
MODULES += ["deepstruct.batch_plan", "deepstruct._validation"]
MODULES += ["deepstruct.util", "deepstruct.recurrent", "deepstruct.scalable"]  # deepstruct 0.10's modules


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_the_examples_are_found():
    attempted = sum(doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS).attempted
                    for name in ["deepstruct.operators.mutation", "deepstruct.sparse.dan"])
    assert attempted >= 5
