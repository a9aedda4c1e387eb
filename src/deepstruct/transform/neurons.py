"""Neuron-level graphs of recorded forward passes (see :mod:`deepstruct.transform.trace`).

Every element of a tensor of one sample belongs to a vertex. Weighted layers (``Linear``, masked layers,
``Conv1d``/``Conv2d``) and mixing operations (pooling, reductions, softmax, element-wise operations of two
activations such as a residual ``add``) create new vertices with exact edges; element-wise operations of
one activation (activations, normalisation, dropout, casts, scalar arithmetic) keep the vertices; shape
operations (view, flatten, permute, cat, indexing, padding) are replayed on the vertex ids themselves.
Comparisons, ``argmax`` and ``*_like`` constructors carry no data flow (their results belong to no vertex).
Anything else is *unsupported*: its outputs become new vertices connected from all of its inputs (a
conservative superset) and its name is reported.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils._pytree import tree_flatten, tree_map

from deepstruct.sparse import MaskedLinearLayer
from deepstruct.transform import connectivity as conn
from deepstruct.transform.compact import CompactGraph, VertexBlock
from deepstruct.transform.masked import weight_pattern
from deepstruct.transform.recurrent import RecurrentOps, is_recurrent
from deepstruct.transform.sequence import NORM_MODULES, SequenceOps, extra_vertices
from deepstruct.transform.storage import EdgeSink, index_dtype
from deepstruct.transform.trace import Call, Recording

__all__ = ["neuron_graph", "canonical_name"]

SHAPE_OPS = {
    "view", "reshape", "flatten", "unflatten", "permute", "transpose", "t", "squeeze", "unsqueeze", "getitem", "get",
    "cat", "stack", "hstack", "vstack", "chunk", "split", "tensor_split", "narrow", "expand", "expand_as", "repeat",
    "flip", "roll", "movedim", "swapaxes", "swapdims", "unbind", "select", "view_as", "reshape_as", "index_select",
    "split_with_sizes", "contiguous", "clone", "detach", "getattr",
}
PASS_OPS = {
    "to", "float", "double", "half", "bfloat16", "type", "type_as", "cpu", "cuda", "relu", "relu6", "leaky_relu",
    "elu", "selu", "celu", "gelu", "silu", "sigmoid", "tanh", "hardtanh", "hardswish", "hardsigmoid", "mish",
    "softplus", "softsign", "logsigmoid", "dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
    "feature_alpha_dropout", "batch_norm", "stochastic_depth", "abs", "neg", "exp", "log",
    "sqrt", "rsqrt", "square", "clamp", "clip", "sin", "cos", "erf", "sign", "reciprocal", "identity", "prelu",
    "hardshrink", "softshrink", "tanhshrink", "threshold", "rrelu", "logit", "expm1", "log1p",
}
BINARY_OPS = {"add", "sub", "mul", "div", "truediv", "floordiv", "true_divide", "maximum", "minimum", "pow",
              "rsub", "atan2", "fmod", "remainder", "mod"}
REDUCE_OPS = {"mean", "sum", "amax", "amin", "prod", "logsumexp", "std", "var"}
ALONG_OPS = {"softmax", "log_softmax", "softmin"}
PASS_MODULES: tuple[type, ...] = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Sigmoid, nn.Tanh, nn.Hardtanh,
    nn.Hardswish, nn.Hardsigmoid, nn.Mish, nn.Softplus, nn.Softsign, nn.LogSigmoid, nn.PReLU, nn.Identity,
    nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout,
    nn.modules.batchnorm._BatchNorm, nn.Hardshrink, nn.Softshrink, nn.Tanhshrink, nn.Threshold, nn.RReLU,
)
POOL_MODULES = (nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d)
ADAPTIVE_MODULES = (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d)
CONSTANT_OPS = {"gt", "lt", "ge", "le", "eq", "ne", "argmax", "argmin", "argsort", "isnan", "isinf", "isfinite",
                "any", "all", "zeros_like", "ones_like", "empty_like", "full_like", "rand_like", "randn_like",
                "size", "dim", "numel", "item", "tolist", "new_zeros", "new_ones", "new_empty", "new_full"}
MAX_UNSUPPORTED_EDGES = 20_000_000


def canonical_name(func: Callable[..., Any]) -> str:
    """``add`` for ``torch.add``, ``Tensor.add_``, ``operator.iadd``, ``Tensor.__radd__`` ...; ``relu`` for F.relu."""
    name = getattr(func, "__name__", type(func).__name__).strip("_")
    if name.startswith("max_pool") or name.startswith("avg_pool") or name.startswith("adaptive"):
        return name.replace("_with_indices", "")
    if name in ("concat", "concatenate"):
        return "cat"
    if name not in BINARY_OPS and name[:1] in ("i", "r") and name[1:] in BINARY_OPS:
        return name[1:]
    return name


def _arg(call: Call, pos: int, key: str, default: Any) -> Any:
    if len(call.args) > pos:
        return call.args[pos]
    return call.kwargs.get(key, default)


def _tuple(value: Any, n: int) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, (tuple, list)) else (int(value),) * n


def vertex_bound(rec: Recording) -> int:
    """An upper bound of the number of vertices an extraction of ``rec`` creates (to pick the index dtype):
    every recorded output's elements, four times over for the operations that create inner vertices."""
    total = rec.input.numel()
    for call in rec.calls:
        total += 4 * sum(t.numel() for t in tree_flatten(call.out)[0] if isinstance(t, torch.Tensor))
        total += extra_vertices(call)
    return total + 2 * rec.input.numel() + 16


