"""Hypothesis strategies for genomes (shared by the genome and operator tests)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from deepstruct.genomes import Genome, GenomeLimits
from deepstruct.genomes.genome import ACTIVATION_NAMES
from tests.strategies import random_dags


@st.composite
def genomes(draw: st.DrawFn, max_vertices: int = 14, weights: bool | None = False,
            activations: bool = True, limits: GenomeLimits | None = None,
            interface: tuple[int, int] | None = None) -> Genome:
    """A random valid genome; with ``weights`` every edge and vertex carries a float32-exact weight."""
    dag = draw(random_dags(max_vertices=max_vertices))
    if limits is not None:  # a genome within its limits (random DAGs may have more edges)
        dag.remove_edges_from(list(dag.edges)[limits.max_edges:])
    if weights is None:
        weights = draw(st.booleans())
    floats = st.floats(-4, 4, width=32, allow_nan=False, allow_infinity=False)
    for v in dag.nodes:
        if activations and draw(st.booleans()):
            dag.nodes[v]["activation"] = draw(st.sampled_from(ACTIVATION_NAMES))
        if weights:
            dag.nodes[v]["bias"] = float(draw(floats))
    for u, v in dag.edges:
        if weights:
            dag.edges[u, v]["weight"] = float(draw(floats))
    extra = draw(st.integers(0, 5))
    num_inputs, num_outputs = interface if interface is not None else (draw(st.integers(1, 6)),
                                                                        draw(st.integers(1, 4)))
    return Genome(num_inputs, num_outputs, graph=dag,
                  next_id=max(dag.nodes) + 1 + extra, limits=limits).validate()


def relabelled(genome: Genome, rng: np.random.Generator) -> Genome:
    """The same genome with vertex ids permuted (and inserted in another order)."""
    old = list(genome.graph.nodes)
    new = [int(x) for x in rng.permutation(np.arange(1000, 1000 + len(old)))]
    mapping = dict(zip(old, new, strict=True))
    out = Genome(genome.num_inputs, genome.num_outputs, next_id=2000)
    order = [old[i] for i in rng.permutation(len(old))]
    for v in order:
        out.graph.add_node(mapping[v], **genome.graph.nodes[v])
    edges = list(genome.graph.edges(data=True))
    for i in rng.permutation(len(edges)):
        u, v, d = edges[i]
        out.graph.add_edge(mapping[u], mapping[v], **d)
    return out
