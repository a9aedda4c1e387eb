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

from pathlib import Path
from typing import Any

from deepstruct.evo.config import ConfigError

__all__ = ["extract_model_file", "phenotype_graph", "load_model_file", "MAX_MODEL_BYTES"]

MODEL_FORMAT = "deepstruct.model"
"""The ``format`` of a ``best_model.pt`` file (written by :mod:`deepstruct.evo.report`)."""

#: The largest model file read (a best network of the largest genome a run allows is a few MB).
MAX_MODEL_BYTES = 1 << 30


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


def load_model_file(path: Path, limits: Any = None) -> tuple[Any, Any]:
    """``(genome, model)`` of a ``best_model.pt``: a regular file, loaded with ``torch.load(weights_only=True)``
    (never unpickled), its genome read by the strict genome loader, the model decoded from it and its state
    checked key by key and shape by shape. Whatever is wrong is a :class:`ConfigError` naming the file."""
    import io

    import torch

    from deepstruct.genomes import GenomeError, from_json
    from deepstruct.genomes.phenotype import decode
    from deepstruct.safe_files import UnsafeFileError, read_regular

    where = f"model_file: {str(path)[:200]}"
    try:
        raw = read_regular(path, MAX_MODEL_BYTES, what="model file")
    except FileNotFoundError:
        raise ConfigError(f"{where} does not exist") from None
    except (UnsafeFileError, OSError) as exc:
        raise ConfigError(f"{where} cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        saved = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a usage error
        raise ConfigError(f"{where} is not a model saved by deepstruct ({type(exc).__name__})") from None
    if not isinstance(saved, dict) or saved.get("format") != MODEL_FORMAT:
        raise ConfigError(f"{where} is not a {MODEL_FORMAT} file (as written by `deepstruct evolve`)")
    kind, text, state = saved.get("phenotype", "dan"), saved.get("genome"), saved.get("state_dict")
    if kind not in ("dan", "ffn", "auto"):
        raise ConfigError(f"{where} names an unknown phenotype {str(kind)[:40]!r}")
    if not isinstance(text, str) or not isinstance(state, dict):
        raise ConfigError(f"{where} needs a genome (JSON text) and a state_dict")
    try:
        genome = from_json(text, limits=limits)
        model = decode(genome, kind=kind, generator=torch.Generator().manual_seed(0), load_weights=False)
        expected = model.state_dict()
        if set(state) != set(expected):
            odd = sorted(set(state) ^ set(expected))[0]
            raise ValueError(f"its state_dict does not fit its genome ({'extra' if odd in state else 'missing'} "
                             f"key {odd[:60]!r})")
        for key, value in state.items():
            if not isinstance(value, torch.Tensor) or value.shape != expected[key].shape:
                raise ValueError(f"its state_dict entry {key[:60]!r} does not have the shape its genome needs")
        model.load_state_dict(state)
    except (GenomeError, ValueError, TypeError, RuntimeError, KeyError) as exc:
        raise ConfigError(f"{where} is damaged: {type(exc).__name__}: {str(exc)[:300]}") from None
    return genome, model


def extract_model_file(model_file: str | Path, out: str | Path | None = None) -> list[str]:
    """Load ``best_model.pt`` (``torch.load(weights_only=True)``), rebuild the model and write its graph.

    Writes ``<stem>.graphml`` (:func:`phenotype_graph`: the structure read from the trained masks, named with
    the genome's ids, so for a Lamarckian run it is the graph of ``best/genome_00.graphml``) and
    ``<stem>.genome.json`` (the re-encoded genome with its trained weights); returns lines describing them.
    """
    import io

    import networkx as nx

    from deepstruct.genomes import GenomeError, to_json
    from deepstruct.genomes.phenotype import encode
    from deepstruct.safe_files import UnsafeFileError, write_inside

    path = Path(model_file)
    genome, model = load_model_file(path)
    try:
        graph = phenotype_graph(model)
        encoded = encode(model, num_inputs=genome.num_inputs, include_weights=True, template=genome)
    except (GenomeError, ValueError, TypeError, RuntimeError, KeyError) as exc:
        raise ConfigError(f"model_file: {str(path)[:200]} is damaged: {type(exc).__name__}: "
                          f"{str(exc)[:300]}") from None
    stem = Path(out) if out else path.with_suffix("")
    stem.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    nx.write_graphml(graph, buffer)
    try:  # never through a symlink planted beside the model file (a run directory may come from anyone)
        graph_file = write_inside(stem.parent, stem.name + ".graphml", buffer.getvalue())
        genome_file = write_inside(stem.parent, stem.name + ".genome.json", to_json(encoded, indent=1).encode())
    except UnsafeFileError as exc:
        raise ConfigError(str(exc)) from None
    from deepstruct.genomes.size import genome_size, model_size

    return [f"{path}: {model_size(model).describe()} (read from the masks; sizes as deepstruct.genomes.size "
            f"counts them); its graph: {graph.number_of_nodes()} units, {graph.number_of_edges()} edges (interface "
            "included; ids as in the genome's GraphML)",
            f"wrote {graph_file} and {genome_file} (re-encoded: {genome_size(encoded).describe()})"]
