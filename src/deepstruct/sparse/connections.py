"""Reading masks: the one place where the masks of a model turn into structure, and where set entries are counted.

A phenotype (:class:`~deepstruct.sparse.MaskedDeepDAN`, :class:`~deepstruct.sparse.MaskedDeepFFN`) numbers its
units globally: the model inputs ``0 .. size_input - 1``, then its hidden units layer by layer in row order, then
its outputs. Each of its masked matrices (the output matrix last) has rows that are consecutive units and columns
that each read one unit; the phenotype's ``connections()`` says which (one reader per phenotype), and
:class:`MatrixConnections` reads the mask. Encoding (:func:`deepstruct.genomes.encode`), extraction
(:class:`deepstruct.transform.GraphTransform`), ``MaskedDeepDAN.edge_arrays`` / ``interface_arrays`` /
``generate_structure`` and the evaluation's counters all read masks through it; :func:`count_set` counts the set
entries of any masked layers (densities, density reports).

Examples
--------
>>> import torch
>>> from deepstruct.sparse import MaskedDeepFFN
>>> model = MaskedDeepFFN(3, 2, [4])
>>> with torch.no_grad():
...     model.layers[0].mask[0, 2] = False
>>> [m.count for m in model.connections()], count_set(model.maskable_layers())
([11, 8], (19, 20))
>>> sources, targets, _ = model.connections()[0].edges()
>>> (2, 3) in set(zip(sources.tolist(), targets.tolist())), (1, 3) in set(zip(sources.tolist(), targets.tolist()))
(False, True)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

__all__ = ["MatrixConnections", "weight_pattern", "count_set", "edges_by_kind"]


def weight_pattern(weight: torch.Tensor, mask: torch.Tensor | None, threshold: float | None) -> np.ndarray:
    """Boolean array (the weight's shape) of the connections: ``mask`` (without one: ``w != 0``), and
    ``|w| > threshold`` as well when a threshold is given."""
    weight = weight.detach()
    pattern = mask.detach().cpu().numpy() if mask is not None else (weight != 0).cpu().numpy()
    if threshold is not None:
        pattern = pattern & (weight.abs() > threshold).cpu().numpy()
    return pattern


def count_set(layers: Iterable[Any]) -> tuple[int, int]:
    """``(set entries, entries)`` of the masks of ``layers`` (masked layers, each with a boolean ``mask``)."""
    active = total = 0
    for layer in layers:
        active += int(layer.mask.sum())
        total += layer.mask.numel()
    return active, total


class MatrixConnections:
    """The connections of one masked matrix: the entries of its pattern, and the units its rows and columns are.

    Parameters
    ----------
    index : int
        The matrix's position in the phenotype (its output matrix is the last).
    layer : MaskedLinearLayer or nn.Linear
        The matrix (``weight`` and, for a masked layer, ``mask``).
    columns : numpy array of int, or int
        The unit each column reads; an int is the first of consecutive units.
    row_start : int
        The unit of row 0 (rows are consecutive units).
    threshold : float, optional
        Count only connections with ``|w| > threshold`` as well (see :func:`weight_pattern`).
    """

    __slots__ = ("index", "layer", "columns", "row_start", "pattern")

    def __init__(self, index: int, layer: Any, columns: np.ndarray | int, row_start: int,
                 threshold: float | None = None) -> None:
        self.index, self.layer, self.columns, self.row_start = index, layer, columns, row_start
        self.pattern = weight_pattern(layer.weight, getattr(layer, "mask", None), threshold)

    @property
    def count(self) -> int:
        """The set connections."""
        return int(np.count_nonzero(self.pattern))

    def entries(self) -> tuple[np.ndarray, np.ndarray]:
        """``(rows, cols)`` of the set connections, row by row."""
        return np.nonzero(self.pattern)

    def sources(self, cols: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """The units that columns ``cols`` read (into ``out`` when given)."""
        if isinstance(self.columns, int):
            return np.add(cols, self.columns, out=out, casting="unsafe")
        columns = self.columns if out is None else self.columns.astype(out.dtype, copy=False)
        return np.take(columns, cols, out=out)

    def targets(self, rows: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """The units of rows ``rows`` (into ``out`` when given)."""
        return np.add(rows, self.row_start, out=out, casting="unsafe")

    def weights(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """The raw weights at ``(rows, cols)``."""
        return self.layer.weight.detach().cpu().numpy()[rows, cols]

    def edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(sources, targets, weights)`` of the set connections, as units (int64) and raw weights."""
        rows, cols = self.entries()
        return (self.sources(cols).astype(np.int64, copy=False), self.targets(rows).astype(np.int64, copy=False),
                self.weights(rows, cols))


Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]


def _pick(arrays: list[Arrays], keep: list[np.ndarray]) -> Arrays:
    return tuple(np.concatenate([a[i][k] for a, k in zip(arrays, keep, strict=True)])  # type: ignore[return-value]
                 for i in range(3))


def edges_by_kind(connections: list[MatrixConnections], size_input: int, vertices: np.ndarray) -> dict[str, Arrays]:
    """The connections of a phenotype by the kinds of their ends, read once.

    ``{"hidden": (sources, targets, weights), "input": (inputs, vertices, weights), "output": (vertices, outputs,
    weights), "direct": (inputs, outputs, weights)}``: hidden units are named by ``vertices`` (an object array,
    the vertex of every hidden unit in unit order), inputs and outputs by their indices (int64). ``connections``
    are a phenotype's, its output matrix last.
    """
    hidden, output = [c.edges() for c in connections[:-1]], connections[-1].edges()
    first_output = int(connections[-1].row_start)
    reads_input = [s < size_input for s, _, _ in hidden]

    def named(arrays: Arrays, source_hidden: bool, target_hidden: bool) -> Arrays:
        s, t, w = arrays
        return (vertices[s - size_input] if source_hidden else s,
                vertices[t - size_input] if target_hidden else t - (0 if target_hidden else first_output), w)

    out_from_input = output[0] < size_input
    return {
        "hidden": named(_pick(hidden, [~r for r in reads_input]), True, True),
        "input": named(_pick(hidden, reads_input), False, True),
        "output": named(_pick([output], [~out_from_input]), True, False),
        "direct": named(_pick([output], [out_from_input]), False, False),
    }
