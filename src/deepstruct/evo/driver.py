"""The driver side of evaluation: individuals become requests, requests become batches, results come back.

A :class:`Driver` joins a run's configuration, its :class:`~deepstruct.evo.store.RunStore` (the fitness cache
and the journal) and an :class:`~deepstruct.evo.evaluators.Evaluator`. It gives every individual its key (the
canonical hash), its request and its seed, plans the batches (:mod:`deepstruct.evo.batching`), journals every
new result as it arrives and gives the individuals their fitnesses. Results depend only on a genome, its seed
(from the run seed and the genome's key) and its batch (from the generation's requests), so the cache may
answer for any earlier evaluation of an isomorphic genome.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from deepstruct.evo.batching import plan_batches
from deepstruct.evo.config import RunConfig
from deepstruct.evo.evaluators import Evaluator
from deepstruct.evo.individual import GenomeForms, Individual
from deepstruct.evo.protocol import (
    EvaluationRequest,
    EvaluationResult,
    genome_key,
    individual_seed,
    inherits_training,
)
from deepstruct.evo.repeats import ranked
from deepstruct.evo.store import RunStore
from deepstruct.genomes import Genome
from deepstruct.genomes.shape import MemberShape, check_weights, member_shape

__all__ = ["Driver"]


class Driver:
    """Requests, batch plans, the cache and the journal of one run's evaluations (see the module docstring).

    Parameters
    ----------
    config : RunConfig
        The run's configuration (seed, training, limits, evaluator batch settings).
    store : RunStore
        The open store of the run directory.
    evaluator : Evaluator
        Where the batches train.
    """

    def __init__(self, config: RunConfig, store: RunStore, evaluator: Evaluator) -> None:
        self.config, self.store, self.evaluator = config, store, evaluator
        self.limits = config.genome.limits()
        self._keys: dict[int, tuple[Genome, str]] = {}  # id(genome) -> (genome, key): one hash per genome

    def key(self, genome: Genome) -> str:
        """The cache key of ``genome`` (:func:`~deepstruct.evo.protocol.genome_key`), hashed once: the strategy's
        ``known`` and the request of the same child share it until :meth:`forget_keys`."""
        hit = self._keys.get(id(genome))
        if hit is None or hit[0] is not genome:
            hit = self._keys[id(genome)] = (genome, genome_key(genome))
        return hit[1]

    def forget_keys(self) -> None:
        """Drop the remembered keys (after the requests of a generation or an asynchronous ask)."""
        self._keys.clear()

    def request(self, ind: Individual) -> EvaluationRequest:
        """The evaluation request of an individual (its key set on the way), with its member shape when the
        batch planner needs one: computed here from the genome this process holds (valid: variation and
        initialisers validate), so the planner does not load and validate the genome again."""
        genome = ind.genome
        ind.key = self.key(genome)
        training = self.config.training
        return EvaluationRequest(ind.key, ind.genome_dict(), individual_seed(self.config.seed, ind.key), training,
                                 self.limits, inherits_training(genome, training), self._shape(genome))

    def _shape(self, genome: Genome) -> MemberShape | None:
        """The member shape of ``genome`` (``None`` with one request per batch, or when the planner should find
        the problem itself)."""
        if self.config.evaluator.batch == 1:
            return None
        try:
            shape = member_shape(genome, validate=False)
            check_weights(genome, shape.weights)
        except ValueError:
            return None
        return shape

    def plan(self, requests: Sequence[EvaluationRequest]) -> list[list[EvaluationRequest]]:
        """The batches of ``requests`` (:func:`deepstruct.evo.batching.plan_batches` with the evaluator config)."""
        ev = self.config.evaluator
        return [[requests[i] for i in batch] for batch in plan_batches(requests, ev.batch, ev.max_batch_weights)]

    def assign(self, ind: Individual, result: EvaluationResult) -> None:
        """Give ``ind`` the fitness, reason and statistics of ``result`` (and its re-encoded genome, if any)."""
        ind.fitness.values = result.values
        ind.reason = result.reason
        ind.stats = dict(result.stats)
        if result.genome is not None:  # made by the worker from a valid genome (encode validates): trusted,
            ind.forms = GenomeForms(data=result.genome, limits=self.limits)  # and built only when a strategy reads it

    def known(self, generation: int) -> Callable[[Genome], bool]:
        """``known(genome)``: whether an isomorphic genome was evaluated in a generation before ``generation``."""
        return lambda genome: self.store.known_before(self.key(genome), generation)

    def evaluate(self, individuals: Sequence[Individual], generation: int, survivors: Sequence[Individual] = (),
                 holders: Sequence[Individual] = ()) -> dict[str, int]:
        """Evaluate the individuals without a valid fitness (cache first) and re-evaluate the best ``survivors``
        (:meth:`reevaluations`), journalling each new result as it arrives with ``generation``; the generation's
        counts (``nevals``, ``cached``, ``penalties``, and ``reevals`` where ``algorithm.reevaluate`` is set).

        The batch plan is made from every request of the generation that was not evaluated in an earlier
        generation and from its re-evaluations, so a generation resumed after a crash trains the same batches;
        members journalled before the crash keep their journalled result. Every individual of ``individuals``,
        ``survivors`` and ``holders`` (the hall of fame) that holds a re-evaluated key gets its merged result.
        """
        todo = [ind for ind in individuals if not ind.fitness.valid]
        requests: dict[str, EvaluationRequest] = {}
        cached = 0
        for ind in todo:
            request = self.request(ind)
            if self.store.known_before(request.key, generation):
                cached += 1
            else:
                requests.setdefault(request.key, request)
        again = self.reevaluations(survivors, generation)  # keys known before: none is among ``requests``
        self.forget_keys()
        pending = {**requests, **{r.key: r for r in again}}
        batches = [b for b in self.plan(list(pending.values()))  # a batch wholly journalled is done
                   if any(not self.store.holds(r.key, r.repeats) for r in b)]

        def arrived(result: EvaluationResult) -> None:
            request = pending[result.key]
            if not self.store.holds(request.key, request.repeats):
                self.store.record_result(generation, request, self._part(request, result))

        self.evaluator.evaluate(batches, arrived)
        for ind in todo:
            self.assign(ind, self.store.result(ind.key, generation))
        again_keys = {r.key for r in again}
        for ind in [*individuals, *survivors, *holders]:
            if ind.key in again_keys:
                self.refresh(ind, self.store.result(ind.key, generation))
        counts = {"nevals": len(requests), "cached": cached,
                  "penalties": sum(ind.reason is not None for ind in individuals)}
        return {**counts, "reevals": len(again)} if self.config.algorithm.reevaluate else counts

    def reevaluations(self, survivors: Sequence[Individual], generation: int) -> list[EvaluationRequest]:
        """The re-evaluation requests of ``generation``: the next training repeat of each of the
        ``algorithm.reevaluate`` best distinct keys among ``survivors`` (:func:`~deepstruct.evo.repeats.ranked`)
        without a penalty and with fewer than ``algorithm.max_repeats`` repeats journalled before ``generation``
        (so that a generation replayed on resume asks for the same ones)."""
        count, cap = self.config.algorithm.reevaluate, self.config.algorithm.max_repeats
        chosen: dict[str, EvaluationRequest] = {}
        for ind in ranked(survivors, self.config.training.objectives) if count else ():
            if len(chosen) == count:
                break
            if ind.key is None or ind.key in chosen or ind.reason is not None or ind.key not in self.store.cache:
                continue
            done = self.store.cache[ind.key].repeats(before=generation)
            if done and len(done) < cap:
                request = self._again(ind, done[-1] + 1)
                if request is not None:
                    chosen[ind.key] = request
        return list(chosen.values())

    def _again(self, ind: Individual, repeat: int) -> EvaluationRequest | None:
        """The request of training repeat ``repeat`` of ``ind``: the genome its first evaluation trained (with the
        weights it inherited), its key and seed, so its schedule too; ``None`` when that genome is unknown, or its
        repeats cannot be merged (a user's fitness function that returned neither the genome, for a genome the
        individual no longer holds, nor the statistics of each of several repeats)."""
        assert ind.key is not None
        first = self.store.result(ind.key)
        data = first.evaluated
        if data is None and first.genome is None:  # the individual still holds the genome that was trained
            data = ind.genome_dict()
        if data is None or (len(first.repeats) > 1 and not first.repeat_stats):
            return None
        genome = Genome.from_dict(data, limits=self.limits, validate=False)  # checked with its key (store.result)
        training = self.config.training
        return EvaluationRequest(ind.key, data, individual_seed(self.config.seed, ind.key), training, self.limits,
                                 inherits_training(genome, training), self._shape(genome), (repeat,))

    @staticmethod
    def _part(request: EvaluationRequest, result: EvaluationResult) -> EvaluationResult:
        """``result`` as the journal keeps it: of the request's repeats (a fitness function that says none trained
        them; one that trained others gets a penalty), without the genome a re-evaluation sends (the first
        evaluation's result holds it)."""
        if result.repeats and result.repeats != request.repeats:
            result = EvaluationResult.penalty(request, request.training.objectives, f"the fitness function trained "
                                              f"repeats {list(result.repeats)}, not {list(request.repeats)}")
        elif not result.repeats:
            result = dataclasses.replace(result, repeats=request.repeats)
        return dataclasses.replace(result, evaluated=None) if request.reevaluates else result

    @staticmethod
    def refresh(ind: Individual, result: EvaluationResult) -> None:
        """Give ``ind`` the fitness, reason and statistics of ``result`` (more repeats of its key), keeping its
        genome (in Lamarckian mode repeat 0's re-encoded network)."""
        ind.fitness.values = result.values
        ind.reason = result.reason
        ind.stats = dict(result.stats)

    def journal_position(self, generation: int) -> int:
        """Where the run stands in its journal after ``generation``: the leading records that are results of it or
        of a generation before it. That is every record in a run that was not interrupted, but a resumed run that
        replays a generation whose checkpoint was lost (killed while it was written in the background) has
        records of later generations (or asynchronous asks) loaded already."""
        records = self.store.records
        for index, record in enumerate(records):
            if record["type"] != "result" or record["gen"] > generation:
                return index
        return len(records)
