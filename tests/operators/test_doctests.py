import doctest
import importlib

import pytest

MODULES = ["deepstruct.genomes.genome", "deepstruct.genomes.hashing", "deepstruct.genomes.initialisers",
           "deepstruct.operators.mutation", "deepstruct.operators.crossover", "deepstruct.operators.repair"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
