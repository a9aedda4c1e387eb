"""The operators by name: the one table that a run configuration's names (``algorithm.mutations``,
``algorithm.crossover``) are looked up in.

:data:`MUTATION_OPERATORS` and :data:`CROSSOVER_OPERATORS` are keyed by each operator's own ``__name__``, so a
name and its function cannot drift apart; :data:`deepstruct.evo.algorithms.OPERATOR_NAMES` is derived from
:data:`OPERATORS`, and :data:`deepstruct.operators.MUTATIONS` (the structural mutations that
:func:`~deepstruct.operators.mut_any` draws from) is a part of :data:`MUTATION_OPERATORS`, named without the
``mut_`` prefix.

Examples
--------
>>> OPERATORS["cx_aligned"].__name__
'cx_aligned'
>>> len(MUTATION_OPERATORS), len(CROSSOVER_OPERATORS)
(16, 2)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from deepstruct.operators.attributes import mut_change_attribute, mut_prune_fraction, mut_prune_weights
from deepstruct.operators.crossover import cx_aligned, cx_subgraph
from deepstruct.operators.interface import (
    mut_add_input_edge,
    mut_add_output_edge,
    mut_remove_input_edge,
    mut_remove_output_edge,
)
from deepstruct.operators.locality import mut_add_local_unit, mut_input_window
from deepstruct.operators.mutation import (
    mut_add_edge,
    mut_add_vertex,
    mut_any,
    mut_remove_edge,
    mut_remove_vertex,
    mut_rewire_edge,
)
from deepstruct.operators.widening import mut_duplicate_vertex

__all__ = ["MUTATION_OPERATORS", "CROSSOVER_OPERATORS", "OPERATORS"]

MUTATION_OPERATORS: dict[str, Callable[..., Any]] = {op.__name__: op for op in (
    mut_add_edge, mut_remove_edge, mut_add_vertex, mut_remove_vertex, mut_rewire_edge, mut_change_attribute,
    mut_prune_weights, mut_prune_fraction, mut_duplicate_vertex, mut_any, mut_add_input_edge, mut_remove_input_edge,
    mut_add_output_edge, mut_remove_output_edge, mut_input_window, mut_add_local_unit,
)}
"""The mutations, ``mut_x(genome, *, rng, ...) -> (genome,)``, by name."""
CROSSOVER_OPERATORS: dict[str, Callable[..., Any]] = {op.__name__: op for op in (cx_aligned, cx_subgraph)}
"""The crossovers, ``cx_x(g1, g2, *, rng, ...) -> (g1, g2)``, by name."""
OPERATORS: dict[str, Callable[..., Any]] = {**MUTATION_OPERATORS, **CROSSOVER_OPERATORS}
"""Every operator a run configuration may name."""
