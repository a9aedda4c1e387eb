"""``PopulationDAN``: many :class:`~deepstruct.sparse.MaskedDeepDAN` members as one batched tensor program.

Every member keeps its own weights, masks, biases, layer norm and activations; the members' matrices of hidden
layer ``t`` are stacked over a leading member axis into padded tensors, so one ``torch.baddbmm`` per layer runs
the layer of all ``K`` members. Padding (rows beyond a member's width, layers beyond its depth, columns it does not
read) has a zero mask, zero weight and zero bias, so it gets no gradient and a member computes exactly its own
network. The module reads its members only through the public data contract of ``MaskedDeepDAN``
(:meth:`~MaskedDeepDAN.matrices`, :meth:`~MaskedDeepDAN.matrix_inputs`, ``norms``,
:meth:`~MaskedDeepDAN.activation_groups`).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["PopulationDAN", "MemberShape", "padded_weights", "plan_batches"]

_INPUT = -1  # the block id of the model inputs; hidden layer j is block j


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
        need = {b for b in self.feeding[-1] if b != _INPUT}
        live = [False] * self.num_layers
        for t in reversed(range(self.num_layers)):
            if t in need:
                live[t] = True
                need.update(b for b in self.feeding[t] if b != _INPUT)
        return tuple(live)

    @property
    def weights(self) -> int:
        """Entries of the member's own masked matrices."""
        return sum(r * c for r, c in zip((*self.widths, self.num_outputs), self.columns, strict=True))


def _layout(shapes: Sequence[MemberShape]) -> tuple[list[int], list[list[int]], list[dict[int, int]], list[int]]:
    """Population widths, the blocks each population matrix reads, their column offsets and the column counts."""
    if not shapes:
        raise ValueError("a population needs at least one member")
    interface = {(s.num_inputs, s.num_outputs) for s in shapes}
    if len(interface) > 1:
        raise ValueError(f"members of one population must share inputs and outputs; got (inputs, outputs) "
                         f"{sorted(interface)}")
    depth = max(s.num_layers for s in shapes)
    widths = [max(s.widths[t] if t < s.num_layers else 0 for s in shapes) for t in range(depth)]
    block_width = dict(enumerate(widths)) | {_INPUT: shapes[0].num_inputs}
    blocks: list[set[int]] = [set() for _ in range(depth + 1)]
    for s in shapes:
        for t, feeding in enumerate(s.feeding):
            blocks[t if t < s.num_layers else depth].update(feeding)
    ordered = [sorted(b) for b in blocks]
    offsets, columns = [], []
    for bs in ordered:
        starts = np.cumsum([0] + [block_width[b] for b in bs]).tolist()
        offsets.append(dict(zip(bs, starts[:-1], strict=True)))
        columns.append(int(starts[-1]))
    return widths, ordered, offsets, columns


def padded_weights(members: Sequence[Any]) -> int:
    """The weight entries (all members, padding included) that a :class:`PopulationDAN` of ``members`` allocates.

    ``members`` are models or :class:`MemberShape` s.
    """
    shapes = [m if isinstance(m, MemberShape) else MemberShape.of(m) for m in members]
    widths, _, _, columns = _layout(shapes)
    rows = [*widths, shapes[0].num_outputs]
    return len(shapes) * sum(r * c for r, c in zip(rows, columns, strict=True))


