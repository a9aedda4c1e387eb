"""Recording one forward pass of any torch model as a list of calls, following its real data flow.

Two frontends give the same record: :func:`record_fx` (``torch.fx`` symbolic tracing, then running the traced
graph on the input) and :func:`record_hooks` (forward hooks on leaf modules plus a ``TorchFunctionMode`` that
sees the tensor operations between them), the fallback for models that ``torch.fx`` cannot trace (data-
dependent control flow). Both run on one sample (the first of ``random_input``) under ``torch.no_grad()``, in
eval mode, with the global RNG forked, and restore every module's ``training`` flag: the model is not changed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import fx, nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

from deepstruct.sparse import MaskedLinearLayer

__all__ = ["Call", "Recording", "record_fx", "record_hooks", "record", "TraceFailure", "is_leaf"]


class TraceFailure(ValueError):
    """The model could not be traced for graph extraction."""


@dataclass
class Call:
    """One call of the forward pass: a leaf module (``module`` set) or a tensor function/method (``func``)."""

    name: str
    module: nn.Module | None
    func: Callable[..., Any] | None
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    out: Any


@dataclass
class Recording:
    """The input tensor (one sample, batch dimension kept), the calls in execution order and the output."""

    input: torch.Tensor
    calls: list[Call]
    output: Any
    frontend: str


def is_leaf(module: nn.Module, extra: tuple[type, ...] = ()) -> bool:
    """A module recorded as one call: masked (linear and recurrent) layers, ``extra`` types and ``torch.nn``
    modules except containers; other modules are traced through."""
    if isinstance(module, (MaskedLinearLayer, *extra)):
        return True
    if hasattr(module, "layer_parameters") and hasattr(module, "mode"):  # masked recurrent layers
        return True
    if isinstance(module, (nn.Sequential, nn.ModuleList, nn.ModuleDict)):
        return False
    return type(module).__module__.startswith("torch.nn")


@contextlib.contextmanager
def _frozen(model: nn.Module) -> Iterator[None]:
    flags = [(m, m.training) for m in model.modules()]
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            model.eval()
            yield
    finally:
        for m, flag in flags:
            m.training = flag


def _one_sample(random_input: torch.Tensor) -> torch.Tensor:
    if not isinstance(random_input, torch.Tensor) or random_input.dim() < 1 or random_input.shape[0] < 1:
        raise ValueError("random_input must be a tensor with a leading batch dimension, e.g. torch.randn(1, 784)")
    return random_input[:1]


class _Tracer(fx.Tracer):
    def __init__(self, extra: tuple[type, ...]) -> None:
        super().__init__()
        self.extra = extra

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return is_leaf(m, self.extra)


class _Recorder(fx.Interpreter):
    def __init__(self, module: fx.GraphModule) -> None:
        super().__init__(module)
        self.calls: list[Call] = []
        self.seen: dict[str, int] = {}

    def run_node(self, n: fx.Node) -> Any:
        self._current = n  # the fx node being run (an fx.Node, not networkx)
        return super().run_node(n)

    def _name(self, base: str) -> str:
        k = self.seen.get(base, 0)
        self.seen[base] = k + 1
        return base if k == 0 else f"{base}:{k}"

    def call_module(self, target: Any, args: tuple, kwargs: dict) -> Any:
        out = super().call_module(target, args, kwargs)
        self.calls.append(Call(self._name(str(target)), self.fetch_attr(target), None, args, kwargs, out))
        return out

    def call_function(self, target: Any, args: tuple, kwargs: dict) -> Any:
        out = super().call_function(target, args, kwargs)
        self.calls.append(Call(self._current.name, None, target, args, kwargs, out))
        return out

    def call_method(self, target: Any, args: tuple, kwargs: dict) -> Any:
        out = super().call_method(target, args, kwargs)
        func = getattr(torch.Tensor, target, None) or getattr(type(args[0]), target)
        self.calls.append(Call(self._current.name, None, func, args, kwargs, out))
        return out


def record_fx(model: nn.Module, random_input: torch.Tensor, *, leaf_types: tuple[type, ...] = ()) -> Recording:
    """Trace ``model`` with ``torch.fx`` and record one run on the first sample of ``random_input``."""
    x = _one_sample(random_input)
    with _frozen(model):  # traced in eval mode: a forward that reads ``self.training`` is traced as evaluated
        graph = _Tracer(leaf_types).trace(model)
        placeholders = [n for n in graph.nodes if n.op == "placeholder"]
        if len(placeholders) != 1:
            raise TraceFailure(f"the model's forward takes {len(placeholders)} inputs; extraction needs exactly one")
        rec = _Recorder(fx.GraphModule(model, graph))
        out = rec.run(x)
    return Recording(x, rec.calls, out, "fx")


class _FunctionRecorder(TorchFunctionMode):
    def __init__(self, tracked: dict[int, torch.Tensor]) -> None:
        super().__init__()
        self.tracked = tracked
        self.depth = 0
        self.calls: list[Call] = []
        self.seen: dict[str, int] = {}

    def __torch_function__(self, func: Callable[..., Any], types: Any, args: tuple = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if self.depth == 0:
            leaves = tree_flatten((args, kwargs))[0]
            outs = [t for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor)]
            if outs and any(isinstance(t, torch.Tensor) and id(t) in self.tracked for t in leaves):
                base = getattr(func, "__name__", type(func).__name__).strip("_") or "op"
                k = self.seen.get(base, 0)
                self.seen[base] = k + 1
                self.calls.append(Call(base if k == 0 else f"{base}_{k}", None, func, args, kwargs, out))
                for t in outs:
                    self.tracked[id(t)] = t
        return out


def record_hooks(model: nn.Module, random_input: torch.Tensor, *, leaf_types: tuple[type, ...] = ()) -> Recording:
    """Record one forward pass with forward hooks on leaf modules and a ``TorchFunctionMode`` in between."""
    x = _one_sample(random_input)
    tracked: dict[int, torch.Tensor] = {id(x): x}
    mode = _FunctionRecorder(tracked)
    names: dict[int, str] = {}
    counts: dict[int, int] = {}
    handles = []

    def pre(module: nn.Module, args: tuple) -> None:
        mode.depth += 1

    def post(module: nn.Module, args: tuple, kwargs: dict, out: Any) -> None:
        mode.depth -= 1
        if mode.depth == 0:
            k = counts.get(id(module), 0)
            counts[id(module)] = k + 1
            name = names[id(module)] if k == 0 else f"{names[id(module)]}:{k}"
            mode.calls.append(Call(name, module, None, args, kwargs, out))
            for t in tree_flatten(out)[0]:
                if isinstance(t, torch.Tensor):
                    tracked[id(t)] = t

    for name, module in model.named_modules():
        if module is not model and is_leaf(module, leaf_types):
            names[id(module)] = name
            handles.append(module.register_forward_pre_hook(pre))
            handles.append(module.register_forward_hook(post, with_kwargs=True))
    try:
        with _frozen(model), mode:
            out = model(x)
    finally:
        for h in handles:
            h.remove()
    return Recording(x, mode.calls, out, "hooks")


def record(model: nn.Module, random_input: torch.Tensor, *, leaf_types: tuple[type, ...] = ()) -> Recording:
    """:func:`record_fx`, falling back to :func:`record_hooks`; a clear :class:`TraceFailure` if neither works."""
    if not isinstance(model, nn.Module):
        raise ValueError(f"expected a torch.nn.Module, got {type(model).__name__}")
    _one_sample(random_input)
    try:
        return record_fx(model, random_input, leaf_types=leaf_types)
    except TraceFailure:
        raise
    except Exception as fx_error:  # noqa: BLE001 - any tracing failure moves on to the hook frontend
        try:
            return record_hooks(model, random_input, leaf_types=leaf_types)
        except Exception as hook_error:
            raise TraceFailure(
                f"cannot trace {type(model).__name__} for graph extraction: torch.fx failed "
                f"({type(fx_error).__name__}: {fx_error}) and a forward pass with input of shape "
                f"{tuple(random_input[:1].shape)} failed ({type(hook_error).__name__}: {hook_error})"
            ) from hook_error
