"""Published architectures written with ``torch.nn`` for the extraction benchmarks (torchvision is not a dependency).

``resnet18`` (He et al. 2016), ``squeezenet1_0`` (Iandola et al. 2016), an EfficientNet-style network of MBConv
blocks with squeeze-and-excitation, SiLU and stochastic depth (Tan & Le 2019), a small ViT-style encoder with
``nn.MultiheadAttention`` (Dosovitskiy et al. 2021) and an LSTM text classifier. Layer sizes follow the papers;
the code is ours. Weights are random (built under a seeded ``torch.Generator`` through ``torch.nn.init``
defaults, which read the global generator: build them under ``torch.random.fork_rng`` when that matters).
"""

from __future__ import annotations

import torch
import torch.fx
from torch import nn

__all__ = ["resnet18", "squeezenet1_0", "efficient_net", "vit_tiny", "lstm_classifier", "stochastic_depth"]


def stochastic_depth(x: torch.Tensor, p: float, mode: str, training: bool = True,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """Drop whole residual branches (Huang et al. 2016): in training, each sample (``"row"``) or the whole
    batch (``"batch"``) is zeroed with probability ``p`` and the survivors scaled by ``1 / (1 - p)``; the identity
    in evaluation or for ``p == 0``."""
    if not 0.0 <= p <= 1.0 or mode not in ("row", "batch"):
        raise ValueError(f"p must be in [0, 1] and mode 'row' or 'batch', got {p!r}, {mode!r}")
    if not training or p == 0.0:
        return x
    shape = [x.shape[0]] + [1] * (x.dim() - 1) if mode == "row" else [1] * x.dim()
    keep = torch.rand(shape, dtype=x.dtype, device=x.device, generator=generator) >= p
    return x * keep / (1.0 - p) if p < 1.0 else x * 0.0


torch.fx.wrap("stochastic_depth")  # one traced call, as torchvision's is


class _Basic(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None if stride == 1 and c_in == c_out else nn.Sequential(
            nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = x if self.downsample is None else self.downsample(x)
        return self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))) + skip)


def resnet18(num_classes: int = 1000) -> nn.Module:
    """ResNet-18: a 7x7/2 stem, max pooling, four stages of two basic blocks (64, 128, 256, 512 channels)."""
    layers: list[nn.Module] = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
                               nn.MaxPool2d(3, 2, 1)]
    c = 64
    for width, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [_Basic(c, width, stride), _Basic(width, width, 1)]
        c = width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, num_classes)]
    return nn.Sequential(*layers)


