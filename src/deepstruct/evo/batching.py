"""The batch plan: which requests of a generation train together in one tensor program.

The plan depends only on the requests (their genomes and the settings), never on the number of workers or on
what is cached, so a member's result — a function of its genome, its seed and its batch — is the same in a
serial run, on any number of Ray workers and after a resume. A request's size is the exact
:class:`~deepstruct.batch_plan.MemberShape` of its phenotype (:func:`deepstruct.genomes.shape.member_shape`,
from the genome alone), and the requests are packed by :func:`deepstruct.batch_plan.plan_batches` (the planner
of :class:`~deepstruct.sparse.population.PopulationDAN`, one source of truth): ordered by shape (depth, then
size), then filled greedily, so that a batch pads its members only to the largest of similar ones and two bounds
hold for every batch: at most ``members`` members (request x training repeat) and at most ``max_weights``
padded weights (:func:`deepstruct.batch_plan.padded_weights` of its members, exactly what the batch allocates).
"""

from __future__ import annotations

from collections.abc import Sequence

from deepstruct import batch_plan
from deepstruct.batch_plan import MemberShape
from deepstruct.evo.protocol import EvaluationRequest
from deepstruct.genomes.shape import check_weights, member_shape

__all__ = ["plan_batches", "request_shape", "AUTO_MEMBERS"]

#: Members per batch when ``evaluator.batch = 0`` (auto). One CPU thread gains little past it: on the digits
#: benchmark 24 members train 8.2x faster than one by one and 72 members 10.2x (``benchmarks/bench_population.py``),
#: and a whole serial run 7.1x against 7.3x (``benchmarks/bench_evolve.py``); smaller batches keep several Ray
#: workers busy and the asynchronous steady state's waves small.
AUTO_MEMBERS = 24


def request_shape(request: EvaluationRequest) -> MemberShape | None:
    """The :class:`~deepstruct.batch_plan.MemberShape` of one member of ``request`` (every training repeat has
    it): the one the request carries, else computed from its genome (loaded and validated), or ``None`` when the
    genome is invalid (it fails in its worker, with the reason)."""
    if request.shape is not None:
        return request.shape
    try:
        genome = request.load_genome()  # validated against the request's limits
        shape = member_shape(genome, validate=False)
        check_weights(genome, shape.weights)
        return shape
    except ValueError:
        return None


def plan_batches(requests: Sequence[EvaluationRequest], members: int, max_weights: int) -> list[list[int]]:
    """Group request indices into batches.

    Parameters
    ----------
    requests : sequence of EvaluationRequest
        The requests of one generation (or one asynchronous wave).
    members : int
        Members per batch: ``1`` gives one request per batch (trained one member at a time), ``0`` the
        automatic size :data:`AUTO_MEMBERS`. A request's training repeats always share its batch (a request
        with more repeats than ``members`` gets a batch of its own).
    max_weights : int
        Bound of the padded weights of a batch: :func:`deepstruct.batch_plan.padded_weights` of its requests'
        shapes, each repeated as many times as it has training repeats (``training.seeds``, or one for a
        re-evaluation of a survivor; a request above the bound alone gets a batch of its own).

    Returns
    -------
    list of list of int
        Indices into ``requests``; every index occurs exactly once. Requests with an invalid genome come first,
        in batches of their own; within a batch the requests are in the order of their keys, so the plan does
        not depend on the order of ``requests``. Requests of different training schedules
        (:attr:`~deepstruct.evo.protocol.EvaluationRequest.schedule`) or numbers of training repeats never share a
        batch, nor, with successive halving, re-evaluations and first evaluations.

    Examples
    --------
    >>> from deepstruct.genomes import Genome
    >>> from deepstruct.evo.config import TrainingConfig
    >>> three = TrainingConfig(seeds=3)
    >>> small = [EvaluationRequest(str(i), Genome(4, 2, edges=[(0, 1)]).to_dict(), i, three) for i in range(5)]
    >>> plan_batches(small, members=6, max_weights=10_000)  # 3 training seeds each: two requests per batch
    [[0, 1], [2, 3], [4]]
    """
    if not requests:
        return []
    if members == 1:
        return [[i] for i in range(len(requests))]
    size = members or AUTO_MEMBERS
    by_key = sorted(range(len(requests)), key=lambda i: (requests[i].key, requests[i].repeats))
    shapes = {i: request_shape(requests[i]) for i in by_key}
    invalid = [i for i in by_key if shapes[i] is None]
    valid = [i for i in by_key if shapes[i] is not None]
    per_batch = max(1, size // max(len(requests[i].repeats) for i in by_key))
    batches = [invalid[k: k + per_batch] for k in range(0, len(invalid), per_batch)]
    for kind in sorted({_kind(requests[i]) for i in valid}):  # one schedule per batch: none waits
        group = [i for i in valid if _kind(requests[i]) == kind]
        plan = batch_plan.plan_batches([shapes[i] for i in group], size, max_weights, repeats=kind[1])
        batches += [[group[j] for j in batch] for batch in plan]
    return batches


def _kind(request: EvaluationRequest) -> tuple[tuple[int, float, float], int, bool]:
    """What requests sharing a batch have in common: the schedule, the number of repeats, and with successive
    halving whether they are re-evaluations (those train their whole schedule, so they are not ranked with
    first evaluations)."""
    return request.schedule, len(request.repeats), request.reevaluates and request.training.halving_epoch > 0
