"""The shape of a genome's DAN phenotype, computed from the genome alone (no torch, no model).

:func:`member_shape` gives exactly the :class:`~deepstruct.batch_plan.MemberShape` that
``MemberShape.of(decode(genome))`` reads from the built :class:`~deepstruct.sparse.MaskedDeepDAN`, so the evolution
engine plans its batches (:func:`deepstruct.evo.batching.plan_batches`) with the padded weights that
:class:`~deepstruct.sparse.population.PopulationDAN` will allocate. It is re-exported by
:mod:`deepstruct.genomes.phenotype`.
"""

from __future__ import annotations

from collections import Counter

from deepstruct.batch_plan import INPUT_BLOCK as _INPUT
from deepstruct.batch_plan import MemberShape
from deepstruct.genomes.genome import Genome, GenomeError
from deepstruct.graph import compute_layers

__all__ = ["member_shape", "check_weights"]

def member_shape(genome: Genome, *, validate: bool = True) -> MemberShape:
    """The :class:`~deepstruct.batch_plan.MemberShape` of the DAN phenotype that ``decode(genome)`` builds.

    The phenotype's hidden layers are the genome's longest-path layers (``widths[t]``: the vertices of layer
    ``t``). Matrix 0 reads every input. Matrix ``t >= 1`` reads the layers with an edge into layer ``t``, and
    every input as well when a vertex of layer ``t`` has an input edge. The output matrix reads the vertices
    with output edges (grouped by their layers), and every input as well when there is an input-to-output
    edge. A block of inputs is ``num_inputs`` columns; a hidden block that a hidden matrix reads is its whole
    layer; the output matrix has one column per vertex with output edges.

    Parameters
    ----------
    genome : Genome
        The genome.
    validate : bool
        Validate it first and refuse a phenotype over ``genome.limits.max_weights``, as ``decode`` does
        (:class:`~deepstruct.genomes.GenomeError`); ``False`` assumes a valid genome.

    Examples
    --------
    >>> g = Genome(4, 2, edges=[(0, 1)], input_edges=[(0, 0), (3, 1)], output_edges=[(1, 1)],
    ...            direct_edges=[(2, 0)])
    >>> member_shape(g)
    MemberShape(num_inputs=4, num_outputs=2, widths=(1, 1), feeding=((-1,), (-1, 0), (-1, 1)), columns=(4, 5, 5))
    >>> member_shape(g).weights
    19
    """
    if validate:
        genome.validate()
    g = genome.graph
    if g.number_of_nodes() == 0:
        raise GenomeError("the genome has no vertices")
    layer = compute_layers(g)
    sizes = Counter(layer.values())
    widths = tuple(sizes[t] for t in range(len(sizes)))
    feeding: list[set[int]] = [{_INPUT}] + [set() for _ in widths[1:]]
    for u, v in g.edges:
        feeding[layer[v]].add(layer[u])
    for v, inner in genome.input_edges.items():
        if inner:
            feeding[layer[v]].add(_INPUT)
    outputs = [v for v, inner in genome.output_edges.items() if inner]
    last = {layer[v] for v in outputs}
    if any(genome.direct_edges.values()):
        last.add(_INPUT)
    if not last:
        raise GenomeError("the output layer reads nothing: no output edges and no input-to-output edges")
    blocks = [tuple(sorted(f)) for f in (*feeding, last)]
    width = {_INPUT: genome.num_inputs, **dict(enumerate(widths))}
    columns = [sum(width[b] for b in bs) for bs in blocks[:-1]]
    columns.append(len(outputs) + (genome.num_inputs if _INPUT in last else 0))
    shape = MemberShape(genome.num_inputs, genome.num_outputs, widths, tuple(blocks), tuple(columns))
    if validate:
        check_weights(genome, shape.weights)
    return shape


def check_weights(genome: Genome, weights: int) -> None:
    """Refuse a phenotype of ``weights`` weights over ``genome.limits.max_weights`` (a ``GenomeError``)."""
    if weights > genome.limits.max_weights:
        raise GenomeError(f"the phenotype would have {weights} weights, over the limit {genome.limits.max_weights} "
                          "(GenomeLimits.max_weights)")
