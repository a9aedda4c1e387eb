"""Batch plans of masked DANs: the shapes batching depends on, the stacked layout, and the plan itself.

Plain data (numpy only; importing this module does not import torch). A :class:`MemberShape` is read from a model
(:meth:`MemberShape.of`) or from a genome without building one (:func:`deepstruct.genomes.shape.member_shape`,
also ``deepstruct.genomes.phenotype.member_shape``), so the evolution engine plans its batches from the requests
alone (:func:`deepstruct.evo.batching.plan_batches`) and :class:`~deepstruct.sparse.population.PopulationDAN`
allocates exactly what the plan counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from deepstruct._validation import check_int

__all__ = ["MemberShape", "Layout", "padded_weights", "plan_batches", "INPUT_BLOCK", "MAX_DEPTH_PADDING", "ROW_GRANULE"]

INPUT_BLOCK = -1  # the block id of the model inputs; hidden layer j is block j


@dataclass(frozen=True)
class MemberShape:
    """The sizes of one member that batching depends on (plain data; no weights).

    ``widths[t]`` is the number of units of hidden layer ``t``; ``feeding[t]`` the blocks matrix ``t`` reads
    (``-1`` the inputs, ``j`` hidden layer ``j``; the last entry is the output matrix) and ``columns[t]`` its
    number of columns.
    """

    num_inputs: int
    num_outputs: int
    widths: tuple[int, ...]
    feeding: tuple[tuple[int, ...], ...]
    columns: tuple[int, ...]

    @classmethod
    def of(cls, model: Any) -> MemberShape:
        """The shape of a ``MaskedDeepDAN`` (from ``matrices()`` and ``matrix_inputs``)."""
        matrices = model.matrices()
        widths = tuple(int(m.out_features) for m in matrices[:-1])
        bounds = np.cumsum([model.size_input, *widths])
        feeding, columns = [], []
        for t in range(len(matrices)):
            units = np.asarray(model.matrix_inputs(t), dtype=np.int64)
            feeding.append(tuple(sorted(set((np.searchsorted(bounds, units, side="right") - 1).tolist()))))
            columns.append(len(units))
        return cls(int(model.size_input), int(model.size_output), widths, tuple(feeding), tuple(columns))

    @property
    def num_layers(self) -> int:
        return len(self.widths)

    @property
    def live_layers(self) -> tuple[bool, ...]:
        """Whether each hidden layer's output reaches the logits (a dead layer's parameters get no gradient)."""
        need = {b for b in self.feeding[-1] if b != INPUT_BLOCK}
        live = [False] * self.num_layers
        for t in reversed(range(self.num_layers)):
            if t in need:
                live[t] = True
                need.update(b for b in self.feeding[t] if b != INPUT_BLOCK)
        return tuple(live)

    @property
    def weights(self) -> int:
        """Entries of the member's own masked matrices."""
        return sum(r * c for r, c in zip((*self.widths, self.num_outputs), self.columns, strict=True))


#: Rows of a population matrix (a hidden layer's width, the outputs) from :data:`MIN_PADDED` up are padded to a
#: multiple of :data:`ROW_GRANULE`. Batched products whose result has 10, 14 or 22 columns run 2-3x slower on a
#: CPU than ones with 16 or 24 (torch 2.13, one thread: ``(54, 64, 24) @ (54, 24, 10)`` 126 us, ``@ (54, 24,
#: 16)`` 41 us); narrower layers stay as they are, since padding them mostly adds columns to every later layer
#: that reads them. Measured on the digits benchmark population, one training step of every batch: 12-26 %
#: faster than unpadded (granule 16 was slower again). The padded rows are zeros under a zero mask, so no
#: member's function changes.
ROW_GRANULE = 8
MIN_PADDED = 8


