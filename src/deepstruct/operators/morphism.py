"""Function-preserving variation: a child of a trained parent starts out computing its parent's function.

In a Lamarckian run a child inherits its parent's trained weights and trains only a short schedule, so a
structural change should not throw that training away (network morphisms: Net2Net, Chen et al. 2016; LEMONADE,
Elsken et al. 2019). The operators do what their operation allows (:func:`~deepstruct.operators.mut_add_vertex`
splits an edge through an identity ReLU, :func:`~deepstruct.operators.mut_duplicate_vertex` halves the outgoing
weights, :func:`~deepstruct.operators.mut_add_local_unit` starts with zero outgoing weights); this module holds
the one rule for every other new edge: :func:`zero_new_edges`.
"""

from __future__ import annotations

from deepstruct.genomes import Genome

__all__ = ["zero_new_edges"]


def zero_new_edges(child: Genome, parent: Genome) -> Genome:
    """Give weight 0 to every edge of ``child`` without an inherited weight that ends in a vertex of ``parent``
    or in an output, when ``parent`` carries inherited weights; returns ``child`` (changed in place).

    An edge into a new vertex keeps no weight (the phenotype initialises it, so the new vertex can learn), but
    everything that flows out of new structure into old structure starts at zero: with weight 0 on those edges
    the child computes exactly the parent's function (removals aside: a removed edge or vertex is not
    preserved), and training moves the new weights from there.

    Examples
    --------
    >>> parent = Genome(2, 1, edges=[(0, 1)], input_edges=[(0, 0, {"weight": 0.5})],
    ...                 output_edges=[(1, 0, {"weight": 2.0})])
    >>> parent.graph.edges[0, 1]["weight"] = 1.0
    >>> child = parent.copy()
    >>> child.add_input_edge(1, 1)  # a new edge into an old vertex
    >>> zero_new_edges(child, parent).input_edges[1][1]
    {'weight': 0.0}
    """
    if not parent.has_weights:
        return child
    old = parent.graph
    for _, v, data in child.graph.edges(data=True):
        if "weight" not in data and v in old:
            data["weight"] = 0.0
    for v, inputs in child.input_edges.items():
        if v in old:
            for data in inputs.values():
                data.setdefault("weight", 0.0)
    for table in (child.output_edges, child.direct_edges):
        for inner in table.values():
            for data in inner.values():
                data.setdefault("weight", 0.0)
    return child
