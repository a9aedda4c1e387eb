"""``VertexBlock``: a run of consecutive vertex indices of an extracted graph (re-exported by
:mod:`deepstruct.transform.compact`, whose :class:`~deepstruct.transform.CompactGraph` holds a list of them)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

__all__ = ["VertexBlock"]


@dataclass
class VertexBlock:
    """A run of consecutive vertex indices created by one layer or operation.

    Attributes
    ----------
    name : str
        Module name (``"layers.0"``), operation name (``"add_1"``), ``"input"`` or ``"output"``.
    kind : str
        What created the vertices (``"linear"``, ``"conv"``, ``"pool"``, ``"add"``, ``"neuron"``, ...); the
        model's interface is ``"input"`` and ``"output"`` (which ``MaskedDeepDAN`` leaves out of a structure).
    layer : int
        Position of the block in creation order (the input is 0); a ``MaskedDeepDAN`` uses its layers + 1.
    start, count : int
        The block holds vertex indices ``start .. start + count - 1``.
    shape : tuple of int
        Shape of one sample's tensor of these neurons (``neuron`` attributes are flat indices into it).
    labels : sequence, optional
        Explicit vertex ids, one per vertex; ``(name, neuron)`` otherwise.
    """

    name: str
    kind: str
    layer: int
    start: int
    count: int
    shape: tuple[int, ...] = ()
    labels: Sequence[Hashable] | None = None

    def label(self, k: int) -> Hashable:
        return self.labels[k] if self.labels is not None else (self.name, k)