class _Builder(SequenceOps, RecurrentOps):
    def __init__(self, rec: Recording, include_weights: bool, threshold: float | None,
                 memory_budget: int | None = None, directory: str | os.PathLike[str] | None = None) -> None:
        self.include_weights = include_weights
        self.threshold = threshold
        self.blocks: list[VertexBlock] = []
        self.dtype = index_dtype(vertex_bound(rec))
        self.sink = EdgeSink(self.dtype, weighted=include_weights, memory_budget=memory_budget, directory=directory)
        self.limit = np.iinfo(self.dtype).max
        self.ids: dict[int, torch.Tensor] = {}
        self.unsupported: list[str] = []
        self.names: set[str] = set()
        self.ids[id(rec.input)] = self.new_block("input", "input", rec.input.shape)

    @property
    def n(self) -> int:
        return self.blocks[-1].start + self.blocks[-1].count if self.blocks else 0

    def new_block(self, name: str, kind: str, shape: torch.Size) -> torch.Tensor:
        base, k = name, 1
        while name in self.names:
            name, k = f"{base}#{k}", k + 1
        self.names.add(name)
        count = int(np.prod(shape)) if len(shape) else 1
        if self.n + count > self.limit:
            raise ValueError(f"more than {self.limit} vertices: beyond the {self.dtype} vertex index")
        self.blocks.append(VertexBlock(name, kind, len(self.blocks), self.n, count, tuple(shape[1:])))
        return torch.arange(self.blocks[-1].start, self.blocks[-1].start + count).reshape(shape)

    def edges(self, edges: conn.Edges, weight: torch.Tensor | None = None) -> None:
        src, tgt, index = edges
        w = None
        if self.include_weights and weight is not None and index is not None:
            w = weight.detach().cpu().numpy().ravel()[index].astype(np.float32)
        self.sink.add(src, tgt, w)

    def pattern(self, weight: torch.Tensor, module: nn.Module | None) -> np.ndarray:
        mask = module.mask if isinstance(module, MaskedLinearLayer) else None
        return weight_pattern(weight, mask, self.threshold)

    def tracked(self, call: Call) -> list[torch.Tensor]:
        leaves = tree_flatten((call.args, call.kwargs))[0]
        return [t for t in leaves if isinstance(t, torch.Tensor) and id(t) in self.ids]

    # --- kinds of operations -------------------------------------------------------------------------
    def run(self, call: Call) -> None:
        inputs = self.tracked(call)
        outs = [t for t in tree_flatten(call.out)[0] if isinstance(t, torch.Tensor)]
        if not inputs or not outs or call.module is None and canonical_name(call.func) in CONSTANT_OPS:  # type: ignore[arg-type]
            return
        kind = self.kind(call, inputs)
        getattr(self, f"op_{kind}")(call, inputs, outs)

    def kind(self, call: Call, inputs: list[torch.Tensor]) -> str:
        m = call.module
        if m is not None:
            for types, kind in (((MaskedLinearLayer, nn.Linear), "linear"), ((nn.Conv1d, nn.Conv2d), "conv"),
                                (POOL_MODULES, "pool"), (ADAPTIVE_MODULES, "adaptive"),
                                ((nn.Flatten, nn.Unflatten), "shape"),
                                ((nn.Softmax, nn.LogSoftmax, nn.Softmin), "along"),
                                (nn.Embedding, "embedding"), (NORM_MODULES, "norm"),
                                (nn.MultiheadAttention, "attention"), (PASS_MODULES, "pass")):
                if isinstance(m, types):
                    return kind
            return "recurrent" if is_recurrent(m) else "unsupported"
        name = canonical_name(call.func)  # type: ignore[arg-type]
        if name in SHAPE_OPS or name == "pad":
            return "pad" if name == "pad" else "shape"
        if name in BINARY_OPS:
            return "binary" if len({id(t) for t in inputs}) > 1 else "pass"
        table = {"linear": "linear", "conv1d": "conv", "conv2d": "conv", "max_pool1d": "pool", "max_pool2d": "pool",
                 "avg_pool1d": "pool", "avg_pool2d": "pool", "adaptive_avg_pool1d": "adaptive",
                 "adaptive_avg_pool2d": "adaptive", "adaptive_max_pool1d": "adaptive",
                 "adaptive_max_pool2d": "adaptive", "matmul": "matmul", "mm": "matmul", "bmm": "matmul",
                 "embedding": "embedding", "layer_norm": "norm", "group_norm": "norm", "instance_norm": "norm",
                 "rms_norm": "norm", "scaled_dot_product_attention": "sdpa"}
        if name in table:
            return table[name]
        if name in PASS_OPS:
            return "pass"
        return "reduce" if name in REDUCE_OPS else "along" if name in ALONG_OPS else "unsupported"

    def op_shape(self, call: Call, inputs: list[torch.Tensor], outs: list[torch.Tensor]) -> None:
        def swap(t: Any) -> Any:
            if not isinstance(t, torch.Tensor):
                return t
            if id(t) in self.ids:
                return self.ids[id(t)]
            return torch.full(t.shape, -1, dtype=torch.long) if t.is_floating_point() else t
        args, kwargs = tree_map(swap, call.args), tree_map(swap, call.kwargs)
        replay = call.module(*args, **kwargs) if call.module is not None else call.func(*args, **kwargs)  # type: ignore[misc]
        replayed = [t for t in tree_flatten(replay)[0] if isinstance(t, torch.Tensor)]
        for out, ids in zip(outs, replayed, strict=True):
            self.ids[id(out)] = ids

    def op_pad(self, call: Call, inputs: list[torch.Tensor], outs: list[torch.Tensor]) -> None:
        x = self.ids[id(inputs[0])].numpy()
        pads, mode = _arg(call, 1, "pad", ()), _arg(call, 2, "mode", "constant")
        self.ids[id(outs[0])] = torch.from_numpy(np.ascontiguousarray(conn.pad_ids(x, pads, mode)))

    def op_pass(self, call: Call, inputs: list[torch.Tensor], outs: list[torch.Tensor]) -> None:
        ids = self.ids[id(inputs[0])]
        for out in outs:
            self.ids[id(out)] = ids if ids.shape == out.shape else torch.broadcast_to(ids, out.shape)

    def op_binary(self, call: Call, inputs: list[torch.Tensor], outs: list[torch.Tensor]) -> None:
        out = outs[0]
        y = self.new_block(call.name, canonical_name(call.func), out.shape)  # type: ignore[arg-type]
        for t in {id(t): t for t in inputs}.values():
            src = torch.broadcast_to(self.ids[id(t)], out.shape).reshape(-1).numpy()
            self.edges(conn._valid(src, y.reshape(-1).numpy(), None))
        self.ids[id(out)] = y

    def op_linear(self, call: Call, inputs: list[torch.Tensor], outs: list[torch.Tensor]) -> None:
        weight = call.module.weight if call.module is not None else _arg(call, 1, "weight", None)
        if id(inputs[0]) != id(call.args[0]) or isinstance(weight, torch.Tensor) and id(weight) in self.ids:
            return self.op_unsupported(call, inputs, outs)
        y = self.new_block(call.name, "linear", outs[0].shape)
        self.edges(conn.dense_edges(self.ids[id(inputs[0])].numpy(), y.numpy(), self.pattern(weight, call.module)),
                   weight)
        self.ids[id(outs[0])] = y

    def op_matmul(self, call: Call, inputs: list[torch.Tensor], outs: list[torch.Tensor]) -> None:
        weight = call.args[1] if len(call.args) > 1 else None
        if len(call.args) > 1 and all(isinstance(a, torch.Tensor) and id(a) in self.ids for a in call.args[:2]):
            return self.op_bilinear(call, inputs, outs)
        if len(inputs) != 1 or id(inputs[0]) != id(call.args[0]) or not isinstance(weight, torch.Tensor) \
                or weight.dim() != 2:
            return self.op_unsupported(call, inputs, outs)
        y = self.new_block(call.name, "linear", outs[0].shape)
        self.edges(conn.dense_edges(self.ids[id(inputs[0])].numpy(), y.numpy(), self.pattern(weight.T, None)),
                   weight.T)
        self.ids[id(outs[0])] = y

    def _windowed(self, call: Call, x: torch.Tensor, out: torch.Tensor, pattern: np.ndarray,
                  stride: Any, dilation: Any, groups: int, pads: list[int], mode: str, kind: str,
                  weight: torch.Tensor | None) -> None:
        spatial = x.dim() - 2
        if spatial not in (1, 2) or x.shape[0] != 1:
            return self.op_unsupported(call, [x], [out])
        xi = self.ids[id(x)].numpy()[0]
        y = self.new_block(call.name, kind, out.shape)
        stride, dilation = _tuple(stride, spatial), _tuple(dilation, spatial)
        out_hw = tuple(out.shape[2:])
        if spatial == 1:
            xi, pattern, out_hw = xi[:, None, :], pattern[:, :, None, :], (1, *out_hw)
            stride, dilation, pads = (1, *stride), (1, *dilation), [*pads, 0, 0]
        w = None
        if self.include_weights and weight is not None:
            w = weight.detach().cpu().numpy().reshape(pattern.shape)
        for src, tgt, wp in conn.conv_edge_pieces(xi, int(y.reshape(-1)[0]), out_hw, pattern, stride, dilation,  # type: ignore[arg-type]
                                                   groups, pads, mode, w, self.dtype):
            self.sink.add(src, tgt, wp)
        self.ids[id(out)] = y

    def op_conv(self, call: Call, inputs: list[torch.Tensor], outs: list[torch.Tensor]) -> None:
        m, x = call.module, inputs[0]
        if m is not None:
            weight, stride, dilation, groups = m.weight, m.stride, m.dilation, m.groups
            pads, mode = list(m._reversed_padding_repeated_twice), m.padding_mode
        else:
            weight = _arg(call, 1, "weight", None)
            stride, dilation = _arg(call, 3, "stride", 1), _arg(call, 5, "dilation", 1)
            groups = _arg(call, 6, "groups", 1)
            kernel = tuple(weight.shape[2:])
            pads = conn.conv_padding(_arg(call, 4, "padding", 0), kernel, _tuple(dilation, len(kernel)))
            mode = "zeros"
        self._windowed(call, x, outs[0], self.pattern(weight, None), stride, dilation, int(groups), pads, mode,
                       "conv", weight)

    def op_pool(self, call: Call, inputs: list[torch.Tensor], outs: list[torch.Tensor]) -> None:
        x, m = inputs[0], call.module
        spatial = x.dim() - 2
        if m is not None:
            kernel, stride, padding = m.kernel_size, m.stride, m.padding
            dilation = getattr(m, "dilation", 1)
        else:
            kernel, stride, padding = _arg(call, 1, "kernel_size", 1), _arg(call, 2, "stride", None), \
                _arg(call, 3, "padding", 0)
            dilation = _arg(call, 4, "dilation", 1) if "max" in canonical_name(call.func) else 1  # type: ignore[arg-type]
        kernel = _tuple(kernel, spatial)
        stride = kernel if stride is None or stride == [] else _tuple(stride, spatial)
        channels = x.shape[1]
        pattern = np.ones((channels, 1, *kernel), dtype=bool)
        pads = conn.conv_padding(_tuple(padding, spatial), kernel, _tuple(dilation, spatial))
        self._windowed(call, x, outs[0], pattern, stride, dilation, channels, pads, "zeros", "pool", None)

    def op_adaptive(self, call: Call, inputs: list[torch.Tensor], outs: list[torch.Tensor]) -> None:
        x, out = inputs[0], outs[0]
        if x.shape[0] != 1 or x.dim() not in (3, 4):
            return self.op_unsupported(call, inputs, outs)
        y = self.new_block(call.name, "pool", out.shape)
        self.edges(conn.adaptive_pool_edges(self.ids[id(x)].numpy()[0], y.numpy()[0]))
        for o in outs:
            self.ids[id(o)] = y

    def op_reduce(self, call: Call, inputs: list[torch.Tensor], outs: list[torch.Tensor]) -> None:
        x, out = inputs[0], outs[0]
        dim = _arg(call, 1, "dim", None)
        if len(outs) != 1 or x.dim() == 0 or (dim is not None and not isinstance(dim, (int, tuple, list))):
            return self.op_unsupported(call, inputs, outs)
        axes = range(1, x.dim()) if dim is None else [d % x.dim() for d in _tuple(dim, 1)]
        axes = sorted({a - 1 for a in axes if a != 0})
        y = self.new_block(call.name, canonical_name(call.func), out.shape)  # type: ignore[arg-type]
        self.edges(conn.reduce_edges(self.ids[id(x)].numpy()[0], y.numpy(), axes))
        self.ids[id(out)] = y

    def op_along(self, call: Call, inputs: list[torch.Tensor], outs: list[torch.Tensor]) -> None:
        x, out = inputs[0], outs[0]
        dim = call.module.dim if call.module is not None else _arg(call, 1, "dim", None)
        if dim is None or x.shape != out.shape or dim % x.dim() == 0:
            return self.op_unsupported(call, inputs, outs)
        y = self.new_block(call.name, "softmax", out.shape)
        self.edges(conn.along_dim_edges(self.ids[id(x)].numpy()[0], y.numpy()[0], dim % x.dim() - 1))
        self.ids[id(out)] = y

    def op_unsupported(self, call: Call, inputs: list[torch.Tensor], outs: list[torch.Tensor]) -> None:
        what = type(call.module).__name__ if call.module is not None else canonical_name(call.func)  # type: ignore[arg-type]
        self.unsupported.append(f"{call.name} ({what})")
        src = np.unique(np.concatenate([self.ids[id(t)].reshape(-1).numpy() for t in inputs]))
        src = src[src >= 0]
        for k, out in enumerate(outs):
            if src.size * out.numel() > MAX_UNSUPPORTED_EDGES:
                raise ValueError(f"unsupported operation {call.name} ({what}) would need {src.size * out.numel()} "
                                 "conservative edges; pass granularity='module' or a smaller input")
            y = self.new_block(call.name if k == 0 else f"{call.name}.{k}", "unsupported", out.shape)
            yi = y.reshape(-1).numpy()
            self.edges((np.repeat(src, yi.size), np.tile(yi, src.size), None))
            self.ids[id(out)] = y

    # --- the result -------------------------------------------------------------------------------------
    def finish(self, output: Any) -> CompactGraph:
        outs = [t for t in tree_flatten(output)[0] if isinstance(t, torch.Tensor) and id(t) in self.ids]
        if not outs:
            raise ValueError("the model's output does not depend on its input; nothing to extract")
        flat = np.concatenate([self.ids[id(t)].reshape(-1).numpy() for t in outs])
        last = self.blocks[-1]
        if len(self.blocks) > 1 and flat.size == last.count and np.array_equal(flat, np.arange(last.start, self.n)):
            self.names.discard(last.name)
            last.name, last.kind, last.labels = "output", "output", None
        else:
            y = self.new_block("output", "output", torch.Size([1, flat.size]))
            self.edges(conn._valid(flat, y.reshape(-1).numpy(), None))
        self.blocks[-1].layer = len(self.blocks) - 1
        chunks = self.sink.finish()
        graph = CompactGraph(blocks=self.blocks, unsupported=self.unsupported, granularity="neuron", chunks=chunks)
        return graph.save(self.sink.directory) if self.sink.directory is not None else graph

def neuron_graph(rec: Recording, *, include_weights: bool = False, threshold: float | None = None,
                 memory_budget: int | None = None, directory: str | os.PathLike[str] | None = None) -> CompactGraph:
    """The neuron graph of a recorded forward pass; vertices ``(block name, flat neuron index)``.

    Edges stay in memory up to ``memory_budget`` bytes (default: a quarter of the machine's memory) and are
    then streamed to a temporary directory; with ``directory`` they are streamed there from the start (see
    :mod:`deepstruct.transform.storage`), and the result is backed by it.
    """
    builder = _Builder(rec, include_weights, threshold, memory_budget, directory)
    for call in rec.calls:
        builder.run(call)
    return builder.finish(rec.output)
