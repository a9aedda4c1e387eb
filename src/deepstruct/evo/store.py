"""The store of a run directory: the lock, the fitness cache, the journal and the checkpoint.

- ``journal.jsonl`` gets one line per event as it happens: ``{"type": "result", ...}`` for every evaluation
  (key, seed, generation, the evaluated genome and its :class:`~deepstruct.evo.protocol.EvaluationResult`; the
  genomes in the compact, exact form of :mod:`deepstruct.evo.journal_codec`), and,
  in asynchronous runs, ``{"type": "ask", "keys": [...]}`` and ``{"type": "tell", "key": ...}`` in the order they
  happened, so a resumed run replays them. A torn last line (a kill mid-write) is dropped.
- ``checkpoint.json`` is the whole state after a generation (population, hall of fame, logbook, RNG state,
  config, innovation registry), written atomically on a background thread.
- The cache (key -> result and the generation it came from, with the results of later training repeats of a
  re-evaluated survivor, each with its generation) is rebuilt from the journal, so no evaluation that finished
  is ever lost or repeated. A key's result as of a generation merges the repeats journalled up to it
  (:mod:`deepstruct.evo.repeats`), so a generation replayed on resume sees what it saw the first time.

Both files are sealed (:func:`deepstruct.evo.persistence.sealed_json`), and a resume checks that they agree
before it goes on (:meth:`RunStore.check_checkpoint`): the journal holds every result the checkpoint counts,
results of later generations come after its position, and its individuals' fitnesses are the journalled ones. A
journalled result is checked against its genome when it is first used. Whatever is wrong ends with a
:class:`ConfigError` naming the file, never with a run that goes on from wrong state.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepstruct._validation import is_int
from deepstruct.evo import persistence as files
from deepstruct.evo.config import ConfigError, RunConfig, config_to_toml
from deepstruct.evo.journal_codec import pack_result, unpack_result
from deepstruct.evo.protocol import EvaluationRequest, EvaluationResult, genome_key
from deepstruct.evo.repeats import merge
from deepstruct.evo.state import CHECKPOINT_SCHEMA, CHECKPOINT_VERSION, validate_checkpoint
from deepstruct.genomes import Genome, GenomeError

__all__ = ["RunStore", "CachedResult", "CHECKPOINT_SCHEMA", "CHECKPOINT_VERSION", "validate_checkpoint",
           "lock_run_dir"]

_RECORD_FIELDS = {"result": {"type", "gen", "key", "seed", "result"}, "ask": {"type", "keys"}, "tell": {"type", "key"}}


@dataclass(frozen=True)
class CachedResult:
    """A journalled result and the generation (or asynchronous cycle) it was evaluated in, with the results of
    its re-evaluations (``algorithm.reevaluate``), each with its generation, in the order they were journalled."""

    result: EvaluationResult
    generation: int
    parts: tuple[tuple[int, EvaluationResult], ...] = ()

    def repeats(self, before: int | None = None) -> tuple[int, ...]:
        """The training repeats journalled (in generations before ``before``, if given), increasing."""
        results = [(self.generation, self.result), *self.parts]
        return tuple(sorted(r for gen, result in results if before is None or gen < before for r in result.repeats))

    def merged(self, objectives: tuple[str, ...], upto: int | None = None) -> EvaluationResult:
        """The result over every repeat journalled (in generations up to ``upto``, if given)."""
        later = [result for gen, result in self.parts if upto is None or gen <= upto]
        return merge([self.result, *later], objectives) if later else self.result

    def adding(self, generation: int, result: EvaluationResult) -> CachedResult:
        """This entry with the re-evaluation ``result`` (of repeats not journalled yet: ``ValueError`` otherwise)."""
        if not result.repeats or set(result.repeats) & set(self.repeats()) or generation < self.generation:
            raise ValueError(f"a second result of {result.key} for repeats {list(result.repeats)} (a run journals "
                             "every training repeat of a key once, after its first evaluation)")
        return CachedResult(self.result, self.generation, (*self.parts, (generation, result)))


class RunStore:
    """Files of one run directory. Use as a context manager: it takes the directory's lock first (a second
    process gets a :class:`ConfigError`), removes a checkpoint write cut short by a kill, writes the config once
    and opens the journal; leaving it waits for the last checkpoint write and closes everything."""

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self.cache: dict[str, CachedResult] = {}
        self.records: list[dict[str, Any]] = []  # every journal record, in order (an asynchronous run replays them)
        self.config: RunConfig | None = None
        self._unchecked: set[str] = set()  # keys read from the journal, not yet checked against their genome
        self._journal: files.Journal | None = None
        self._writer = files.BackgroundWriter()
        self._lock: Any = None

    # -- opening ---------------------------------------------------------------------------------------------
    def open(self, config: RunConfig, checkpoint: dict[str, Any] | None = None) -> RunStore:
        """Lock the directory, write the config once, read the journal (and check it against ``checkpoint``, the
        one a resumed run starts from), open the journal for appending."""
        self.config = config
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._lock = lock_run_dir(self.run_dir)  # before anything in the directory changes: a live run keeps its files
        try:
            for stale in self.run_dir.glob(".*.tmp"):
                stale.unlink(missing_ok=True)
            config_file = self.run_dir / files.CONFIG
            if not config_file.exists():  # config.toml first: config.json marks a run directory
                from deepstruct.safe_files import UnsafeFileError, write_inside

                try:  # never through a symlink planted in the directory
                    with files.naming(self.run_dir / "config.toml"):
                        write_inside(self.run_dir, "config.toml", config_to_toml(config).encode("utf-8"))
                except UnsafeFileError as exc:
                    raise ConfigError(str(exc)) from None
                files.write_json_atomic(config_file, config.to_dict())
            self.load_journal()
            if checkpoint is not None:
                self.check_checkpoint(checkpoint)
            start = checkpoint.get("journal_position", 0) if checkpoint is not None else 0
            for record in self.records[start:]:  # results no checkpoint counts yet: checked now, not on use
                if record["type"] == "result":
                    self.result(record["key"])
            self._journal = files.Journal(self.run_dir / files.JOURNAL, seal=True)
        except BaseException:
            self.close()
            raise
        return self

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Wait for the last checkpoint write, close the journal, release the lock (always, whatever fails)."""
        journal, lock = self._journal, self._lock
        self._journal = self._lock = None
        try:
            self._writer.wait()
        finally:
            try:
                if journal is not None:
                    journal.close()
            finally:
                if lock is not None:
                    lock.close()

    # -- the journal -------------------------------------------------------------------------------------------
    def load_journal(self) -> None:
        """Rebuild the cache and the event list from ``journal.jsonl`` (version-1 lines have no ``type``).

        Every line is checked: its seal, its fields and their types, and that no training repeat of a key has two
        results (a run journals a key once, then each re-evaluation of it)."""
        path = self.run_dir / files.JOURNAL
        self.cache.clear()
        self.records.clear()
        self._unchecked.clear()
        try:
            lines = files.read_journal(path, sealed=True)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        objectives = len(self.config.training.objectives) if self.config is not None else None
        seeds = self.config.training.seeds if self.config is not None else None  # results without "repeats"
        for number, record in enumerate(lines, start=1):
            kind = record.get("type", "result") if isinstance(record, dict) else None
            try:
                if kind not in _RECORD_FIELDS:
                    raise ValueError(f"unknown record type {str(kind)[:40]!r}")
                unknown = set(record) - _RECORD_FIELDS[kind]
                if unknown:
                    raise ValueError(f"unknown field {sorted(unknown)[0][:40]!r}")
                if kind == "result":
                    key, gen, data = record["key"], record["gen"], unpack_result(record["result"])
                    if not isinstance(key, str) or not is_int(gen) or gen < 0:
                        raise TypeError("'key' must be a string and 'gen' an int >= 0")
                    if isinstance(data, dict) and data.get("key", key) != key:
                        raise ValueError(f"the result's key {str(data['key'])[:40]!r} is not the line's {key!r}")
                    result = EvaluationResult.from_dict(data, key=key, seeds=seeds)
                    if objectives is not None and len(result.values) != objectives:
                        raise ValueError(f"{len(result.values)} objective values, the run has {objectives}")
                    self._cache(key, gen, result)
                    record = {"type": "result", "key": key, "gen": gen}
                elif kind == "ask":
                    if not isinstance(record["keys"], list) or not all(isinstance(k, str) for k in record["keys"]):
                        raise TypeError("'keys' must be a list of strings")
                elif not isinstance(record["key"], str):
                    raise TypeError("'key' must be a string")
            except (KeyError, TypeError, ValueError) as exc:
                raise ConfigError(f"{path}: line {number} is not a journal record ({exc})") from None
            self.records.append(record)

    def check_checkpoint(self, data: dict[str, Any]) -> None:
        """Refuse a checkpoint (validated) that disagrees with the journal just read: it counts results the
        journal lacks, a result of a generation after it sits before its position (or one of a generation it
        covers after it), or an individual's fitness is not the journalled result of its key."""
        where = f"{self.run_dir / files.CHECKPOINT} and {self.run_dir / files.JOURNAL}"
        generation, position = data["generation"], data.get("journal_position")
        if position is not None:
            if position > len(self.records):
                raise ConfigError(f"{where} disagree: the checkpoint counts {position} journal records, the journal "
                                  f"holds {len(self.records)} (lines are missing)")
            results = [r["key"] for r in self.records[:position] if r["type"] == "result"]
            if len(results) != data["evaluations"]:
                raise ConfigError(f"{where} disagree: the checkpoint counts {data['evaluations']} evaluations, the "
                                  f"journal holds {len(results)} results before its position {position}")
            for index, record in enumerate(self.records):
                if record["type"] == "result" and (record["gen"] <= generation) != (index < position):
                    raise ConfigError(f"{where} disagree: the result of {record['key']} (generation "
                                      f"{record['gen']}) is on the wrong side of the checkpoint of generation "
                                      f"{generation}")
        for entry in [*data["strategy"]["population"], *data["hall_of_fame"]]:
            key, values = entry.get("key"), entry.get("values")
            if key is None or values is None:
                continue
            hit = self.cache.get(key) if isinstance(key, str) else None
            found = None if hit is None else list(hit.merged(self.objectives(), generation).values)
            if found != values:
                raise ConfigError(f"{where} disagree: the checkpoint gives {str(key)[:40]} the fitness "
                                  f"{str(values)[:60]}, the journal {found or 'none'}")

    def objectives(self) -> tuple[str, ...]:
        """The run's objectives (``accuracy`` before a configuration is known)."""
        return self.config.training.objectives if self.config is not None else ("accuracy",)

    def _cache(self, key: str, generation: int, result: EvaluationResult) -> None:
        """Cache ``result`` of ``generation``: the first of ``key``, or a re-evaluation of new repeats."""
        hit = self.cache.get(key)
        if hit is None:
            self.cache[key] = CachedResult(result, generation)
            self._unchecked.add(key)
        else:
            self.cache[key] = hit.adding(generation, result)

    def holds(self, key: str, repeats: tuple[int, ...]) -> bool:
        """Whether every one of the training ``repeats`` of ``key`` has a journalled result."""
        hit = self.cache.get(key)
        return hit is not None and set(repeats) <= set(hit.repeats())

    def result(self, key: str, generation: int | None = None) -> EvaluationResult:
        """The cached result of ``key``, over the repeats journalled in generations up to ``generation`` (all:
        ``None``); the first use of a result read from the journal checks that it belongs to its key (the
        evaluated genome hashes to it, a re-encoded genome loads)."""
        entry = self.cache[key]
        hit = entry.result
        if key in self._unchecked:
            limits = self.config.genome.limits() if self.config is not None else None
            try:
                if hit.evaluated is not None and genome_key(Genome.from_dict(hit.evaluated, limits=limits)) != key:
                    raise ValueError("the evaluated genome has another key")
                if hit.genome is not None:
                    Genome.from_dict(hit.genome, limits=limits)
            except (GenomeError, ValueError, TypeError, KeyError) as exc:
                raise ConfigError(f"{self.run_dir / files.JOURNAL}: the result of {key} does not belong to it "
                                  f"({exc}): a damaged or edited journal") from None
            self._unchecked.discard(key)
        return entry.merged(self.objectives(), generation)

    def record_result(self, generation: int, request: EvaluationRequest, result: EvaluationResult) -> None:
        """Journal a result (durable before this returns, against a kill) and cache it (a result of a key cached
        already must be of new training repeats: a re-evaluation)."""
        assert self._journal is not None, "the store is not open"
        hit = self.cache.get(result.key)
        entry = CachedResult(result, generation) if hit is None else hit.adding(generation, result)
        self._journal.append({"type": "result", "gen": generation, "key": result.key, "seed": request.seed,
                              "result": pack_result(result.to_dict())})  # genomes packed: evo/journal_codec.py
        self.cache[result.key] = entry
        self.records.append({"type": "result", "key": result.key, "gen": generation})

    def record_event(self, kind: str, **fields: Any) -> None:
        """Journal an ``ask`` or ``tell`` of an asynchronous run."""
        assert self._journal is not None, "the store is not open"
        record = {"type": kind, **fields}
        self._journal.append(record)
        self.records.append(record)

    def known_before(self, key: str, generation: int) -> bool:
        """Whether ``key`` was evaluated in a generation before ``generation`` (a generation cut short by a crash
        does not count, so that a resumed run asks for the same offspring)."""
        hit = self.cache.get(key)
        return hit is not None and hit.generation < generation

    # -- the checkpoint ----------------------------------------------------------------------------------------
    def save_checkpoint(self, data: dict[str, Any]) -> None:
        """Write the checkpoint atomically on a background thread (the next generation does not wait for it),
        after the journal lines it counts are durable (so a power loss never leaves a checkpoint ahead of its
        journal)."""
        if self._journal is not None:
            self._journal.sync()
        self._writer.submit(self.run_dir / files.CHECKPOINT, {"schema": CHECKPOINT_SCHEMA,
                                                               "version": CHECKPOINT_VERSION, **data}, seal=True)

    def read_checkpoint(self) -> dict[str, Any] | None:
        """The validated checkpoint (without its seal), or ``None`` when the run has none yet."""
        path = self.run_dir / files.CHECKPOINT
        if not path.exists() and not path.is_symlink():  # anything else there (a FIFO) is read and refused
            return None
        try:
            data = files.read_json(path)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        return validate_checkpoint(data, path)


