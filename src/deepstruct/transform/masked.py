"""Exact extraction from our own masked models, read from the masks (vectorised; no forward pass).

Nothing of the model is changed: masks and weights are only read (``.detach().cpu().numpy()`` views).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from deepstruct.sparse import MaskedDeepDAN, MaskedDeepFFN, MaskedLinearLayer
from deepstruct.transform.compact import CompactGraph, VertexBlock

__all__ = ["extract_masked_dan", "extract_masked_ffn", "connection_pattern", "weight_pattern"]


def weight_pattern(weight: torch.Tensor, mask: torch.Tensor | None, threshold: float | None) -> np.ndarray:
    """Boolean array (the weight's shape) of the connections: ``mask`` (without one: ``w != 0``), and
    ``|w| > threshold`` as well when a threshold is given."""
    weight = weight.detach()
    pattern = mask.detach().cpu().numpy() if mask is not None else (weight != 0).cpu().numpy()
    if threshold is not None:
        pattern = pattern & (weight.abs() > threshold).cpu().numpy()
    return pattern


def connection_pattern(layer: MaskedLinearLayer | torch.nn.Linear, threshold: float | None = None) -> np.ndarray:
    """Boolean ``(out, in)`` array of a layer's connections (:func:`weight_pattern` of its weight and mask)."""
    return weight_pattern(layer.weight, getattr(layer, "mask", None), threshold)


class _EdgeFiller:
    """Fills preallocated edge arrays layer by layer (peak memory: the result plus one layer's temporaries)."""

    def __init__(self, patterns: Sequence[np.ndarray], num_vertices: int, with_weights: bool) -> None:
        total = sum(int(np.count_nonzero(p)) for p in patterns)
        dtype = np.int32 if num_vertices < np.iinfo(np.int32).max else np.int64
        self.sources = np.empty(total, dtype=dtype)
        self.targets = np.empty(total, dtype=dtype)
        self.weights = np.empty(total, dtype=np.float32) if with_weights else None
        self.k = 0

    def add(self, pattern: np.ndarray, columns: np.ndarray | int, row_start: int,
            weight: torch.Tensor | None) -> None:
        rows, cols = np.nonzero(pattern)
        n = rows.shape[0]
        part = slice(self.k, self.k + n)
        if isinstance(columns, int):
            np.add(cols, columns, out=self.sources[part], casting="unsafe")
        else:
            np.take(columns.astype(self.sources.dtype, copy=False), cols, out=self.sources[part])
        np.add(rows, row_start, out=self.targets[part], casting="unsafe")
        if self.weights is not None and weight is not None:
            self.weights[part] = weight.detach().cpu().numpy()[rows, cols]
        self.k += n


def extract_masked_ffn(model: MaskedDeepFFN, *, include_weights: bool = False,
                       threshold: float | None = None) -> CompactGraph:
    """The neuron graph of a :class:`~deepstruct.sparse.MaskedDeepFFN`.

    Vertices: ``("input", i)``, ``("layers.l", j)`` for hidden layer ``l`` and ``("output", j)``; ``layer``
    attributes ``0``, ``l + 1`` and ``len(hidden) + 1``.
    """
    layers = [*model.layers, model.output]
    blocks = [VertexBlock("input", "input", 0, 0, model.size_input, (model.size_input,))]
    for t, layer in enumerate(layers):
        name = "output" if layer is model.output else f"layers.{t}"
        kind = "output" if layer is model.output else "neuron"
        blocks.append(VertexBlock(name, kind, t + 1, blocks[-1].start + blocks[-1].count, layer.out_features,
                                  (layer.out_features,)))
    patterns = [connection_pattern(layer, threshold) for layer in layers]
    filler = _EdgeFiller(patterns, blocks[-1].start + blocks[-1].count, include_weights)
    for t, (layer, pattern) in enumerate(zip(layers, patterns, strict=True)):
        filler.add(pattern, blocks[t].start, blocks[t + 1].start, layer.weight)
    return CompactGraph(filler.sources, filler.targets, blocks, filler.weights)


def extract_masked_dan(model: MaskedDeepDAN, *, include_weights: bool = False,
                       threshold: float | None = None) -> CompactGraph:
    """The neuron graph of a :class:`~deepstruct.sparse.MaskedDeepDAN`: the structure's own vertex ids, plus
    ``("input", i)`` for the model inputs and ``("output", j)`` for the output neurons.

    Edges: input -> layer-0 vertices (the first layer's mask), the structure's edges that are still set,
    and sink -> output (the output layer's mask). ``layer`` attributes: inputs 0, a vertex of the model's
    layer ``t`` gets ``t + 1``, outputs ``num_layers + 1``.
    """
    blocks = [VertexBlock("input", "input", 0, 0, model.size_input, (model.size_input,),
                          [("input", i) for i in range(model.size_input)])]
    for t, vertices in enumerate(model.layer_vertices):
        blocks.append(VertexBlock(f"layers.{t}", "neuron", t + 1, blocks[-1].start + blocks[-1].count,
                                  len(vertices), (len(vertices),), list(vertices)))
    out_labels = [("output", j) for j in range(model.size_output)]
    clash = [v for v in [*blocks[0].labels, *out_labels] if model.structure.has_node(v)]  # type: ignore[misc]
    if clash:
        raise ValueError(f"structure vertex ids {clash[:3]} clash with the input/output vertex ids "
                         "('input', i) and ('output', j); rename those vertices")
    blocks.append(VertexBlock("output", "output", model.num_layers + 1, blocks[-1].start + blocks[-1].count,
                              model.size_output, (model.size_output,), out_labels))

    layers = [*model.layers, model.output]
    patterns = [connection_pattern(layer, threshold) for layer in layers]
    filler = _EdgeFiller(patterns, blocks[-1].start + blocks[-1].count, include_weights)
    filler.add(patterns[0], 0, blocks[1].start, layers[0].weight)
    for t in range(1, model.num_layers + 1):  # matrix_inputs numbers units as the blocks do
        filler.add(patterns[t], model.matrix_inputs(t), blocks[t + 1].start, layers[t].weight)
    return CompactGraph(filler.sources, filler.targets, blocks, filler.weights)
