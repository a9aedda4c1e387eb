"""``MaskedDeepFFN``: a deep feed-forward network of masked layers, without skip-layer connections."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from deepstruct._validation import check_int
from deepstruct.graph import CachedLayeredGraph
from deepstruct.sparse._sizes import input_features
from deepstruct.sparse.connections import MatrixConnections
from deepstruct.sparse.masked_linear import MaskableModule, MaskedLinearLayer
from deepstruct.sparse.structures import ffn_structure

__all__ = ["MaskedDeepFFN"]


class MaskedDeepFFN(MaskableModule):
    """``y^l = σ((W_l * M_l) y^{l-1} + b_l)`` for each hidden layer, then a masked linear output layer.

    Parameters
    ----------
    size_input : int or shape
        Input features; a shape such as ``(1, 28, 28)`` is flattened.
    size_output : int
        Output features (logits, no activation).
    hidden_layers : sequence of int
        Hidden layer widths, e.g. ``[1000, 800, 500, 200, 50, 20]``.
    use_layer_norm : bool
        Layer normalisation of each hidden layer's pre-activation.
    activation : type of nn.Module
        Hidden activation (default ``nn.ReLU``).
    generator : torch.Generator, optional
        Randomness for the initial weights.

    Examples
    --------
    >>> model = MaskedDeepFFN((1, 28, 28), 10, [100, 50])
    >>> model(torch.zeros(4, 1, 28, 28)).shape
    torch.Size([4, 10])
    """

    def __init__(
        self,
        size_input: int | Sequence[int],
        size_output: int,
        hidden_layers: Sequence[int],
        use_layer_norm: bool = False,
        activation: type[nn.Module] = nn.ReLU,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.input_shape = (size_input,) if isinstance(size_input, int) else tuple(size_input)
        self.size_input = input_features(size_input)
        self.size_output = check_int("size_output", size_output)
        widths = [check_int(f"hidden_layers[{i}]", int(w)) for i, w in enumerate(hidden_layers)]
        sizes = [self.size_input, *widths]
        self.layers = nn.ModuleList(
            MaskedLinearLayer(a, b, generator=generator) for a, b in zip(sizes[:-1], sizes[1:], strict=True)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(w) for w in widths) if use_layer_norm else None
        self.activation = activation()
        self.output = MaskedLinearLayer(sizes[-1], self.size_output, generator=generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.reshape(x.shape[0], -1)
        for i, layer in enumerate(self.layers):
            h = layer(h)
            if self.norms is not None:
                h = self.norms[i](h)
            h = self.activation(h)
        return self.output(h)

    def matrices(self) -> list[MaskedLinearLayer]:
        """Every masked matrix in the order of computation: ``layers[0], ..., layers[-1], output``."""
        return [*self.layers, self.output]

    def connections(self, threshold: float | None = None) -> list[MatrixConnections]:
        """The connections of every masked matrix (:meth:`matrices` order), read from the masks: the reader of this
        phenotype (:mod:`deepstruct.sparse.connections`). Units: the inputs ``0 .. size_input - 1``, then the
        rows of every hidden layer, then the outputs; matrix ``t`` reads the units of layer ``t - 1``."""
        out, start = [], 0
        for t, layer in enumerate(self.matrices()):
            out.append(MatrixConnections(t, layer, start, start + layer.in_features, threshold))
            start += layer.in_features
        return out

    def generate_structure(self, include_input: bool = False, include_output: bool = False, *,
                           include_weights: bool = False) -> CachedLayeredGraph:
        """The hidden neurons' graph from the masks (inputs and outputs if asked); see
        :func:`deepstruct.sparse.structures.ffn_structure`."""
        return ffn_structure(self, include_input=include_input, include_output=include_output,
                             include_weights=include_weights)