def plan_batches(members: Sequence[Any], max_members: int, max_padded_weights: int) -> list[list[int]]:
    """Group members into batches of similar size, so a mixed population is not padded to its largest member.

    Members are sorted by ``(inputs, outputs, depth, own weights, widths, index)`` and the batches are filled
    greedily in that order: a member joins the current batch while it has fewer than ``max_members`` members
    and :func:`padded_weights` stays within ``max_padded_weights`` (a member over the budget alone gets a batch
    of its own). The plan depends only on the members' shapes and their order, never on the machine.

    Parameters
    ----------
    members : sequence of models or MemberShape
        The population.
    max_members : int
        Members per batch (at least 1).
    max_padded_weights : int
        Budget of padded weight entries per batch.

    Returns
    -------
    list of list of int
        Indices into ``members``; every index occurs exactly once; each batch is in sorted index order.

    Examples
    --------
    >>> shape = lambda width: MemberShape(4, 2, (width,), ((-1,), (0,)), (4, width))
    >>> plan_batches([shape(8), shape(2), shape(8), shape(3)], max_members=2, max_padded_weights=10**6)
    [[1, 3], [0, 2]]
    """
    if isinstance(max_members, bool) or not isinstance(max_members, int) or max_members < 1:
        raise ValueError(f"max_members must be a positive int, got {max_members!r}")
    if isinstance(max_padded_weights, bool) or not isinstance(max_padded_weights, int) or max_padded_weights < 1:
        raise ValueError(f"max_padded_weights must be a positive int, got {max_padded_weights!r}")
    shapes = [m if isinstance(m, MemberShape) else MemberShape.of(m) for m in members]
    order = sorted(range(len(shapes)), key=lambda i: (shapes[i].num_inputs, shapes[i].num_outputs,
                                                      shapes[i].num_layers, shapes[i].weights, shapes[i].widths, i))
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        candidate = [*current, i]
        same_interface = not current or (shapes[current[0]].num_inputs, shapes[current[0]].num_outputs) == (
            shapes[i].num_inputs, shapes[i].num_outputs)
        if current and (len(candidate) > max_members or not same_interface
                        or padded_weights([shapes[j] for j in candidate]) > max_padded_weights):
            batches.append(sorted(current))
            candidate = [i]
        current = candidate
    if current:
        batches.append(sorted(current))
    return batches


def _activation_key(module: nn.Module) -> str:
    if any(True for _ in module.parameters()) or any(True for _ in module.buffers()):
        raise ValueError(f"activation {module!r} has parameters or buffers; a population supports only "
                         "stateless activations")
    return repr(module)


