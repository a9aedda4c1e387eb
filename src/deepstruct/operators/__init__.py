"""DEAP-compatible genetic operators on genomes: mutations, crossovers and repair helpers.

DEAP's calling convention, in place: ``mut_x(genome, *, rng, ...) -> (genome,)`` and
``cx_x(g1, g2, *, rng, ...) -> (g1, g2)``, with a required ``numpy.random.Generator`` (no global random
state), so ``toolbox.register("mutate", deepstruct.operators.mut_add_edge, rng=rng)`` just works. Every
operator keeps a valid genome (a DAG whose every vertex lies on an input-to-output path, interface edges
included) within the genome's limits. The operators that create vertices (``mut_add_vertex``,
``mut_duplicate_vertex``, ``mut_any``) take an optional ``registry=`` (a
:class:`~deepstruct.genomes.InnovationRegistry` shared by a population, for homologous ids across lineages).
This package never imports torch or ray.
"""

from deepstruct.operators.attributes import mut_change_attribute, mut_prune_fraction, mut_prune_weights
from deepstruct.operators.crossover import cx_aligned, cx_subgraph
from deepstruct.operators.interface import (
    mut_add_input_edge,
    mut_add_output_edge,
    mut_remove_input_edge,
    mut_remove_output_edge,
)
from deepstruct.operators.locality import mut_add_local_unit, mut_input_window
from deepstruct.operators.morphism import zero_new_edges
from deepstruct.operators.mutation import (
    MUTATIONS,
    mut_add_edge,
    mut_add_vertex,
    mut_any,
    mut_remove_edge,
    mut_remove_vertex,
    mut_rewire_edge,
)
from deepstruct.operators.registry import CROSSOVER_OPERATORS, MUTATION_OPERATORS, OPERATORS
from deepstruct.operators.repair import (
    break_cycles,
    connect_dangling,
    drop_invalid_attributes,
    drop_invalid_ids,
    drop_invalid_interface,
    enforce_limits,
    ensure_nonempty,
    fix_next_id,
    remove_dangling,
    repair,
)
from deepstruct.operators.widening import mut_duplicate_vertex

__all__ = [
    "mut_add_edge", "mut_remove_edge", "mut_add_vertex", "mut_remove_vertex", "mut_rewire_edge",
    "mut_change_attribute", "mut_prune_weights", "mut_prune_fraction", "mut_duplicate_vertex", "mut_any", "MUTATIONS",
    "mut_add_input_edge", "mut_remove_input_edge", "mut_add_output_edge", "mut_remove_output_edge",
    "mut_input_window", "mut_add_local_unit", "zero_new_edges",
    "cx_aligned", "cx_subgraph", "OPERATORS", "MUTATION_OPERATORS", "CROSSOVER_OPERATORS",
    "repair", "break_cycles", "enforce_limits", "ensure_nonempty", "fix_next_id", "drop_invalid_ids",
    "drop_invalid_attributes", "drop_invalid_interface", "connect_dangling", "remove_dangling",
]
