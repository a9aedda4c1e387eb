"""Module-level graphs of recorded forward passes: a vertex per module call or tensor operation."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils._pytree import tree_flatten

from deepstruct.transform.compact import CompactGraph, VertexBlock
from deepstruct.transform.neurons import CONSTANT_OPS, SHAPE_OPS, canonical_name
from deepstruct.transform.trace import Recording

__all__ = ["module_graph"]

_FOLDED = SHAPE_OPS | {"to", "float", "double", "half", "bfloat16", "type", "type_as", "cpu", "cuda"}


def module_graph(rec: Recording) -> CompactGraph:
    """One vertex per module call (named by its module, ``"name:k"`` for the k-th reuse) or tensor operation
    (named as the trace names it, e.g. ``"add_1"``), plus ``"input"`` and ``"output"``; an edge wherever a
    tensor flows. Shape operations and casts are folded into the edges. Vertex ids are the names."""
    names: list[str] = ["input"]
    kinds: list[str] = ["input"]
    producers: dict[int, set[int]] = {id(rec.input): {0}}
    src: list[int] = []
    tgt: list[int] = []
    for call in rec.calls:
        leaves = tree_flatten((call.args, call.kwargs))[0]
        feeding: set[int] = set()
        for t in leaves:
            if isinstance(t, torch.Tensor) and id(t) in producers:
                feeding |= producers[id(t)]
        outs = [t for t in tree_flatten(call.out)[0] if isinstance(t, torch.Tensor)]
        kind = type(call.module).__name__ if call.module is not None else canonical_name(call.func)  # type: ignore[arg-type]
        if not feeding or not outs or call.module is None and kind in CONSTANT_OPS:
            continue
        if call.module is None and kind in _FOLDED:
            made = feeding
        else:
            names.append(call.name)
            kinds.append(kind)
            v = len(names) - 1
            src.extend(sorted(feeding))
            tgt.extend([v] * len(feeding))
            made = {v}
        for t in outs:
            producers[id(t)] = made
    final: set[int] = set()
    for t in tree_flatten(rec.output)[0]:
        if isinstance(t, torch.Tensor) and id(t) in producers:
            final |= producers[id(t)]
    names.append("output")
    kinds.append("output")
    src.extend(sorted(final))
    tgt.extend([len(names) - 1] * len(final))
    blocks = [VertexBlock(n, k, i, i, 1, (), [n]) for i, (n, k) in enumerate(zip(names, kinds, strict=True))]
    return CompactGraph(np.asarray(src, dtype=np.int64), np.asarray(tgt, dtype=np.int64), blocks, None, [], "module")
