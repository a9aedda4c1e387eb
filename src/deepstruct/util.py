"""deepstruct 0.10's ``deepstruct.util``: small measures over masked networks and distributions.

Kept for code written against deepstruct 0.10 (see ``docs/migrating-from-deepstruct-0.10.md``); new code
finds the same information in :func:`deepstruct.pruning.density_report` and :mod:`scipy.stats`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable

import numpy as np
import torch
from torch import nn

from deepstruct.sparse.masked_linear import MaskedLinearLayer, maskable_layers

__all__ = [
    "entropy", "kullback_leibler", "get_layer_count", "get_weight_distribution", "get_filtered_saliency",
    "generate_hessian_inverse_fc",
]


def entropy(labels: Iterable[object], base: float | None = None) -> float:
    """Shannon entropy of the empirical distribution of ``labels`` (natural log unless ``base``).

    Examples
    --------
    >>> round(entropy([0, 1, 0, 1], base=2), 6)
    1.0
    """
    _, counts = np.unique(np.asarray(list(labels)), return_counts=True)
    if counts.size == 0:
        raise ValueError("entropy of no labels is undefined")
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum() / math.log(math.e if base is None else base))


def kullback_leibler(a: Iterable[float], b: Iterable[float]) -> float:
    """``KL(a || b) = Σ a_i log(a_i / b_i)`` over the entries where ``a_i != 0``.

    Examples
    --------
    >>> kullback_leibler([0.5, 0.5], [0.5, 0.5])
    0.0
    """
    pa, pb = np.asarray(list(a), dtype=float), np.asarray(list(b), dtype=float)
    if pa.shape != pb.shape:
        raise ValueError(f"the distributions have different shapes {pa.shape} and {pb.shape}")
    nonzero = pa != 0
    if np.any(pb[nonzero] == 0):
        raise ValueError("b is 0 where a is not: the divergence is infinite")
    return float(np.sum(pa[nonzero] * np.log(pa[nonzero] / pb[nonzero])))


def get_layer_count(network: nn.Module) -> int:
    """Number of masked layers in ``network``."""
    return len(maskable_layers(network))


def get_weight_distribution(network: nn.Module) -> np.ndarray:
    """The weights of every set connection of every masked layer, as one flat array."""
    parts = [layer.weight.detach().cpu().numpy()[layer.mask.cpu().numpy()] for layer in maskable_layers(network)]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.float32)


def get_filtered_saliency(saliency: torch.Tensor | np.ndarray, mask: torch.Tensor | np.ndarray) -> np.ndarray:
    """The saliencies of the set connections of ``mask`` (flattened)."""
    s, m = np.asarray(saliency).reshape(-1), np.asarray(mask).reshape(-1) != 0
    if s.shape != m.shape:
        raise ValueError(f"saliency has {s.size} entries but the mask {m.size}")
    return s[m]


def generate_hessian_inverse_fc(layer: MaskedLinearLayer, hessian_inverse_path: str | os.PathLike[str],
                                layer_input_train_dir: str | os.PathLike[str]) -> None:
    """Layer-wise OBS: the inverse Hessian of a fully connected layer from its recorded inputs.

    Reads every ``.npy`` file in ``layer_input_train_dir`` (arrays of shape ``(samples, in_features)``,
    loaded without pickle), accumulates the inverse with rank-one (Sherman-Morrison) updates starting from
    ``1e6 * I``, and saves it with ``numpy.save`` to ``hessian_inverse_path``.
    """
    files = sorted(f for f in os.listdir(layer_input_train_dir) if f.endswith(".npy"))
    if not files:
        raise ValueError(f"no .npy layer inputs in {os.fspath(layer_input_train_dir)!r}")
    inputs = [np.load(os.path.join(layer_input_train_dir, f), allow_pickle=False) for f in files]
    n = layer.in_features
    if any(x.ndim != 2 or x.shape[1] != n for x in inputs):
        raise ValueError(f"every layer input must have shape (samples, {n})")
    dataset_size = sum(x.shape[0] for x in inputs)
    inverse = 1e6 * np.eye(n)
    for x in inputs:
        for row in x:
            v = row.reshape(n, 1)
            hv = inverse @ v
            inverse -= (hv @ hv.T) / (dataset_size + (v.T @ hv).item())
    np.save(hessian_inverse_path, inverse)
