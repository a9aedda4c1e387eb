"""Hypothesis strategies for genomes (shared by the genome and operator tests)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from deepstruct.genomes import Genome, GenomeLimits
from deepstruct.genomes.genome import ACTIVATION_NAMES
from tests.strategies import random_dags

FLOATS = st.floats(-4, 4, width=32, allow_nan=False, allow_infinity=False)


@st.composite
def genomes(draw: st.DrawFn, max_vertices: int = 14, weights: bool | None = False,
            activations: bool = True, limits: GenomeLimits | None = None,
            interface: tuple[int, int] | None = None, sparse: bool | None = None) -> Genome:
    """A random valid genome.

    ``sparse`` (drawn when None) gives a random sparse interface: every vertex reads a random subset of the
    inputs and feeds a random subset of the outputs (at least one where it has no predecessor / successor),
    plus a few input-to-output edges; otherwise the dense interface of the constructor. With ``weights``
    every edge (interface edges included), vertex and output carries a float32-exact weight or bias. With
    ``limits`` the genome is within them (hidden edges are dropped first, then optional interface edges).
    """
    dag = draw(random_dags(max_vertices=max_vertices))
    if sparse is None:
        sparse = draw(st.booleans())
    if weights is None:
        weights = draw(st.booleans())
    num_inputs, num_outputs = interface if interface is not None else (draw(st.integers(1, 6)),
                                                                        draw(st.integers(1, 4)))
    if limits is not None and len(dag) * (num_inputs + num_outputs) > limits.max_edges:
        sparse = True  # the dense interface alone would pass the limit
    if limits is not None:  # room for the interface: one edge per way in and out (dense: every input/output)
        per = (1, 1) if sparse else (num_inputs, num_outputs)
        dag.remove_edges_from(list(dag.edges)[max(0, limits.max_edges - sum(per) * len(dag)):])
    for v in dag.nodes:
        if activations and draw(st.booleans()):
            dag.nodes[v]["activation"] = draw(st.sampled_from(ACTIVATION_NAMES))
        if weights:
            dag.nodes[v]["bias"] = float(draw(FLOATS))
    for u, v in dag.edges:
        if weights:
            dag.edges[u, v]["weight"] = float(draw(FLOATS))
    extra = draw(st.integers(0, 5))
    kwargs = {}
    if sparse:
        budget = (limits.max_edges if limits is not None else 10**9) - dag.number_of_edges()
        inputs, outputs, direct = [], [], []
        for v in sorted(dag.nodes):
            for side, size, needed, out in (("in", num_inputs, not dag.pred[v], inputs),
                                            ("out", num_outputs, not dag.succ[v], outputs)):
                chosen = draw(st.sets(st.integers(0, size - 1), min_size=1 if needed else 0, max_size=size))
                for k in sorted(chosen):
                    if needed or budget > len(dag) * 2:
                        out.append((k, v) if side == "in" else (v, k))
                        budget -= 1
                    needed = False
        if budget > len(dag) * 2:
            direct = sorted(draw(st.sets(st.tuples(st.integers(0, num_inputs - 1), st.integers(0, num_outputs - 1)),
                                         max_size=2)))
        attach = (lambda pairs: [(a, b, {"weight": float(draw(FLOATS))}) for a, b in pairs]) if weights else list
        kwargs = {"input_edges": attach(inputs), "output_edges": attach(outputs), "direct_edges": attach(direct)}
    genome = Genome(num_inputs, num_outputs, graph=dag, next_id=max(dag.nodes) + 1 + extra, limits=limits,
                    **kwargs)
    if weights:
        for table in (genome.input_edges, genome.output_edges, genome.direct_edges):
            for inner in table.values():
                for d in inner.values():
                    d.setdefault("weight", float(draw(FLOATS)))
        genome.output_biases = {j: float(draw(FLOATS)) for j in range(num_outputs)}
    return genome.validate()


def relabelled(genome: Genome, rng: np.random.Generator) -> Genome:
    """The same genome with vertex ids permuted (and inserted in another order); the interface is kept."""
    old = list(genome.graph.nodes)
    new = [int(x) for x in rng.permutation(np.arange(1000, 1000 + len(old)))]
    mapping = dict(zip(old, new, strict=True))
    out = Genome(genome.num_inputs, genome.num_outputs, next_id=2000, input_edges=(), output_edges=())
    order = [old[i] for i in rng.permutation(len(old))]
    for v in order:
        out.graph.add_node(mapping[v], **genome.graph.nodes[v])
    edges = list(genome.graph.edges(data=True))
    for i in rng.permutation(len(edges)):
        u, v, d = edges[i]
        out.graph.add_edge(mapping[u], mapping[v], **d)
    for v in order:
        for i, d in genome.input_edges.get(v, {}).items():
            out.add_input_edge(i, mapping[v], **d)
        for j, d in genome.output_edges.get(v, {}).items():
            out.add_output_edge(mapping[v], j, **d)
    for i, inner in genome.direct_edges.items():
        for j, d in inner.items():
            out.add_direct_edge(i, j, **d)
    out.output_biases = dict(genome.output_biases)
    return out
