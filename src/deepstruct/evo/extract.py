"""``deepstruct extract MODEL_FILE``: the graph of a saved model, read without unpickling anything.

The model of a ``best_model.pt`` is always a decoded phenotype (``MaskedDeepDAN`` or ``MaskedDeepFFN``), so its
graph is read exactly from its masks (:class:`~deepstruct.transform.GraphTransform` does that for our models, with
no forward pass) and its units are named as the genome names them (:func:`phenotype_graph`): hidden vertices by
their genome vertex ids (the decode plan knows which genome vertex every row of every matrix is), interface
units ``input:i`` and ``output:j``, as in :func:`~deepstruct.genomes.save_graphml`. The GraphML of a genome and
the extracted graph of the model decoded from it are therefore the same graph (same vertex ids, same edges);
after pruning, a pruned connection is an absent edge. Any other torch model has no genome ids: extract it with
``GraphTransform`` (the library API; ``deepstruct extract`` reads only ``best_model.pt`` files).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from deepstruct.evo.config import ConfigError
from deepstruct.evo.report import MODEL_FORMAT
from deepstruct.genomes import Genome, save_json

__all__ = ["extract_model_file", "phenotype_graph"]


def phenotype_graph(model: Any) -> Any:
    """The exact graph of a decoded phenotype (from its masks), with the ids of its genome's GraphML.

    Vertices: ``"input:i"`` for every input unit with at least one edge (an input without any is a pruned
    feature; it is left out, as genome files leave it out, and ``num_inputs`` says how many there are),
    ``str(v)`` for every hidden vertex ``v`` of the model (one that pruning cut off stays: it is in the model),
    and ``"output:j"`` for every output unit (the model computes them all). Attributes: ``kind``
    (``"input"``/``"output"``) on interface units, ``bias`` on hidden and output units, ``weight`` on edges;
    the graph has ``num_inputs`` and ``num_outputs``.

    Parameters
    ----------
    model : MaskedDeepDAN or MaskedDeepFFN
        A model built by :func:`~deepstruct.genomes.decode` (an FFN needs the ``genome_info`` that decode
        leaves on it to know its rows' vertex ids; a DAN's structure holds them).
    """
    import networkx as nx
    import numpy as np

    from deepstruct.sparse import MaskedDeepDAN, MaskedDeepFFN
    from deepstruct.transform import GraphTransform

    if isinstance(model, MaskedDeepDAN):
        rows: list[list[Any]] = [list(vs) for vs in model.layer_vertices]
    elif isinstance(model, MaskedDeepFFN) and getattr(getattr(model, "genome_info", None), "layer_vertices", None):
        rows = [list(vs) for vs in model.genome_info.layer_vertices]
    else:
        raise ValueError(f"a {type(model).__name__} is not a decoded phenotype: extract it with GraphTransform")
    compact = GraphTransform(include_weights=True).extract(model)  # exact: read from the masks
    names: list[str] = []
    for block in compact.blocks:
        if block.kind in ("input", "output"):
            names.extend(f"{block.kind}:{k}" for k in range(block.count))
        else:  # layer t's block (DAN labels: the vertex ids; FFN labels: (name, row))
            t = block.layer - 1
            names.extend(str(rows[t][k]) for k in range(block.count))
    ids = np.asarray(names, dtype=object)
    graph = nx.DiGraph(num_inputs=model.size_input, num_outputs=model.size_output)
    hidden = [*model.layers]
    for t, vs in enumerate(rows):
        biases = hidden[t].bias.detach().cpu().tolist() if hidden[t].bias is not None else None
        for r, v in enumerate(vs):
            graph.add_node(str(v), **({"bias": biases[r]} if biases is not None else {}))
    for src, tgt, w in compact.chunks():
        graph.add_weighted_edges_from(zip(ids[np.asarray(src)].tolist(), ids[np.asarray(tgt)].tolist(),
                                          np.asarray(w, dtype=np.float64).tolist(), strict=True))
    for name in graph:
        if name.startswith("input:"):
            graph.nodes[name]["kind"] = "input"
    output_biases = model.output.bias.detach().cpu().tolist() if model.output.bias is not None else None
    for j in range(model.size_output):
        graph.add_node(f"output:{j}", kind="output", **({"bias": output_biases[j]} if output_biases else {}))
    return graph


def extract_model_file(model_file: str | Path, out: str | Path | None = None) -> list[str]:
    """Load ``best_model.pt`` (``torch.load(weights_only=True)``), rebuild the model and write its graph.

    Writes ``<stem>.graphml`` (:func:`phenotype_graph`: the structure read from the trained masks, named with
    the genome's ids, so for a Lamarckian run it is the graph of ``best/genome_00.graphml``) and
    ``<stem>.genome.json`` (the re-encoded genome with its trained weights); returns lines describing them.
    """
    import networkx as nx
    import torch

    from deepstruct.genomes.phenotype import decode, encode

    path = Path(model_file)
    if not path.is_file():
        raise ConfigError(f"model_file: {path} does not exist")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a usage error
        raise ConfigError(f"model_file: {path} is not a model saved by deepstruct ({type(exc).__name__})") from None
    if not isinstance(saved, dict) or saved.get("format") != MODEL_FORMAT:
        raise ConfigError(f"model_file: {path} is not a {MODEL_FORMAT} file (as written by `deepstruct evolve`)")
    genome = Genome.from_dict(json.loads(saved["genome"]))
    kind = saved.get("phenotype", "dan")
    if kind not in ("dan", "ffn", "auto"):
        raise ConfigError(f"model_file: {path} names an unknown phenotype {kind!r}")
    model = decode(genome, kind=kind, generator=torch.Generator().manual_seed(0), load_weights=False)
    model.load_state_dict(saved["state_dict"])
    graph = phenotype_graph(model)
    stem = Path(out) if out else path.with_suffix("")
    stem.parent.mkdir(parents=True, exist_ok=True)
    graph_file = stem.with_name(stem.name + ".graphml")
    nx.write_graphml(graph, graph_file)
    encoded = encode(model, num_inputs=genome.num_inputs, include_weights=True, template=genome)
    genome_file = stem.with_name(stem.name + ".genome.json")
    save_json(encoded, genome_file)
    return [f"{path}: {graph.number_of_nodes()} vertices, {graph.number_of_edges()} edges (read from the masks; "
            "ids as in the genome's GraphML)",
            f"wrote {graph_file} and {genome_file} ({encoded.num_vertices} hidden vertices, "
            f"{encoded.num_edges} hidden edges)"]