def _padded(rows: int) -> int:
    return rows if rows < MIN_PADDED else -(-rows // ROW_GRANULE) * ROW_GRANULE


@dataclass(frozen=True)
class Layout:
    """Where a population's members live in its stacked tensors (plain data, from the members' shapes).

    ``widths[t]`` is the widest member's hidden layer ``t``, padded (see :data:`ROW_GRANULE`); ``rows[p]`` the rows
    of population matrix ``p`` (the widths, then the outputs, padded alike). ``projected`` are the matrices that any
    member's matrix reads model inputs into: their input columns lie side by side in the one input projection
    (``projected_rows`` wide), and every matrix's biases in one row, ``row_offsets[p]`` being where matrix ``p``
    starts in both (the projected matrices first, so that the projection's biases are one slice). A matrix that no
    member feeds from the inputs costs no projection columns. ``hidden_blocks[p]`` are the hidden layers that any
    member's matrix ``p`` reads, ``hidden_offsets[p][b]`` where block ``b`` starts among matrix ``p``'s hidden
    columns and ``hidden_columns[p]`` how many there are.
    """

    num_inputs: int
    num_outputs: int
    widths: tuple[int, ...]
    hidden_blocks: tuple[tuple[int, ...], ...]
    hidden_offsets: tuple[dict[int, int], ...]
    hidden_columns: tuple[int, ...]
    projected: tuple[int, ...]

    @classmethod
    def of(cls, shapes: Sequence[MemberShape]) -> Layout:
        if not shapes:
            raise ValueError("a population needs at least one member")
        interface = {(s.num_inputs, s.num_outputs) for s in shapes}
        if len(interface) > 1:
            raise ValueError(f"members of one population must share inputs and outputs; got (inputs, outputs) "
                             f"{sorted(interface)}")
        depth = max(s.num_layers for s in shapes)
        widths = [_padded(max(s.widths[t] if t < s.num_layers else 0 for s in shapes)) for t in range(depth)]
        blocks: list[set[int]] = [set() for _ in range(depth + 1)]
        projected: set[int] = set()
        for s in shapes:
            for t, feeding in enumerate(s.feeding):
                p = t if t < s.num_layers else depth
                blocks[p].update(b for b in feeding if b != INPUT_BLOCK)
                if INPUT_BLOCK in feeding:
                    projected.add(p)
        ordered = tuple(tuple(sorted(b)) for b in blocks)
        offsets, columns = [], []
        for bs in ordered:
            starts = np.cumsum([0] + [widths[b] for b in bs]).tolist()
            offsets.append(dict(zip(bs, starts[:-1], strict=True)))
            columns.append(int(starts[-1]))
        return cls(shapes[0].num_inputs, shapes[0].num_outputs, tuple(widths), ordered, tuple(offsets),
                   tuple(columns), tuple(sorted(projected)))

    @property
    def rows(self) -> tuple[int, ...]:
        return (*self.widths, _padded(self.num_outputs))

    @property
    def projected_rows(self) -> int:
        return sum(self.rows[p] for p in self.projected)

    @property
    def row_offsets(self) -> tuple[int, ...]:
        rows = self.rows
        order = [*self.projected, *(p for p in range(len(rows)) if p not in self.projected)]
        starts = np.cumsum([0] + [rows[p] for p in order]).tolist()
        offsets = dict(zip(order, starts[:-1], strict=True))
        return tuple(int(offsets[p]) for p in range(len(rows)))

    @property
    def weights_per_member(self) -> int:
        """Weight entries of one member's slot: the input projection and every hidden block matrix."""
        return self.num_inputs * self.projected_rows + sum(c * r for c, r in zip(self.hidden_columns, self.rows,
                                                                                    strict=True))


def padded_weights(members: Sequence[Any]) -> int:
    """The weight entries (all members, padding included) that a :class:`PopulationDAN` of ``members`` allocates.

    ``members`` are models or :class:`MemberShape` s.
    """
    shapes = [m if isinstance(m, MemberShape) else MemberShape.of(m) for m in members]
    return len(shapes) * Layout.of(shapes).weights_per_member


#: Bound of a batch's padded layers: (members x the batch's depth) <= this x (the sum of the members' own depths).
#: Every layer of a batch costs every member a few kernels, so a shallow member batched with a deep one pays for
#: the deep one's layers (measured: 48 one-layer members with 15 seven-layer ones train 36 % slower together than
#: apart); the bound keeps members of similar depth together, as the weight budget does for widths.
MAX_DEPTH_PADDING = 1.5


def plan_batches(members: Sequence[Any], max_members: int, max_padded_weights: int, *,
                 repeats: int = 1) -> list[list[int]]:
    """Group members into batches of similar size, so a mixed population is not padded to its largest member.

    Members are sorted by ``(inputs, outputs, depth, own weights, widths, index)`` and the batches are filled
    greedily in that order: a member joins the current batch while the batch has at most ``max_members``
    members, :func:`padded_weights` stays within ``max_padded_weights`` and the batch's padded layers stay
    within :data:`MAX_DEPTH_PADDING` times its members' own (a member over a bound alone gets a batch of its
    own); members with other inputs or outputs start a new batch. The plan depends only on the members' shapes
    and their order, never on the machine.

    With ``repeats > 1`` every entry of ``members`` stands for ``repeats`` identical members that must share a
    batch (the training repeats of one genome): a batch of ``k`` entries has ``k * repeats`` members and its
    padded weights are those of every entry's shape repeated ``repeats`` times.

    Parameters
    ----------
    members : sequence of models or MemberShape
        The population.
    max_members : int
        Members per batch (at least 1).
    max_padded_weights : int
        Budget of padded weight entries per batch.
    repeats : int
        Members per entry (at least 1).

    Returns
    -------
    list of list of int
        Indices into ``members``; every index occurs exactly once; each batch is in sorted index order.

    Examples
    --------
    >>> shape = lambda width: MemberShape(4, 2, (width,), ((-1,), (0,)), (4, width))
    >>> plan_batches([shape(8), shape(2), shape(8), shape(3)], max_members=2, max_padded_weights=10**6)
    [[1, 3], [0, 2]]
    >>> plan_batches([shape(8), shape(2), shape(8), shape(3)], max_members=6, max_padded_weights=10**6, repeats=3)
    [[1, 3], [0, 2]]
    >>> deep = MemberShape(4, 2, (3,) * 6, ((-1,), *((t,) for t in range(6))), (4,) + (3,) * 6)
    >>> plan_batches([shape(8), deep, shape(2)], max_members=8, max_padded_weights=10**6)  # depths 1, 6, 1
    [[0, 2], [1]]
    """
    for name, value in (("max_members", max_members), ("max_padded_weights", max_padded_weights),
                        ("repeats", repeats)):
        check_int(name, value)
    shapes = [m if isinstance(m, MemberShape) else MemberShape.of(m) for m in members]
    order = sorted(range(len(shapes)), key=lambda i: (shapes[i].num_inputs, shapes[i].num_outputs,
                                                      shapes[i].num_layers, shapes[i].weights, shapes[i].widths, i))
    batches: list[list[int]] = []
    current: list[int] = []
    depths = 0  # the sum of the current batch's own depths
    for i in order:
        candidate = [*current, i]
        same_interface = not current or (shapes[current[0]].num_inputs, shapes[current[0]].num_outputs) == (
            shapes[i].num_inputs, shapes[i].num_outputs)
        deepest = max(shapes[j].num_layers for j in candidate)
        if current and (len(candidate) * repeats > max_members or not same_interface
                        or len(candidate) * deepest > MAX_DEPTH_PADDING * (depths + shapes[i].num_layers)
                        or repeats * padded_weights([shapes[j] for j in candidate]) > max_padded_weights):
            batches.append(sorted(current))
            candidate, depths = [i], 0
        current = candidate
        depths += shapes[i].num_layers
    if current:
        batches.append(sorted(current))
    return batches
