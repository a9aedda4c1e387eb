"""DEAP-compatible genetic operators on genomes: mutations, crossovers and repair helpers.

DEAP's calling convention, in place: ``mut_x(genome, *, rng, ...) -> (genome,)`` and
``cx_x(g1, g2, *, rng, ...) -> (g1, g2)``, with a required ``numpy.random.Generator`` (no global random
state), so ``toolbox.register("mutate", deepstruct.operators.mut_add_edge, rng=rng)`` just works. Every
operator keeps a valid DAG within the genome's limits. This package never imports torch or ray.
"""

from deepstruct.operators.crossover import cx_aligned, cx_subgraph
from deepstruct.operators.mutation import (
    MUTATIONS,
    mut_add_edge,
    mut_add_vertex,
    mut_any,
    mut_change_attribute,
    mut_prune_weights,
    mut_remove_edge,
    mut_remove_vertex,
    mut_rewire_edge,
)
from deepstruct.operators.repair import (
    break_cycles,
    drop_invalid_attributes,
    drop_invalid_ids,
    enforce_limits,
    ensure_nonempty,
    fix_next_id,
    repair,
)
from deepstruct.operators.widening import mut_duplicate_vertex

__all__ = [
    "mut_add_edge", "mut_remove_edge", "mut_add_vertex", "mut_remove_vertex", "mut_rewire_edge",
    "mut_change_attribute", "mut_prune_weights", "mut_duplicate_vertex", "mut_any", "MUTATIONS",
    "cx_aligned", "cx_subgraph",
    "repair", "break_cycles", "enforce_limits", "ensure_nonempty", "fix_next_id", "drop_invalid_ids",
    "drop_invalid_attributes",
]
