"""Lottery tickets on MNIST-1D: iterative magnitude pruning with rewinding against random pruning.

An MLP 40-500-500-10 (``MaskedDeepFFN``) is trained on MNIST-1D (generated locally with
``mnist1d.data.make_dataset()``), then pruned round by round: each round removes ``--rate`` of the remaining
hidden-layer weights (half that rate in the output layer), resets the survivors to their initial values and
retrains (Frankle & Carbin). The control prunes the same fractions at random (and, with ``--reinit``, keeps the
magnitude masks but re-initialises the weights). Prints a table and saves a plot.

Default (about 5-10 minutes on 2 cores, a line per training round): one seed, rate 0.4, 8 rounds (0 % .. about
98 % sparsity), 2000 steps.
Full run: ``--full`` (rate 0.2, 18 rounds, 6000 steps, 3 seeds, with the re-initialisation control).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from mnist1d.data import get_dataset_args, make_dataset

from deepstruct.pruning import PruningRound, density_report, iterative_magnitude_pruning
from deepstruct.sparse import MaskedDeepFFN

Data = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def load_mnist1d(seed: int) -> Data:
    """MNIST-1D generated locally (4000 training and 1000 test sequences of length 40)."""
    args = get_dataset_args()
    args.seed = seed
    data = make_dataset(args)
    as_float = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float32)  # noqa: E731
    as_long = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.long)  # noqa: E731
    return as_float(data["x"]), as_long(data["y"]), as_float(data["x_test"]), as_long(data["y_test"])


def trainer(data: Data, *, steps: int, batch: int, lr: float, seed: int) -> Callable[[torch.nn.Module], float]:
    """``train(model) -> test accuracy``: Adam on shuffled mini-batches; the same batches every call."""
    x, y, x_test, y_test = data

    def train(model: torch.nn.Module) -> float:
        gen = torch.Generator().manual_seed(seed)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        model.train()
        order = torch.randperm(len(x), generator=gen)
        pos = 0
        for _ in range(steps):
            if pos + batch > len(x):
                order, pos = torch.randperm(len(x), generator=gen), 0
            idx = order[pos:pos + batch]
            pos += batch
            opt.zero_grad()
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            return float((model(x_test).argmax(1) == y_test).float().mean())

    return train


def run(method: str, data: Data, args: argparse.Namespace, seed: int) -> list[PruningRound]:
    model = MaskedDeepFFN(40, 10, [500, 500], generator=torch.Generator().manual_seed(seed))
    trained = trainer(data, steps=args.steps, batch=args.batch, lr=args.lr, seed=seed)
    calls, started = [0], time.perf_counter()

    def train(model: torch.nn.Module) -> float:  # a line per training round: no silent minutes
        accuracy = trained(model)
        print(f"  seed {seed} {method}: round {calls[0]}/{args.rounds} trained, test accuracy {100 * accuracy:.1f} % "
              f"({time.perf_counter() - started:.0f} s)", flush=True)
        calls[0] += 1
        return accuracy

    control = {"magnitude": "rewind", "random": "random", "reinit": "reinit"}[method]
    generator = None if control == "rewind" else torch.Generator().manual_seed(10_000 + seed)
    history = iterative_magnitude_pruning(model, train, rounds=args.rounds, rate=args.rate,
                                          output_rate=args.rate / 2, control=control, generator=generator)
    if method == "magnitude" and seed == args.seed:
        print("density of the last magnitude ticket, per layer:",
              ", ".join(f"{r['layer']} {r['density']:.3f}" for r in density_report(model)))
    return history


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=0.4, help="fraction of remaining hidden weights pruned/round")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--steps", type=int, default=2000, help="training steps per round")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reinit", action="store_true", help="also run the random re-initialisation control")
    parser.add_argument("--full", action="store_true", help="rate 0.2, 18 rounds, 6000 steps, 3 seeds, --reinit")
    parser.add_argument("--plot", default="lottery_ticket.png", help="where to save the plot (PNG)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (small matrices: 1 is fastest)")
    args = parser.parse_args()
    if args.full:
        args.rate, args.rounds, args.steps, args.seeds, args.reinit = 0.2, 18, 6000, 3, True
    torch.set_num_threads(args.threads)

    data = load_mnist1d(seed=42)
    methods = ["magnitude", "random"] + (["reinit"] if args.reinit else [])
    start = time.perf_counter()
    results: dict[str, list[list[float]]] = {m: [] for m in methods}
    densities: list[float] = []
    for seed in range(args.seed, args.seed + args.seeds):
        for method in methods:
            history = run(method, data, args, seed)
            results[method].append([h.result for h in history])
            densities = [h.density for h in history]
            print(f"seed {seed} {method:9s} done ({time.perf_counter() - start:.0f} s)")

    means = {m: np.mean(np.asarray(v), axis=0) for m, v in results.items()}
    print(f"\nMNIST-1D, MLP 40-500-500-10, {args.seeds} seed(s), rate {args.rate}/round "
          f"(output layer {args.rate / 2}), {args.steps} steps/round; test accuracy")
    print(f"{'round':>5} {'sparsity':>9} " + " ".join(f"{m:>10}" for m in methods))
    for r, d in enumerate(densities):
        print(f"{r:>5} {100 * (1 - d):8.1f}% " + " ".join(f"{100 * means[m][r]:9.1f}%" for m in methods))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    sparsity = [100 * (1 - d) for d in densities]
    for m in methods:
        ax.plot(sparsity, 100 * means[m], marker="o", label={"magnitude": "magnitude (lottery ticket)",
                                                             "random": "random pruning",
                                                             "reinit": "magnitude mask, random re-init"}[m])
    ax.set_xlabel("sparsity (% of weights pruned)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("MNIST-1D, MLP 40-500-500-10")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.plot, dpi=120)
    print(f"plot saved to {args.plot}; total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
