"""Training throughput: one genome at a time (``train_one``) vs many members as one tensor program (``train_members``).

    python benchmarks/bench_population.py [--quick] [--device cuda] [--threads 1] [--evaluations 72]

The default digits setup (``TaskConfig()``, ``TrainingConfig()``: 20 epochs, batch 64, lr 0.02) and genomes like
the default run's: ``random_layered(64, 10, n, num_layers=1)`` with ``n`` in 8..24, a quarter of them mutated into
deeper ones. One evaluation = decode (seeded) + train + validation accuracy and loss. Printed side by side:

1. evaluations per second one by one and batched (members per batch ``K`` = 8, 24, 72, planned by
   ``plan_batches``), with the ratio to one by one; ``--threads`` torch threads (default 1);
2. memory per member: the stacked state (weights, masks, biases, gradients, Adam's two moments) and the
   activations of one step, from tensor sizes, and the process's peak RSS;
3. ``--device cuda``: the batched figures on the GPU (skipped with a message where there is none).

Target: batched >= 8x the evaluations per second of one by one, on one CPU thread, at some ``K``.
"""

from __future__ import annotations

import argparse
import resource
import time
from typing import Any

import numpy as np
import torch

from deepstruct import operators
from deepstruct.evo.config import TaskConfig, TrainingConfig
from deepstruct.evo.tasks import load_task
from deepstruct.evo.training import evaluate_members, train_members, train_one
from deepstruct.genomes import INITIALISERS, Genome
from deepstruct.genomes.phenotype import decode
from deepstruct.sparse.population import PopulationDAN, plan_batches

#: Padded weights per member that a batch may allocate (the plan's memory cap; the default genomes have ~1300).
BUDGET_PER_MEMBER = 3000


def population(count: int, seed: int = 0) -> list[Genome]:
    """Genomes like the default run's: one layer of 8..24 vertices; every fourth mutated into a deeper one."""
    rng = np.random.default_rng(seed)
    genomes = []
    for i in range(count):
        genome = INITIALISERS["random_layered"](64, 10, int(rng.integers(8, 25)), rng=rng, num_layers=1)
        if i % 4 == 3:
            for _ in range(6):
                operators.mut_add_vertex(genome, rng=rng)
                operators.mut_add_edge(genome, rng=rng)
        genomes.append(genome)
    return genomes


def one_by_one(genomes: list[Genome], data: dict[str, torch.Tensor], config: TrainingConfig) -> float:
    """Seconds to evaluate every genome alone (decode, train, validate)."""
    start = time.perf_counter()
    for seed, genome in enumerate(genomes):
        model = decode(genome, generator=torch.Generator().manual_seed(seed))
        train_one(model, data["x_train"], data["y_train"], config, seed, time.monotonic() + 3600)
        with torch.no_grad():
            logits = model(data["x_val"])
            float((logits.argmax(1) == data["y_val"]).float().mean())
            float(torch.nn.functional.cross_entropy(logits, data["y_val"]))
    return time.perf_counter() - start


def batched(genomes: list[Genome], data: dict[str, torch.Tensor], config: TrainingConfig, members: int,
            device: torch.device) -> tuple[float, list[list[int]]]:
    """Seconds to evaluate every genome in batches of ``members`` (decode, plan, train, validate)."""
    start = time.perf_counter()
    models = [decode(g, generator=torch.Generator().manual_seed(s)) for s, g in enumerate(genomes)]
    plan = plan_batches(models, members, members * BUDGET_PER_MEMBER)
    for batch in plan:
        chosen = [models[i] for i in batch]
        reasons = train_members(chosen, batch, data["x_train"], data["y_train"], config,
                                deadline=time.monotonic() + 3600, device=device)
        if any(reasons):
            raise RuntimeError(f"a member failed: {reasons}")
        evaluate_members(PopulationDAN.from_models(chosen, device=device), data["x_val"].to(device),
                         data["y_val"].to(device))
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, plan


def state_bytes(models: list[Any], batch_size: int) -> tuple[float, float]:
    """Bytes per member of the stacked state (``flat``: weights, biases and norms, with its gradient, Adam's two
    moments, ``mask`` and ``live``: six tensors of its shape) and of one step's activations (pre- and
    post-activation of every padded layer, for ``batch_size`` samples)."""
    shapes = PopulationDAN.from_models(models, device="meta")
    element = shapes.flat.element_size()
    state = 6 * shapes.flat.numel() * element
    units = sum(shapes.layout.rows)
    activations = 2 * units * batch_size * len(models) * element
    return state / len(models), activations / len(models)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 epochs and fewer evaluations")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--evaluations", type=int, default=144, help="evaluations of each batched measurement")
    parser.add_argument("--single", type=int, default=16, help="evaluations of the one-by-one measurement")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = TrainingConfig(epochs=3) if args.quick else TrainingConfig()
    evaluations = 72 if args.quick else args.evaluations
    task = load_task(TaskConfig())
    data = {k: torch.from_numpy(v) for k, v in task.arrays().items()}
    genomes = population(evaluations)
    print(f"digits: {len(task.x_train)} training samples; {config.epochs} epochs, batch {config.batch_size}, "
          f"lr {config.learning_rate}; {evaluations} genomes ({sum(g.num_vertices for g in genomes) / evaluations:.1f}"
          f" vertices on average); torch threads {torch.get_num_threads()}")
    one_by_one(genomes[:2], data, TrainingConfig(epochs=1))  # warm-up of both paths
    batched(genomes[:4], data, TrainingConfig(epochs=1), 4, torch.device("cpu"))
    single = min(one_by_one(genomes[: args.single], data, config) for _ in range(2)) / args.single
    print(f"\n{'path':<22}{'eval/s':>10}{'ms/eval':>10}{'ratio':>8}{'batches':>9}{'state B/member':>16}"
          f"{'activ. B/member':>17}")
    print(f"{'one by one':<22}{1 / single:>10.2f}{single * 1e3:>10.1f}{1.0:>8.1f}")
    devices = [torch.device("cpu")]
    if args.device == "cuda":
        if torch.cuda.is_available():
            devices.append(torch.device("cuda"))
            batched(genomes[:4], data, TrainingConfig(epochs=1), 4, devices[-1])
        else:
            print("(--device cuda: no CUDA device here; GPU figures skipped)")
    for device in devices:
        for members in (8, 24, 72):
            seconds, plan = min((batched(genomes, data, config, members, device) for _ in range(2)),
                                key=lambda r: r[0])
            per = seconds / evaluations
            models = [decode(genomes[i]) for i in plan[0]]
            state, activations = state_bytes(models, config.batch_size)
            print(f"{f'batched K={members} ({device.type})':<22}{1 / per:>10.2f}{per * 1e3:>10.1f}"
                  f"{single / per:>8.1f}{len(plan):>9}{state:>16.0f}{activations:>17.0f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of this process: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
