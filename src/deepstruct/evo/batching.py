"""The batch plan: which requests of a generation train together in one tensor program.

The plan depends only on the requests (their genomes and the settings), never on the number of workers or on
what is cached, so a member's result — a function of its genome, its seed and its batch — is the same in a
serial run, on any number of Ray workers and after a resume. Requests are ordered by phenotype shape (depth,
then size, then key) and packed greedily, so that a batch pads its members only to the largest of similar
ones, and two bounds hold for every batch: at most ``members`` members (request x training repeat) and at most
``max_weights`` padded weights.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from deepstruct.evo.protocol import EvaluationRequest
from deepstruct.genomes import Genome
from deepstruct.graph import compute_layers

__all__ = ["plan_batches", "layer_widths", "padded_weights", "AUTO_MEMBERS"]

#: Members per batch when ``evaluator.batch = 0`` (auto): past this the throughput of one CPU thread gains little
#: (``benchmarks/bench_population.py``), and smaller batches keep several workers busy.
AUTO_MEMBERS = 24


def layer_widths(genome: Genome) -> list[int]:
    """The number of hidden vertices in each layer of the genome's phenotype (longest-path layers)."""
    g = genome.graph
    if g.number_of_nodes() == 0:
        return []
    layer = compute_layers(g._succ, g._pred, graph=g)
    counts = Counter(layer.values())
    return [counts[t] for t in range(max(counts) + 1)]


def padded_weights(shapes: Sequence[tuple[int, int, list[int]]]) -> int:
    """Weights a batch allocates when every member is padded to the widest layer of the batch at each depth
    and every layer may read the inputs and all earlier layers (an upper bound of the batched program's size).

    ``shapes`` holds ``(num_inputs, num_outputs, layer_widths)`` per member.
    """
    if not shapes:
        return 0
    depth = max(len(w) for _, _, w in shapes)
    widest = [max((w[t] if t < len(w) else 0) for _, _, w in shapes) for t in range(depth)]
    inputs = max(n for n, _, _ in shapes)
    outputs = max(m for _, m, _ in shapes)
    total, reads = 0, inputs
    for width in widest:
        total += width * reads
        reads += width
    total += outputs * reads
    return total * len(shapes)


def plan_batches(requests: Sequence[EvaluationRequest], members: int, max_weights: int) -> list[list[int]]:
    """Group request indices into batches.

    Parameters
    ----------
    requests : sequence of EvaluationRequest
        The requests of one generation (or one asynchronous wave).
    members : int
        Members per batch: ``1`` gives one request per batch (trained one member at a time), ``0`` the
        automatic size :data:`AUTO_MEMBERS`. A request's training repeats always share its batch.
    max_weights : int
        Bound of :func:`padded_weights` per batch (a request above it alone gets a batch of its own).

    Examples
    --------
    >>> from deepstruct.genomes import Genome
    >>> small = [EvaluationRequest(str(i), Genome(4, 2, edges=[(0, 1)]).to_dict(), i) for i in range(5)]
    >>> plan_batches(small, members=6, max_weights=10_000)  # 3 training seeds each: two requests per batch
    [[0, 1], [2, 3], [4]]
    """
    if not requests:
        return []
    seeds = requests[0].training.seeds
    if members == 1:
        return [[i] for i in range(len(requests))]
    cap = max(1, (members or AUTO_MEMBERS) // seeds)
    shapes = {}
    for i, request in enumerate(requests):
        try:
            genome = request.load_genome()
            shapes[i] = (genome.num_inputs, genome.num_outputs, layer_widths(genome))
        except ValueError:  # an invalid genome fails in its worker, with the reason; here it only needs a place
            shapes[i] = (0, 0, [])
    order = sorted(range(len(requests)),
                   key=lambda i: (len(shapes[i][2]), padded_weights([shapes[i]]), requests[i].key))
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        trial = current + [i]
        fits = padded_weights([shapes[j] for j in trial for _ in range(seeds)]) <= max_weights
        if current and (len(trial) > cap or not fits):
            batches.append(current)
            trial = [i]
        current = trial
    batches.append(current)
    return batches