def read_config(run_dir: Path) -> RunConfig:
    """The configuration saved in a run directory (``config.json``)."""
    path = run_dir / files.CONFIG
    if not path.is_file():
        raise ConfigError(f"{run_dir} is not a run directory (no {files.CONFIG})")
    try:
        config = RunConfig.from_dict(files.read_json(path))
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    from deepstruct.evo.run_config_files import check_config_files

    check_config_files(run_dir, config)  # config.toml is config.json's copy: an edit of it is refused
    return config


def lock_run_dir(run_dir: Path) -> Any:
    """An exclusive lock on the run directory (released when the returned file is closed); a
    :class:`ConfigError` when another process holds it or the directory cannot hold a lock file (read-only, not a
    directory, ``.lock`` a symlink or a FIFO)."""
    import fcntl

    from deepstruct.safe_files import UnsafeFileError, open_lock_file

    try:
        handle = os.fdopen(open_lock_file(run_dir / ".lock"), "w")
    except UnsafeFileError as exc:
        raise ConfigError(str(exc)) from None
    except OSError as exc:
        raise ConfigError(f"{str(run_dir)[:200]} cannot hold a run: its lock file cannot be created "
                          f"({exc.strerror})") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise ConfigError(f"{run_dir} is in use by another deepstruct process") from None
    return handle
