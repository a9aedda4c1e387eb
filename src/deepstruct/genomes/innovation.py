"""``InnovationRegistry``: one vertex id per structural event across a population (homology across lineages).

Without a registry every genome numbers its new vertices with its own counter (``Genome.next_id``), so two
genomes of one population that both split an edge give the same id to unrelated vertices, and crossover by id
aligns noise. With one registry shared by the population, the same structural event gets the same id in
every genome: the split of edge ``(u, v)``, the duplicate of vertex ``v``, the vertex of an initialiser's slot
``k``. This is NEAT's innovation number, kept for the whole run (not reset each generation), and without its
fragility: a genome never holds one id twice (a second split of the same edge in one genome is a new event,
``("split", u, v)`` number 1), and ids are plain vertex ids, so they survive decoding, pruning and
re-encoding like every other id.

Use one registry from the initial population on (initialisers take ``registry=``); ids the registry hands
out are always at least the genome's own ``next_id``, so a genome's ids stay unique even when it also got
ids elsewhere. The registry is plain data (:meth:`InnovationRegistry.to_dict`, JSON-able) for checkpoints.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from deepstruct._validation import check_int, is_int
from deepstruct.genomes.genome import Genome, GenomeError

__all__ = ["InnovationRegistry", "Event"]

Event = tuple[Hashable, ...]
"""A structural event: a kind (str) and ints, e.g. ``("split", u, v)``, ``("duplicate", v)``, ``("init", k)``."""

_KINDS = frozenset({"split", "duplicate", "init", "free", "local"})


class InnovationRegistry:
    """The ids of structural events, shared by a population.

    Parameters
    ----------
    next_id : int
        The smallest id the registry hands out for a new event.

    Examples
    --------
    >>> a, b = Genome(2, 1, edges=[(0, 1), (1, 2)]), Genome(2, 1, edges=[(0, 1), (0, 2)])
    >>> registry = InnovationRegistry()
    >>> registry.vertex_id(a, ("split", 0, 1)), registry.vertex_id(b, ("split", 0, 1))
    (3, 3)
    >>> registry.vertex_id(b, ("split", 0, 2)), registry.vertex_id(a, ("split", 1, 2))
    (4, 5)
    >>> InnovationRegistry.from_dict(registry.to_dict()) == registry
    True
    """

    __slots__ = ("next_id", "_events")

    def __init__(self, next_id: int = 0) -> None:
        check_int("next_id", next_id, low=0, error=GenomeError)
        self.next_id = next_id
        self._events: dict[Event, int] = {}

    def __len__(self) -> int:
        return len(self._events)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, InnovationRegistry):
            return NotImplemented
        return self.next_id == other.next_id and self._events == other._events

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"InnovationRegistry(events={len(self._events)}, next_id={self.next_id})"

    def vertex_id(self, genome: Genome, event: Event) -> int:
        """The id of the vertex that ``event`` creates in ``genome`` (the genome's ``next_id`` is raised above it).

        The id this event already has in the population, unless ``genome`` holds that id already (it then
        takes the id of the event's next occurrence, ``event + (1,)``, ``event + (2,)``...); a new event gets a
        new id, at least ``genome.next_id``.
        """
        _check_event(event)
        n = 0
        while True:
            key = (*event, n)
            vid = self._events.get(key)
            if vid is None:
                vid = max(self.next_id, genome.next_id)
                self._events[key] = vid
                self.next_id = vid + 1
                break
            if vid not in genome.graph:
                break
            n += 1
        genome.next_id = max(genome.next_id, vid + 1)
        return vid

    def add_vertex(self, genome: Genome, event: Event, **attributes: Any) -> int:
        """Add the vertex of ``event`` to ``genome`` (with ``attributes``) and return its id."""
        vid = self.vertex_id(genome, event)
        genome.graph.add_node(vid, **attributes)
        return vid

    def observe(self, genome: Genome) -> None:
        """Raise the registry's ``next_id`` to the genome's (after ids were given out without the registry)."""
        self.next_id = max(self.next_id, genome.next_id)

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-able data: ``{"schema": ..., "next_id": n, "events": [[kind, *ints, occurrence, id], ...]}``."""
        return {"schema": "deepstruct.innovations", "version": 1, "next_id": self.next_id,
                "events": [[*key, vid] for key, vid in self._events.items()]}

    @classmethod
    def from_dict(cls, data: Any) -> InnovationRegistry:
        """Rebuild a registry from :meth:`to_dict` output; malformed data raises :class:`GenomeError`."""
        if not isinstance(data, dict) or data.get("schema") != "deepstruct.innovations":
            raise GenomeError("not a deepstruct innovation registry (schema 'deepstruct.innovations')")
        if data.get("version") != 1:
            raise GenomeError(f"unsupported innovation registry version {data.get('version')!r}")
        events = data.get("events")
        if not isinstance(events, list):
            raise GenomeError("an innovation registry needs a list 'events'")
        registry = cls(data.get("next_id"))  # type: ignore[arg-type]
        for k, entry in enumerate(events):
            if not isinstance(entry, list) or len(entry) < 3:
                raise GenomeError(f"events[{k}] must be a list [kind, ..., occurrence, id]")
            *key, vid = entry
            _check_event(tuple(key[:-1]), where=f"events[{k}]")
            if not is_int(key[-1]) or key[-1] < 0 or not is_int(vid) or not 0 <= vid < registry.next_id:
                raise GenomeError(f"events[{k}]: occurrence and id must be ints, the id below next_id")
            if tuple(key) in registry._events:
                raise GenomeError(f"events[{k}]: event {key!r} appears twice")
            registry._events[tuple(key)] = vid
        return registry


def _check_event(event: Any, where: str = "event") -> None:
    if (not isinstance(event, tuple) or not event or event[0] not in _KINDS
            or not all(is_int(x) for x in event[1:])):
        raise GenomeError(f"{where}: {event!r} is not a structural event (a kind in {sorted(_KINDS)} and ints)")
