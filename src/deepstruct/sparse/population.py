"""``PopulationDAN``: many :class:`~deepstruct.sparse.MaskedDeepDAN` members as one batched tensor program.

Every member keeps its own weights, masks, biases, layer norm and activations. All parameters of all members
live in one tensor ``flat`` of shape ``(members, slot)`` (a member's slot is its row), cut into views:

- one input projection: the input columns of every matrix side by side, so the model inputs are multiplied
  once per step for all layers (``torch.baddbmm``, the biases folded in), not once per layer;
- per matrix, the columns that read hidden layers (stored transposed, ``(members, columns, rows)``);
- per layer, the layer norm's weight and bias.

The forward pass multiplies ``flat`` by its mask once, so padding (rows beyond a member's width, layers beyond
its depth, columns it does not read) and masked connections get exactly zero gradient, and runs each hidden
layer as one ``baddbmm`` over the member axis; a member computes exactly its own network. One row per member
also makes the optimiser cheap: one fused Adam over one tensor is ``K`` independent Adams. The module reads its
members only through the public data contract of ``MaskedDeepDAN`` (:meth:`~MaskedDeepDAN.matrices`,
:meth:`~MaskedDeepDAN.matrix_inputs`, ``norms``, :meth:`~MaskedDeepDAN.activation_groups`).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from deepstruct.batch_plan import INPUT_BLOCK, Layout, MemberShape, padded_weights, plan_batches

__all__ = ["PopulationDAN", "MemberShape", "padded_weights", "plan_batches"]


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

    Attributes
    ----------
    flat : torch.nn.Parameter
        Every parameter, ``(members, slot)``; :meth:`segments` names its parts.
    mask : torch.Tensor
        0/1 of ``flat``'s shape: 1 where an entry is one of the member's own connections, biases or norm
        parameters (its gradient is ``grad * mask``).
    live : torch.Tensor
        0/1 of ``flat``'s shape: 0 on the parameters of a member's layer that does not reach its logits (in
        its own model they get no gradient at all, so an optimiser leaves them alone, weight decay included)
        and on padding; 1 elsewhere, masked connections included (they decay as in the member's own model).

    Notes
    -----
    Hidden layer ``t`` computes ``act(norm(P_t + H_t W_t))`` for every member, where ``P_t`` is layer ``t``'s
    slice of the input projection (inputs times their weights, plus the bias) and ``H_t`` the concatenation of
    the hidden layers that any member's matrix ``t`` reads; a member's output matrix becomes the population's
    output matrix wherever the member's depth ends. Layer norm is per member over its real units, with each
    member's own ``eps`` and affine parameters.

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
        self.shapes = shapes = [MemberShape.of(m) for m in models]
        self.layout = layout = Layout.of(shapes)
        self.num_members, self.num_layers = len(models), len(layout.widths)
        self.size_input, self.size_output = layout.num_inputs, layout.num_outputs
        self.uses_norm = any(m.norms is not None for m in models)
        dtype = dtype or models[0].matrices()[0].weight.dtype
        sizes = self._segment_sizes(layout)
        self._segments: dict[str, tuple[int, int, tuple[int, ...]]] = {}
        start = 0
        for name, shape in sizes.items():
            self._segments[name] = (start, start + int(np.prod(shape)), shape)
            start += int(np.prod(shape))
        # what every forward pass needs, fixed by the layout
        self._split = [stop - begin for begin, stop, _ in self._segments.values()]
        self._rows, self._offsets, self._projected_rows = layout.rows, layout.row_offsets, layout.projected_rows
        self._projected_split = [layout.rows[p] for p in layout.projected]
        flat = torch.zeros(self.num_members, start, dtype=dtype)
        mask = torch.zeros(self.num_members, start, dtype=dtype)
        live = torch.zeros(self.num_members, start, dtype=dtype)
        # per member and matrix: (input columns, the input units they read, hidden columns, their population columns)
        self._columns: list[list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]] = []
        for i, (model, shape) in enumerate(zip(models, shapes, strict=True)):
            parts = {name: tuple(self._view(t, name)[i] for t in (flat, mask, live)) for name in sizes}
            self._columns.append([self._place_matrix(t, layer, model, shape, parts, dtype)
                                  for t, layer in enumerate(model.matrices())])
            if model.norms is not None:
                self._place_norms(i, model.norms, shape, parts, dtype)
        self.flat = nn.Parameter(flat)
        self.register_buffer("mask", mask)
        self.register_buffer("live", live)
        self._init_norms(models, shapes, dtype)
        self._init_activations(models, shapes, list(layout.widths))

    def _segment_sizes(self, layout: Layout) -> dict[str, tuple[int, ...]]:
        """The shape of every segment of a member's flat parameter vector, in order."""
        rows = layout.rows
        sizes: dict[str, tuple[int, ...]] = {"input": (layout.num_inputs, layout.projected_rows),
                                             "bias": (1, sum(rows))}
        for p, columns in enumerate(layout.hidden_columns):
            if columns:
                sizes[f"hidden_{p}"] = (columns, rows[p])
        if self.uses_norm:
            for t, w in enumerate(layout.widths):
                sizes[f"gamma_{t}"], sizes[f"beta_{t}"] = (1, w), (1, w)
        return sizes

    def _place_matrix(self, t: int, layer: Any, model: Any, shape: MemberShape,
                      parts: dict[str, tuple[torch.Tensor, ...]],
                      dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Copy member matrix ``t`` (weights, mask, liveness, bias) into its rows of the member's ``parts``;
        returns its (input columns, input units, hidden columns, population columns)."""
        layout, offsets = self.layout, self.layout.row_offsets
        bounds = np.cumsum([shape.num_inputs, *shape.widths])
        p = t if t < shape.num_layers else self.num_layers
        on = 1.0 if p == self.num_layers or shape.live_layers[t] else 0.0
        units = np.asarray(model.matrix_inputs(t), dtype=np.int64)
        block = np.searchsorted(bounds, units, side="right") - 1
        reads_input = block == INPUT_BLOCK
        n, r = layer.out_features, slice(offsets[p], offsets[p] + layer.out_features)
        weight, weight_mask = layer.weight.detach().to("cpu", dtype), layer.mask.detach().to("cpu", dtype)
        in_cols = torch.from_numpy(np.flatnonzero(reads_input))
        in_units = torch.from_numpy(units[reads_input])
        sources = (weight, weight_mask, torch.full_like(weight, on))
        if len(in_cols):  # only the projected matrices have input columns
            for target, source in zip(parts["input"], sources, strict=True):
                target[in_units, r] = source[:, in_cols].T
        hidden = np.flatnonzero(~reads_input)
        hidden_cols = torch.from_numpy(np.array(
            [layout.hidden_offsets[p][int(block[c])] + int(units[c] - bounds[block[c]]) for c in hidden],
            dtype=np.int64))
        if len(hidden):
            for target, source in zip(parts[f"hidden_{p}"], sources, strict=True):
                target[hidden_cols, :n] = source[:, torch.from_numpy(hidden)].T
        if layer.bias is not None:
            bias, bias_mask, bias_live = parts["bias"]
            bias[0, r], bias_mask[0, r], bias_live[0, r] = layer.bias.detach().to("cpu", dtype), 1.0, on
        return in_cols, in_units, torch.from_numpy(hidden), hidden_cols

    @staticmethod
    def _place_norms(i: int, norms: Sequence[nn.Module], shape: MemberShape,
                     parts: dict[str, tuple[torch.Tensor, ...]], dtype: torch.dtype) -> None:
        """Copy member ``i``'s layer norms (affine weight and bias) into its ``gamma_t`` / ``beta_t`` parts."""
        for t, norm in enumerate(norms):
            if not isinstance(norm, nn.LayerNorm) or norm.weight is None or norm.bias is None:
                raise ValueError(f"member {i}: norms[{t}] must be an nn.LayerNorm with affine weight and "
                                 f"bias, got {norm!r}")
            w, on = shape.widths[t], 1.0 if shape.live_layers[t] else 0.0
            for name, value in ((f"gamma_{t}", norm.weight), (f"beta_{t}", norm.bias)):
                target, target_mask, target_live = parts[name]
                target[0, :w], target_mask[0, :w], target_live[0, :w] = value.detach().to("cpu", dtype), 1, on

    def _view(self, tensor: torch.Tensor, name: str) -> torch.Tensor:
        start, stop, shape = self._segments[name]
        return tensor[:, start:stop].view(tensor.shape[0], *shape)

    def segments(self) -> dict[str, tuple[int, int, tuple[int, ...]]]:
        """Each part of a member's slot: ``name -> (start, stop, shape)``; ``"input"`` is the input projection
        ``(inputs, sum of rows)``, ``"bias"`` ``(1, sum of rows)``, ``"hidden_p"`` matrix ``p``'s hidden columns
        ``(columns, rows)`` and ``"gamma_t"`` / ``"beta_t"`` layer ``t``'s norm, ``(1, width)``."""
        return dict(self._segments)

    def view(self, tensor: torch.Tensor, name: str) -> torch.Tensor:
        """Segment ``name`` of a tensor shaped like ``flat`` (``flat`` itself, its gradient, ``mask``, ...)."""
        return self._view(tensor, name)

    @classmethod
    def from_models(cls, models: Sequence[Any], device: torch.device | str | None = None,
                    dtype: torch.dtype | None = None) -> PopulationDAN:
        """Stack ``models`` into a population on ``device`` (default: the CPU; ``"meta"`` allocates nothing)."""
        population = cls(models, dtype=dtype)
        return population if device is None else population.to(torch.device(device))

    def _init_norms(self, models: Sequence[Any], shapes: Sequence[MemberShape], dtype: torch.dtype) -> None:
        if not self.uses_norm:
            return
        widths = self.layout.widths
        uses = [m.norms is not None for m in models]
        for i, m in enumerate(models):
            if m.norms is not None and len({float(n.eps) for n in m.norms}) > 1:
                raise ValueError(f"member {i}: its layer norms have different eps; a population keeps one per member")
        eps = torch.tensor([float(m.norms[0].eps) if m.norms else 1.0 for m in models], dtype=torch.float64)
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

    def padded_weights(self) -> int:
        """Weight entries allocated for all members (padding included): :func:`padded_weights` of the members."""
        return self.num_members * self.layout.weights_per_member

    def _norm(self, t: int, z: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
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
        # one split for all segments and one for the projection: their backward is one concatenation each
        # (slicing segment by segment would give every slice a full-size gradient to sum)
        parts = (self.flat * self.mask).split(self._split, dim=1)
        effective = {n: part.view(self.num_members, *shape) for (n, (_, _, shape)), part in zip(
            self._segments.items(), parts, strict=True)}
        layout = self.layout
        inputs = x if x.dim() == 3 else x.expand(self.num_members, -1, -1)
        bias = effective["bias"]
        pieces: dict[int, torch.Tensor] = {}
        if self._projected_rows:  # one product for every matrix that reads model inputs, its biases folded in
            projection = torch.baddbmm(bias[..., : self._projected_rows], inputs, effective["input"])
            pieces = dict(zip(layout.projected, projection.split(self._projected_split, dim=2), strict=True))
        offsets, batch = self._offsets, inputs.shape[1]
        hidden: list[torch.Tensor] = []
        for p, rows in enumerate(self._rows):
            z = pieces.get(p)
            if z is None:  # no member feeds this matrix from the inputs: start from its biases (broadcast)
                z = bias[..., offsets[p]: offsets[p] + rows]
            if layout.hidden_columns[p]:
                reads = [hidden[b] for b in layout.hidden_blocks[p]]
                z = torch.baddbmm(z, reads[0] if len(reads) == 1 else torch.cat(reads, dim=2),
                                  effective[f"hidden_{p}"])
            elif p not in pieces:
                z = z.expand(self.num_members, batch, rows)
            if p == self.num_layers:
                return z[..., : self.size_output]  # the output rows past the logits are padding
            if self.uses_norm:
                z = self._norm(p, z, effective[f"gamma_{p}"], effective[f"beta_{p}"])
            hidden.append(self._activate(p, z))
        raise AssertionError("unreachable: the output matrix is the last")

    def write_back(self, models: Sequence[Any]) -> None:
        """Copy every member's (trained) weights, biases and layer-norm parameters into its model, in place.

        ``models`` must be the members this population was built from (or models of the same shapes), in
        order; each model keeps its own device and dtype. Masks are not copied (training does not change them).
        """
        models = list(models)
        if len(models) != self.num_members:
            raise ValueError(f"write_back needs {self.num_members} models, got {len(models)}")
        offsets = self.layout.row_offsets
        with torch.no_grad():
            flat = self.flat.detach().cpu()
            for i, model in enumerate(models):
                if MemberShape.of(model) != self.shapes[i]:
                    raise ValueError(f"model {i} does not have the shape of member {i} of the population")
                depth = self.shapes[i].num_layers
                projection, bias = self._view(flat, "input")[i], self._view(flat, "bias")[i, 0]
                for t, layer in enumerate(model.matrices()):
                    p, n = (t if t < depth else self.num_layers), layer.out_features
                    in_cols, in_units, hidden, hidden_cols = self._columns[i][t]
                    weight = torch.empty(layer.weight.shape, dtype=flat.dtype)
                    if len(in_cols):
                        weight[:, in_cols] = projection[in_units, offsets[p]: offsets[p] + n].T
                    if len(hidden):
                        weight[:, hidden] = self._view(flat, f"hidden_{p}")[i][hidden_cols, :n].T
                    layer.weight.copy_(weight)
                    if layer.bias is not None:
                        layer.bias.copy_(bias[offsets[p]: offsets[p] + n])
                if model.norms is not None:
                    for t, norm in enumerate(model.norms):
                        w = self.shapes[i].widths[t]
                        norm.weight.copy_(self._view(flat, f"gamma_{t}")[i, 0, :w])
                        norm.bias.copy_(self._view(flat, f"beta_{t}")[i, 0, :w])
