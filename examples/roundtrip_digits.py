"""The paper's round trip on scikit-learn's digits.

random Watts–Strogatz graph -> MaskedDeepDAN -> train -> magnitude-prune -> read the pruned structure back
-> rebuild a model on it -> retrain -> report accuracy, parameter count and density before and after.
It also re-encodes the trained, pruned model into a genome (schema 2: the whole network, input and output
layers included) and decodes it again: the Lamarckian round trip, which computes the same function.

    python examples/roundtrip_digits.py --vertices 200 --epochs 30 --seed 0
"""

from __future__ import annotations

import argparse
import time

import networkx as nx
import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn

from deepstruct.genomes import decode, encode
from deepstruct.graph import orient
from deepstruct.pruning import density_report, prune_by_magnitude
from deepstruct.sparse import MaskedDeepDAN


def load_data(seed: int) -> tuple[torch.Tensor, ...]:
    digits = load_digits()
    x = torch.tensor(digits.data / 16.0, dtype=torch.float32)
    y = torch.tensor(digits.target, dtype=torch.long)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    split = int(0.8 * len(y))
    return x[order[:split]], y[order[:split]], x[order[split:]], y[order[split:]]


def train(model: nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(y), generator=generator).split(64):
            optimiser.zero_grad()
            nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            optimiser.step()


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    return float((model(x).argmax(1) == y).float().mean())


def describe(model: MaskedDeepDAN) -> tuple[int, float]:
    """Active weights and density over all masked layers."""
    return sum(row["active"] for row in density_report(model)), model.density()


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vertices", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--prune", type=float, default=0.5, help="fraction of hidden weights to prune")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    start = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    x_train, y_train, x_test, y_test = load_data(args.seed)

    graph = nx.watts_strogatz_graph(args.vertices, 4, 0.75, seed=int(rng.integers(2**31)))
    structure = orient(graph, "random", rng=rng)
    model = MaskedDeepDAN(64, 10, structure, generator=torch.Generator().manual_seed(args.seed))
    train(model, x_train, y_train, args.epochs, args.seed)
    before_acc, (before_weights, before_density) = accuracy(model, x_test, y_test), describe(model)

    # magnitude pruning of the structure's edges (the hidden layers' masks), ranked over all of them
    if model.num_layers > 1:
        prune_by_magnitude(nn.ModuleList(model.layers[1:]), args.prune, scope="global")
    pruned_acc = accuracy(model, x_test, y_test)
    pruned_structure = model.generate_structure()
    genome = encode(model, include_weights=True)  # every masked layer, weights and biases
    relived = decode(genome)
    relived_acc = accuracy(relived, x_test, y_test)
    with torch.no_grad():
        gap = float((relived(x_test) - model(x_test)).abs().max())

    rebuilt = MaskedDeepDAN(64, 10, pruned_structure, generator=torch.Generator().manual_seed(args.seed + 1))
    train(rebuilt, x_train, y_train, args.epochs, args.seed + 1)
    after_acc, (after_weights, after_density) = accuracy(rebuilt, x_test, y_test), describe(rebuilt)

    print(f"structure: Watts-Strogatz n={args.vertices} k=4 p=0.75, random orientation -> "
          f"{structure.num_layers} layers, {structure.number_of_edges()} edges")
    print(f"{'':24}{'accuracy':>10}{'weights':>10}{'density':>10}{'edges':>8}")
    print(f"{'trained':24}{before_acc:10.3f}{before_weights:10d}{before_density:10.3f}"
          f"{structure.number_of_edges():8d}")
    print(f"{'pruned (no retraining)':24}{pruned_acc:10.3f}")
    print(f"{'genome round trip':24}{relived_acc:10.3f}   (max |output difference| {gap:.1e}, "
          f"{genome.num_interface_edges} interface edges in the genome)")
    print(f"{'rebuilt and retrained':24}{after_acc:10.3f}{after_weights:10d}{after_density:10.3f}"
          f"{pruned_structure.number_of_edges():8d}")
    print(f"done in {time.perf_counter() - start:.1f} s")
    return {"before": before_acc, "pruned": pruned_acc, "after": after_acc}


if __name__ == "__main__":
    main()
