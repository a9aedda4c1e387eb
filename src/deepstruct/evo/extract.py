"""``deepstruct extract MODEL_FILE``: the graph of a saved model, read without unpickling anything."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

from deepstruct.evo.config import ConfigError

__all__ = ["extract_model_file"]


def extract_model_file(model_file: str | Path, out: str | Path | None = None) -> list[str]:
    """Load ``best_model.pt`` (``torch.load(weights_only=True)``), rebuild the model and write its graph.

    Writes ``<stem>.graphml`` (the structure read from the trained masks) and ``<stem>.genome.json`` (the
    re-encoded genome with its trained weights); returns lines describing them.
    """
    import networkx as nx
    import torch

    from deepstruct.evo.report import MODEL_FORMAT
    from deepstruct.genomes import Genome, save_json
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
    graph, how = None, "the masks"
    try:
        from deepstruct.transform import GraphTransform  # type: ignore[attr-defined]

        graph = GraphTransform(torch.zeros(1, genome.num_inputs)).transform(model)
        how = "GraphTransform"
    except Exception as exc:  # noqa: BLE001 - the masks give the exact structure anyway
        warnings.warn(f"GraphTransform failed ({type(exc).__name__}: {exc}); the graph is read from the masks",
                      stacklevel=2)
        graph = None
    if graph is None:
        graph = nx.DiGraph(model.generate_structure(include_weights=True))
    stem = Path(out) if out else path.with_suffix("")
    stem.parent.mkdir(parents=True, exist_ok=True)
    graph_file = stem.with_name(stem.name + ".graphml")
    clean = nx.DiGraph()
    clean.add_nodes_from(str(v) for v in graph.nodes)
    for u, v, d in graph.edges(data=True):
        clean.add_edge(str(u), str(v), **{k: float(x) for k, x in d.items() if isinstance(x, (int, float))})
    nx.write_graphml(clean, graph_file)
    encoded = encode(model, num_inputs=genome.num_inputs, include_weights=True, template=genome)
    genome_file = stem.with_name(stem.name + ".genome.json")
    save_json(encoded, genome_file)
    return [f"{path}: {graph.number_of_nodes()} vertices, {graph.number_of_edges()} edges (read from {how})",
            f"wrote {graph_file} and {genome_file} ({encoded.num_vertices} hidden vertices, "
            f"{encoded.num_edges} hidden edges)"]
