"""Random-graph structures in a sparse GRU on the embedded Reber grammar: Watts-Strogatz vs Barabasi-Albert.

After Stier, Darji & Granitzer (2021), "Experiments on properties of hidden structures of sparse neural
networks", who impose random graphs on the recurrent layer of RNNs, LSTMs and GRUs and report (GRU, Reber
grammar) accuracies of 0.984 for Watts-Strogatz and 0.928 for Barabasi-Albert structures. Here: a
``MaskedGRU`` whose hidden-to-hidden masks (every gate) are the adjacency of a WS or BA graph over the hidden
units, trained to tell grammatical embedded Reber strings from corrupted ones (``deepstruct.datasets``; half
of the corruptions break the long-range T/P agreement). Our task set-up, sizes and budget are ours, not the
paper's, so the figures are comparable in kind, not one to one. Everything is seeded; no global RNG is used.

Run: ``.venv/bin/python examples/reber_structures.py`` (a few minutes on 2 cores; ``--quick``: seconds).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import networkx as nx
import numpy as np
import torch
from torch import nn

from deepstruct.datasets import SYMBOLS, reber_dataset
from deepstruct.sparse import MaskedGRU, MaskedLinearLayer

PAPER = {"WS": 0.984, "BA": 0.928}


class Classifier(nn.Module):
    """Masked GRU over one-hot symbols; a linear read-out of the last hidden state."""

    def __init__(self, structure: nx.Graph, generator: torch.Generator) -> None:
        super().__init__()
        self.gru = MaskedGRU(len(SYMBOLS), structure=structure, generator=generator)
        self.head = MaskedLinearLayer(self.gru.hidden_size, 2, generator=generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.gru(x)[0][:, -1])


def structure(kind: str, hidden: int, seed: int) -> nx.Graph:
    if kind == "WS":
        return nx.watts_strogatz_graph(hidden, 4, 0.25, seed=seed)
    if kind == "BA":
        return nx.barabasi_albert_graph(hidden, 2, seed=seed)
    raise ValueError(f"unknown structure {kind!r}")


def train(kind: str, seed: int, args: argparse.Namespace) -> tuple[float, float]:
    """Test accuracy and the recurrent density of one run."""
    rng = np.random.default_rng(seed)
    data = reber_dataset(args.train + args.test, rng, max_length=args.max_length)
    x, y = data.inputs, data.labels
    model = Classifier(structure(kind, args.hidden, seed), torch.Generator().manual_seed(seed))
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(args.epochs):
        order = torch.from_numpy(rng.permutation(args.train))
        for k in range(0, args.train, args.batch):
            idx = order[k:k + args.batch]
            opt.zero_grad()
            loss_fn(model(x[idx]), y[idx]).backward()
            opt.step()
    with torch.no_grad():
        accuracy = float((model(x[args.train:]).argmax(1) == y[args.train:]).float().mean())
    return accuracy, model.gru.hh[0].density


def main(argv: Sequence[str] | None = None) -> dict[str, list[float]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a tiny budget (for the tests)")
    parser.add_argument("--hidden", type=int, default=40)
    parser.add_argument("--train", type=int, default=3000)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--max-length", type=int, default=24)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args(argv)
    if args.quick:
        args.hidden, args.train, args.test, args.epochs, args.seeds = 12, 200, 100, 2, 1
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        results: dict[str, list[float]] = {}
        print(f"embedded Reber grammar, grammatical vs corrupted; MaskedGRU with {args.hidden} hidden units, "
              f"{args.train} training / {args.test} test strings, {args.epochs} epochs, {args.seeds} seeds")
        print(f"{'structure':<10}{'accuracy (mean +- sd)':>24}{'W_hh density':>14}{'paper (GRU)':>13}{'seconds':>9}")
        for kind in ("WS", "BA"):
            t0 = time.perf_counter()
            runs = []
            for seed in range(args.seeds):  # a line per training run: no silent minutes
                runs.append(train(kind, seed, args))
                print(f"  {kind} seed {seed}: accuracy {runs[-1][0]:.3f} ({time.perf_counter() - t0:.0f} s)",
                      flush=True)
            acc = [a for a, _ in runs]
            results[kind] = acc
            print(f"{kind:<10}{np.mean(acc):>15.3f} +- {np.std(acc):.3f}{np.mean([d for _, d in runs]):>14.3f}"
                  f"{PAPER[kind]:>13.3f}{time.perf_counter() - t0:>9.1f}")
        return results
    finally:
        torch.set_num_threads(threads)


if __name__ == "__main__":
    main()