class _Fire(nn.Module):
    def __init__(self, c_in: int, squeeze: int, e1: int, e3: int) -> None:
        super().__init__()
        self.squeeze = nn.Sequential(nn.Conv2d(c_in, squeeze, 1), nn.ReLU(inplace=True))
        self.e1 = nn.Sequential(nn.Conv2d(squeeze, e1, 1), nn.ReLU(inplace=True))
        self.e3 = nn.Sequential(nn.Conv2d(squeeze, e3, 3, padding=1), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.squeeze(x)
        return torch.cat([self.e1(s), self.e3(s)], 1)


def squeezenet1_0(num_classes: int = 1000) -> nn.Module:
    """SqueezeNet 1.0: a 7x7/2 stem with 96 channels, eight fire modules, a 1x1 convolution classifier."""
    pool = lambda: nn.MaxPool2d(3, 2, ceil_mode=True)  # noqa: E731
    return nn.Sequential(
        nn.Conv2d(3, 96, 7, 2), nn.ReLU(inplace=True), pool(),
        _Fire(96, 16, 64, 64), _Fire(128, 16, 64, 64), _Fire(128, 32, 128, 128), pool(),
        _Fire(256, 32, 128, 128), _Fire(256, 48, 192, 192), _Fire(384, 48, 192, 192), _Fire(384, 64, 256, 256),
        pool(), _Fire(512, 64, 256, 256),
        nn.Dropout(0.5), nn.Conv2d(512, num_classes, 1), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten())


class _MBConv(nn.Module):
    def __init__(self, c_in: int, c_out: int, expand: int, stride: int, drop: float) -> None:
        super().__init__()
        mid = c_in * expand
        self.expand = nn.Sequential(nn.Conv2d(c_in, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.SiLU())
        self.depthwise = nn.Sequential(nn.Conv2d(mid, mid, 3, stride, 1, groups=mid, bias=False),
                                       nn.BatchNorm2d(mid), nn.SiLU())
        squeeze = max(1, c_in // 4)
        self.se = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(mid, squeeze, 1), nn.SiLU(),
                                nn.Conv2d(squeeze, mid, 1), nn.Hardsigmoid())
        self.project = nn.Sequential(nn.Conv2d(mid, c_out, 1, bias=False), nn.BatchNorm2d(c_out))
        self.residual = stride == 1 and c_in == c_out
        self.drop = drop
        self.scale = nn.Parameter(torch.full((c_out, 1, 1), 0.5))  # layer scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.depthwise(self.expand(x))
        h = self.project(h * self.se(h))
        if self.residual:
            h = stochastic_depth(h * self.scale, self.drop, "row", self.training) + x
        return h


def efficient_net(num_classes: int = 10, width: int = 16) -> nn.Module:
    """A small EfficientNet-style network: a 3x3/2 stem, MBConv blocks (expansion 4, SE, SiLU, stochastic
    depth, layer scale), a 1x1 head with Hardswish, dropout and a linear classifier."""
    w = width
    return nn.Sequential(
        nn.Conv2d(3, w, 3, 2, 1, bias=False), nn.BatchNorm2d(w), nn.SiLU(),
        _MBConv(w, w, 4, 1, 0.1), _MBConv(w, 2 * w, 4, 2, 0.1), _MBConv(2 * w, 2 * w, 4, 1, 0.2),
        nn.Conv2d(2 * w, 4 * w, 1), nn.Hardswish(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Dropout(0.2), nn.Linear(4 * w, num_classes))


class _EncoderLayer(nn.Module):
    def __init__(self, dim: int, heads: int, mlp: int) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, dropout=0.1, batch_first=True)
        self.ln2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp), nn.GELU(), nn.Dropout(0.1), nn.Linear(mlp, dim), nn.Dropout(0.1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.ln1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.ln2(x))


class VisionTransformer(nn.Module):
    """ViT: patches embedded by a strided convolution, a class token, learned position embeddings, pre-norm
    encoder layers (multi-head self-attention and a GELU MLP), a final LayerNorm and a linear head."""

    def __init__(self, image: int = 32, patch: int = 16, dim: int = 48, depth: int = 2, heads: int = 4,
                 mlp: int = 96, num_classes: int = 10) -> None:
        super().__init__()
        self.patch = nn.Conv2d(3, dim, patch, patch)
        tokens = (image // patch) ** 2 + 1
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, tokens, dim) * 0.02)
        self.layers = nn.Sequential(*[_EncoderLayer(dim, heads, mlp) for _ in range(depth)])
        self.ln = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        return self.head(self.ln(self.layers(x))[:, 0])


def vit_tiny(image: int = 32, **kwargs: int) -> nn.Module:
    """A small :class:`VisionTransformer` (16x16 patches)."""
    return VisionTransformer(image, **kwargs)


class LSTMClassifier(nn.Module):
    """Token ids -> embedding -> (stacked, optionally bidirectional) LSTM -> the last step -> linear classes."""

    def __init__(self, vocab: int = 20, dim: int = 8, hidden: int = 6, layers: int = 1, classes: int = 3,
                 bidirectional: bool = False) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.lstm = nn.LSTM(dim, hidden, layers, batch_first=True, bidirectional=bidirectional)
        self.head = nn.Linear(hidden * (2 if bidirectional else 1), classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(self.embed(tokens))
        return self.head(out[:, -1])


def lstm_classifier(**kwargs: int) -> nn.Module:
    return LSTMClassifier(**kwargs)