class PopulationDAN(nn.Module):
    """``K`` masked deep DANs run as one tensor program (forward and backward of all members at once).

    Parameters
    ----------
    models : sequence of MaskedDeepDAN
        The members; they must share their input and output sizes and may differ in everything else (depth,
        widths, connections, activations per unit, layer norm). Their weights are copied; the models are left
        as they are until :meth:`write_back`.
    dtype : torch.dtype, optional
        Dtype of the stacked tensors (default: that of the first member's weights).

    Notes
    -----
    Hidden layer ``t`` of the population reads the concatenation of the blocks (inputs, hidden layers) that
    any member's matrix ``t`` reads, and computes ``act(norm(W_t x + b_t))`` for every member with one
    ``baddbmm``; a member's output matrix becomes the population's output matrix wherever the member's depth
    ends. Layer norm is per member over its real units, with each member's own ``eps`` and affine parameters.

    Examples
    --------
    >>> from deepstruct.graph import CachedLayeredGraph
    >>> from deepstruct.sparse import MaskedDeepDAN
    >>> shallow = MaskedDeepDAN(4, 3, CachedLayeredGraph([("a", "b")]))
    >>> deep = MaskedDeepDAN(4, 3, CachedLayeredGraph([(1, 2), (2, 3), (1, 3), (4, 3)]), use_layer_norm=True)
    >>> population = PopulationDAN.from_models([shallow, deep])
    >>> x = torch.randn(5, 4)
    >>> logits = population(x)
    >>> logits.shape
    torch.Size([2, 5, 3])
    >>> torch.allclose(logits[0], shallow(x), atol=1e-6) and torch.allclose(logits[1], deep(x), atol=1e-6)
    True
    """

    def __init__(self, models: Sequence[Any], *, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        models = list(models)
        shapes = [MemberShape.of(m) for m in models]
        self.shapes = shapes
        widths, self.blocks, offsets, columns = _layout(shapes)
        self.num_members, self.num_layers = len(models), len(widths)
        self.size_input, self.size_output = shapes[0].num_inputs, shapes[0].num_outputs
        dtype = dtype or models[0].matrices()[0].weight.dtype
        k, rows = self.num_members, [*widths, self.size_output]
        weights = [torch.zeros(k, r, c, dtype=dtype) for r, c in zip(rows, columns, strict=True)]
        masks = [torch.zeros(k, r, c, dtype=dtype) for r, c in zip(rows, columns, strict=True)]
        biases = [torch.zeros(k, r, dtype=dtype) for r in rows]
        has_bias = torch.ones(k, dtype=torch.bool)
        self._columns: list[list[torch.Tensor]] = []  # member -> matrix -> population column of each column
        for i, (model, shape) in enumerate(zip(models, shapes, strict=True)):
            bounds = np.cumsum([shape.num_inputs, *shape.widths])
            member_columns = []
            for t, layer in enumerate(model.matrices()):
                p = t if t < shape.num_layers else self.num_layers
                units = np.asarray(model.matrix_inputs(t), dtype=np.int64)
                block = np.searchsorted(bounds, units, side="right") - 1
                start = np.where(block == _INPUT, 0, bounds[np.maximum(block, 0)])
                col = torch.from_numpy(np.array([offsets[p][b] for b in block.tolist()], dtype=np.int64)
                                       + units - start)
                member_columns.append(col)
                n = layer.out_features
                weights[p][i][:n, col] = layer.weight.detach().to("cpu", dtype)  # (a view of member i)
                masks[p][i][:n, col] = layer.mask.detach().to("cpu", dtype)
                if layer.bias is not None:
                    biases[p][i, :n] = layer.bias.detach().to("cpu", dtype)
                else:
                    has_bias[i] = False
            self._columns.append(member_columns)
        self.weights = nn.ParameterList(nn.Parameter(w) for w in weights)
        self.biases = nn.ParameterList(nn.Parameter(b) for b in biases)
        for t, m in enumerate(masks):
            self.register_buffer(f"mask_{t}", m)
        self._bias_masked = not bool(has_bias.all())
        if self._bias_masked:  # members without a bias keep it at zero (and without gradient)
            for t, r in enumerate(rows):
                self.register_buffer(f"bias_mask_{t}", has_bias.to(dtype)[:, None].expand(k, r).clone())
        for t in range(self.num_layers):
            live = torch.tensor([t < s.num_layers and s.live_layers[t] for s in shapes])
            if not bool(live.all()):
                self.register_buffer(f"live_{t}", live.to(dtype))
        self._init_norms(models, shapes, widths, dtype)
        self._init_activations(models, shapes, widths)

    @classmethod
    def from_models(cls, models: Sequence[Any], device: torch.device | str | None = None,
                    dtype: torch.dtype | None = None) -> PopulationDAN:
        """Stack ``models`` into a population on ``device`` (default: the CPU; ``"meta"`` allocates nothing)."""
        population = cls(models, dtype=dtype)
        return population if device is None else population.to(torch.device(device))

    def _init_norms(self, models: Sequence[Any], shapes: Sequence[MemberShape], widths: list[int],
                    dtype: torch.dtype) -> None:
        k = self.num_members
        uses = [m.norms is not None for m in models]
        self.uses_norm = any(uses)
        if not self.uses_norm:
            return
        gammas = [torch.zeros(k, w, dtype=dtype) for w in widths]
        betas = [torch.zeros(k, w, dtype=dtype) for w in widths]
        eps = torch.ones(k, dtype=torch.float64)
        for i, model in enumerate(models):
            if model.norms is None:
                continue
            for t, norm in enumerate(model.norms):
                if not isinstance(norm, nn.LayerNorm) or norm.weight is None or norm.bias is None:
                    raise ValueError(f"member {i}: norms[{t}] must be an nn.LayerNorm with affine weight and bias, "
                                     f"got {norm!r}")
                gammas[t][i, : shapes[i].widths[t]] = norm.weight.detach().to("cpu", dtype)
                betas[t][i, : shapes[i].widths[t]] = norm.bias.detach().to("cpu", dtype)
                eps[i] = norm.eps
        self.norm_weights = nn.ParameterList(nn.Parameter(g) for g in gammas)
        self.norm_biases = nn.ParameterList(nn.Parameter(b) for b in betas)
        self._all_norm = all(uses)
        self.register_buffer("norm_on", torch.tensor(uses)[:, None, None])
        self.register_buffer("norm_eps", eps.to(dtype)[:, None, None])
        used_eps = {float(e) for e, on in zip(eps.tolist(), uses, strict=True) if on}
        self._uniform_eps = used_eps.pop() if len(used_eps) == 1 else None
        self._full = []  # layer t: every member normalises and has all of the layer's units (F.layer_norm applies)
        for t, w in enumerate(widths):
            real = torch.tensor([t < s.num_layers and s.widths[t] == w for s in shapes])
            self._full.append(bool(real.all()) and self._all_norm)
            units = torch.tensor([s.widths[t] if t < s.num_layers else 0 for s in shapes])
            self.register_buffer(f"norm_rows_{t}", (torch.arange(w)[None, :] < units[:, None]).to(dtype)[:, None])
            self.register_buffer(f"norm_count_{t}", units.clamp_min(1).to(dtype)[:, None, None])

    def _init_activations(self, models: Sequence[Any], shapes: Sequence[MemberShape], widths: list[int]) -> None:
        modules: dict[str, nn.Module] = {}
        per_layer: list[dict[str, torch.Tensor]] = []
        for t, w in enumerate(widths):
            selected: dict[str, torch.Tensor] = {}
            for i, model in enumerate(models):
                if t >= shapes[i].num_layers:
                    continue
                for module, rows in model.activation_groups(t):
                    key = _activation_key(module)
                    modules.setdefault(key, copy.deepcopy(module))
                    selected.setdefault(key, torch.zeros(self.num_members, w, dtype=torch.bool))[i, rows] = True
            per_layer.append(selected)
        names = sorted(modules)
        self.activations = nn.ModuleList(modules[n] for n in names)
        self._layer_activations: list[list[tuple[int, str | None]]] = []
        for t, selected in enumerate(per_layer):
            keys = sorted(selected)
            groups: list[tuple[int, str | None]] = [(names.index(keys[0]), None)]  # the first covers the rest
            for key in keys[1:]:
                buffer = f"act_rows_{t}_{len(groups)}"
                self.register_buffer(buffer, selected[key][:, None, :])
                groups.append((names.index(key), buffer))
            self._layer_activations.append(groups)

    def live_parameters(self) -> list[tuple[nn.Parameter, torch.Tensor | None]]:
        """Every parameter with the members that train it: ``None`` (all of them) or a 0/1 tensor that broadcasts
        over the parameter (0 for a member whose layer does not reach its logits: in the member's own model
        that layer's parameters get no gradient at all, so an optimiser leaves them alone, weight decay included).
        """
        out: list[tuple[nn.Parameter, torch.Tensor | None]] = []
        groups = [self.weights, self.biases] + ([self.norm_weights, self.norm_biases] if self.uses_norm else [])
        for group in groups:
            for t, p in enumerate(group):
                live = None if t == self.num_layers else getattr(self, f"live_{t}", None)
                out.append((p, None if live is None else live.view(-1, *([1] * (p.dim() - 1)))))
        return out

    def masks(self) -> list[torch.Tensor]:
        """The stacked masks (0/1 in the weights' dtype), matrix by matrix; the last is the output matrix."""
        return [getattr(self, f"mask_{t}") for t in range(self.num_layers + 1)]

    def effective_weights(self) -> list[torch.Tensor]:
        """``weight * mask`` of every stacked matrix, shape ``(members, rows, columns)``."""
        return [w * m for w, m in zip(self.weights, self.masks(), strict=True)]

    def _linear(self, t: int, hidden: dict[int, torch.Tensor]) -> torch.Tensor:
        x = hidden[_INPUT]
        parts = [hidden[b] if b != _INPUT or x.dim() == 3 else x.expand(self.num_members, -1, -1)
                 for b in self.blocks[t]]
        inp = parts[0] if len(parts) == 1 else torch.cat(parts, dim=2)
        bias = self.biases[t] * getattr(self, f"bias_mask_{t}") if self._bias_masked else self.biases[t]
        weight = self.weights[t] * getattr(self, f"mask_{t}")
        return torch.baddbmm(bias.unsqueeze(1), inp, weight.transpose(1, 2))

    def _norm(self, t: int, z: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.norm_weights[t].unsqueeze(1), self.norm_biases[t].unsqueeze(1)
        if self._full[t] and self._uniform_eps is not None:
            return torch.addcmul(beta, F.layer_norm(z, z.shape[-1:], eps=self._uniform_eps), gamma)
        rows, count = getattr(self, f"norm_rows_{t}"), getattr(self, f"norm_count_{t}")
        mean = (z * rows).sum(dim=2, keepdim=True) / count
        centred = (z - mean) * rows
        var = (centred * centred).sum(dim=2, keepdim=True) / count
        normed = torch.addcmul(beta, centred * torch.rsqrt(var + self.norm_eps), gamma)
        return normed if self._all_norm else torch.where(self.norm_on, normed, z)

    def _activate(self, t: int, z: torch.Tensor) -> torch.Tensor:
        groups = self._layer_activations[t]
        out = self.activations[groups[0][0]](z)
        for index, buffer in groups[1:]:
            out = torch.where(getattr(self, buffer), self.activations[index](z), out)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of every member: ``x`` is ``(members, batch, inputs)`` or a shared ``(batch, inputs)``.

        Returns a tensor of shape ``(members, batch, outputs)``.
        """
        if x.dim() == 2:
            ok = x.shape[1] == self.size_input
        else:
            ok = x.dim() == 3 and x.shape[0] == self.num_members and x.shape[2] == self.size_input
        if not ok:
            raise ValueError(f"expected x of shape (batch, {self.size_input}) or ({self.num_members}, batch, "
                             f"{self.size_input}), got {tuple(x.shape)}")
        hidden = {_INPUT: x}
        for t in range(self.num_layers):
            z = self._linear(t, hidden)
            if self.uses_norm:
                z = self._norm(t, z)
            hidden[t] = self._activate(t, z)
        return self._linear(self.num_layers, hidden)

    def write_back(self, models: Sequence[Any]) -> None:
        """Copy every member's (trained) weights, biases and layer-norm parameters into its model, in place.

        ``models`` must be the members this population was built from (or models of the same shapes), in
        order; each model keeps its own device and dtype. Masks are not copied (training does not change them).
        """
        models = list(models)
        if len(models) != self.num_members:
            raise ValueError(f"write_back needs {self.num_members} models, got {len(models)}")
        for i, model in enumerate(models):
            if MemberShape.of(model) != self.shapes[i]:
                raise ValueError(f"model {i} does not have the shape of member {i} of the population")
            depth = self.shapes[i].num_layers
            with torch.no_grad():
                for t, layer in enumerate(model.matrices()):
                    p, n = (t if t < depth else self.num_layers), layer.out_features
                    cols = self._columns[i][t].to(self.weights[p].device)
                    layer.weight.copy_(self.weights[p][i, :n].index_select(1, cols))
                    if layer.bias is not None:
                        layer.bias.copy_(self.biases[p][i, :n])
                if model.norms is not None:
                    for t, norm in enumerate(model.norms):
                        norm.weight.copy_(self.norm_weights[t][i, : self.shapes[i].widths[t]])
                        norm.bias.copy_(self.norm_biases[t][i, : self.shapes[i].widths[t]])
