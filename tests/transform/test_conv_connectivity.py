"""Neuron connectivity of convolutions and pooling against a brute-force reference (one-hot inputs)."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from deepstruct.transform import GraphTransform


def extracted_pairs(model: nn.Module, shape: tuple[int, ...]) -> tuple[set[tuple[int, int]], int]:
    """(input index, output index) pairs of a one-operation model, and the number of outputs."""
    compact = GraphTransform(torch.randn(1, *shape)).extract(model)
    assert [b.name for b in compact.blocks] == ["input", "output"]
    start = compact.blocks[1].start
    return {(int(s), int(t) - start) for s, t in zip(compact.sources, compact.targets, strict=True)}, \
        compact.blocks[1].count


def reference_pairs(op: nn.Module, shape: tuple[int, ...]) -> tuple[set[tuple[int, int]], int]:
    """Output ``j`` depends on input ``i`` iff a one-hot input at ``i`` makes output ``j`` non-zero
    (weights made positive, so nothing cancels)."""
    n = int(torch.tensor(shape).prod())
    with torch.no_grad():
        out = op(torch.eye(n, dtype=torch.float64).reshape(n, *shape)).reshape(n, -1)
    rows, cols = torch.nonzero(out != 0, as_tuple=True)
    return set(zip(rows.tolist(), cols.tolist(), strict=True)), out.shape[1]


def positive_copy(conv: nn.Module) -> nn.Module:
    ref = copy.deepcopy(conv).double()
    with torch.no_grad():
        ref.weight.abs_()
    ref.bias = None
    return ref


@settings(max_examples=40, deadline=None)
@given(
    groups=st.sampled_from([1, 2]), k=st.integers(1, 3), stride=st.integers(1, 3), padding=st.integers(0, 2),
    dilation=st.integers(1, 2), h=st.integers(5, 7), w=st.integers(4, 7), zero=st.floats(0, 0.6),
    mode=st.sampled_from(["zeros", "reflect", "circular", "replicate"]), seed=st.integers(0, 1000),
)
def test_conv2d_matches_brute_force(groups: int, k: int, stride: int, padding: int, dilation: int, h: int, w: int,
                                    zero: float, mode: str, seed: int) -> None:
    if mode == "reflect" and padding >= min(h, w):
        padding = 0
    torch.manual_seed(seed)
    conv = nn.Conv2d(2, 4, (k, k + 1), stride=(stride, 1), padding=padding, dilation=(dilation, 1), groups=groups,
                     padding_mode=mode)
    with torch.no_grad():
        conv.weight[torch.rand(conv.weight.shape) < zero] = 0.0
    got, n_out = extracted_pairs(conv, (2, h, w + 2))
    ref, n_ref = reference_pairs(positive_copy(conv), (2, h, w + 2))
    assert n_out == n_ref and got == ref


@pytest.mark.parametrize("op", [
    nn.MaxPool2d(3, stride=2, padding=1, dilation=2, ceil_mode=True),
    nn.MaxPool2d(2),
    nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True),
    nn.AdaptiveAvgPool2d((2, 3)),
    nn.AdaptiveMaxPool2d(3),
])
def test_pooling_matches_brute_force(op: nn.Module) -> None:
    got, n_out = extracted_pairs(op, (2, 7, 8))
    ref, n_ref = reference_pairs(op, (2, 7, 8))
    assert n_out == n_ref and got == ref


def test_conv1d_and_functional_same_padding() -> None:
    torch.manual_seed(0)
    conv = nn.Conv1d(2, 3, 3, stride=2, padding=2, dilation=2)
    got, _ = extracted_pairs(conv, (2, 9))
    assert got == reference_pairs(positive_copy(conv), (2, 9))[0]

    class Same(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.rand(4, 2, 3, 2) + 0.1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return F.conv2d(x, self.weight, padding="same", dilation=(1, 2))

    got, _ = extracted_pairs(Same(), (2, 5, 6))
    ref, _ = reference_pairs(lambda x: F.conv2d(x, Same().weight.double(), padding="same", dilation=(1, 2)),
                             (2, 5, 6))
    assert got == ref


def test_conv_edge_weights() -> None:
    torch.manual_seed(1)
    conv = nn.Conv2d(1, 2, 2)
    compact = GraphTransform(torch.randn(1, 1, 3, 3), include_weights=True).extract(conv)
    graph = compact.to_networkx()
    # output (channel 1, y 0, x 1) = flat 1 * 4 + 0 * 2 + 1 = 5 reads input (0, 1, 2) = flat 5 with w[1, 0, 1, 1]
    assert graph.edges[("input", 5), ("output", 5)]["weight"] == pytest.approx(float(conv.weight.detach()[1, 0, 1, 1]))
