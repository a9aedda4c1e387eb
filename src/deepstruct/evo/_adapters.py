"""Private adapters: use the owners' functions where they exist, small stand-ins where they do not yet.

``decode``/``encode`` come from :mod:`deepstruct.genomes.phenotype`, ``canonical_hash`` from
:mod:`deepstruct.genomes`, ``prune_by_magnitude`` from :mod:`deepstruct.pruning`. The stand-ins keep
:mod:`deepstruct.evo` usable while a module is missing; they are not public API.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import networkx as nx
import numpy as np

from deepstruct.genomes import Genome

__all__ = ["decode", "encode", "genome_key", "prune"]


def genome_key(genome: Genome) -> str:
    """The fitness-cache key: the canonical hash (inherited weights included), equal for isomorphic genomes."""
    try:
        from deepstruct.genomes import canonical_hash  # type: ignore[attr-defined]
    except ImportError:
        canonical_hash = None
    if canonical_hash is not None:
        return str(canonical_hash(genome))
    g = nx.DiGraph(genome.graph.edges)
    g.add_nodes_from(genome.graph.nodes)
    for v in g.nodes:
        g.nodes[v]["label"] = str(genome.graph.nodes[v].get("activation", ""))
    key = nx.weisfeiler_lehman_graph_hash(g, node_attr="label", iterations=4)
    key = f"wl:{genome.num_inputs}:{genome.num_outputs}:{g.number_of_nodes()}:{g.number_of_edges()}:{key}"
    if genome.has_weights:
        payload = json.dumps(genome.to_dict(), sort_keys=True).encode()
        key += ":w" + hashlib.sha256(payload).hexdigest()[:24]
    return key


def decode(genome: Genome, *, generator: Any = None, load_weights: bool = True) -> Any:
    """Genome -> :class:`deepstruct.sparse.MaskedDeepDAN` (owner B's decode when present)."""
    try:
        from deepstruct.genomes.phenotype import decode as owner_decode  # type: ignore[import-not-found]
    except ImportError:
        owner_decode = None
    if owner_decode is not None:
        return owner_decode(genome, kind="dan", generator=generator, load_weights=load_weights)
    import torch

    from deepstruct.sparse import MaskedDeepDAN

    structure = nx.DiGraph()
    structure.add_nodes_from(genome.graph.nodes)
    structure.add_edges_from(genome.graph.edges)
    model = MaskedDeepDAN(genome.num_inputs, genome.num_outputs, structure, generator=generator)
    if load_weights and genome.has_weights:
        with torch.no_grad():
            for v, d in genome.graph.nodes(data=True):
                if "bias" in d:
                    t, row = model.vertex_position(v)
                    model.layers[t].bias[row] = float(d["bias"])
            for t in range(1, model.num_layers):
                columns = {u: i for i, u in enumerate(model.column_vertices(t))}
                for row, v in enumerate(model.layer_vertices[t]):
                    for u in genome.graph.predecessors(v):
                        w = genome.graph.edges[u, v].get("weight")
                        if w is not None:
                            model.layers[t].weight[row, columns[u]] = float(w)
    return model


def encode(model: Any, genome: Genome, *, include_weights: bool) -> Genome:
    """Trained (pruned) model -> genome with the same vertex ids (owner B's encode when present)."""
    try:
        from deepstruct.genomes.phenotype import encode as owner_encode  # type: ignore[import-not-found]
    except ImportError:
        owner_encode = None
    if owner_encode is not None:
        return owner_encode(model, num_inputs=genome.num_inputs, include_weights=include_weights, template=genome)
    structure = model.generate_structure(include_weights=include_weights)
    graph = nx.DiGraph()
    for v in structure.nodes:
        graph.add_node(v, **dict(genome.graph.nodes[v]))
    for u, v, d in structure.edges(data=True):
        graph.add_edge(u, v, **({"weight": float(d["weight"])} if include_weights else {}))
    if include_weights:
        for t, vertices in enumerate(model.layer_vertices):
            bias = model.layers[t].bias.detach().cpu().numpy()
            for row, v in enumerate(vertices):
                graph.nodes[v]["bias"] = float(bias[row])
    # drop vertices without an input-to-output path: sources that read nothing, sinks that feed nothing
    reads = {v: bool(model.layers[0].mask[row].any()) for row, v in enumerate(model.layer_vertices[0])}
    out_mask = model.output.mask.detach().cpu().numpy()
    feeds = {v: bool(out_mask[:, i].any()) for i, v in enumerate(model.sinks)}
    changed = True
    while changed:
        changed = False
        for v in list(graph.nodes):
            dead_source = graph.in_degree(v) == 0 and not reads.get(v, True)
            dead_sink = graph.out_degree(v) == 0 and not feeds.get(v, True)
            if dead_source or dead_sink:
                graph.remove_node(v)
                reads.setdefault(v, False)
                changed = True
    return Genome(genome.num_inputs, genome.num_outputs, graph=graph, next_id=genome.next_id,
                  limits=genome.limits).validate()


def prune(model: Any, amount: float) -> None:
    """Magnitude pruning of ``amount`` of each layer's connections (owner A's prune_by_magnitude when present)."""
    try:
        from deepstruct.pruning import prune_by_magnitude  # type: ignore[attr-defined]
    except ImportError:
        prune_by_magnitude = None
    if prune_by_magnitude is not None:
        prune_by_magnitude(model, amount, scope="layer", include_output=False)
        return
    import torch

    from deepstruct.sparse import maskable_layers

    for layer in maskable_layers(model)[:-1]:  # keep the output layer dense
        magnitudes = (layer.weight.detach().abs() * layer.mask).cpu().numpy()[layer.mask.cpu().numpy()]
        if magnitudes.size == 0:
            continue
        k = int(np.floor(amount * magnitudes.size))
        if k <= 0:
            continue
        theta = float(np.partition(magnitudes, k - 1)[k - 1])
        with torch.no_grad():
            layer.recompute_mask(theta)
