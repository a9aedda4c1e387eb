"""The store of a run directory: the lock, the fitness cache, the journal and the checkpoint.

- ``journal.jsonl`` gets one line per event as it happens: ``{"type": "result", ...}`` for every evaluation
  (key, seed, generation, the evaluated genome and its :class:`~deepstruct.evo.protocol.EvaluationResult`), and,
  in asynchronous runs, ``{"type": "ask", "keys": [...]}`` and ``{"type": "tell", "key": ...}`` in the order they
  happened, so a resumed run replays them. A torn last line (a kill mid-write) is dropped.
- ``checkpoint.json`` is the whole state after a generation (population, hall of fame, logbook, RNG state,
  config, innovation registry), written atomically on a background thread.
- The cache (key -> result and the generation it came from) is rebuilt from the journal, so no evaluation that
  finished is ever lost or repeated.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepstruct.evo import persistence as files
from deepstruct.evo.config import ConfigError, RunConfig, config_to_toml
from deepstruct.evo.protocol import EvaluationRequest, EvaluationResult

__all__ = ["RunStore", "CachedResult", "CHECKPOINT_SCHEMA", "CHECKPOINT_VERSION", "validate_checkpoint"]

CHECKPOINT_SCHEMA = "deepstruct.evo.checkpoint"
CHECKPOINT_VERSION = 2

#: Fields of a checkpoint and the JSON type each must have.
_FIELDS: dict[str, type | tuple[type, ...]] = {
    "generation": int, "finished": bool, "evaluations": int, "config": dict, "rng": dict, "strategy": dict,
    "hall_of_fame": list, "logbook": list, "objectives": list,
}


@dataclass(frozen=True)
class CachedResult:
    """A journalled result and the generation (or asynchronous cycle) it was evaluated in."""

    result: EvaluationResult
    generation: int


def validate_checkpoint(data: Any, where: Path | str) -> dict[str, Any]:
    """``data`` if it is a checkpoint this version reads; a :class:`ConfigError` naming the bad field otherwise."""
    if not isinstance(data, dict) or data.get("schema") != CHECKPOINT_SCHEMA:
        raise ConfigError(f"{where} is not a deepstruct checkpoint (no schema {CHECKPOINT_SCHEMA!r})")
    if data.get("version") not in (1, CHECKPOINT_VERSION):
        raise ConfigError(f"{where}: checkpoint version {data.get('version')!r} is not supported "
                          f"(this deepstruct reads 1 and {CHECKPOINT_VERSION})")
    for name, kind in _FIELDS.items():
        value = data.get(name)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ConfigError(f"{where}: field {name!r} must be {getattr(kind, '__name__', kind)}, got {value!r:.60}")
    if data["generation"] < -1 or data["evaluations"] < 0:
        raise ConfigError(f"{where}: generation {data['generation']} / evaluations {data['evaluations']} out of range")
    population = data["strategy"].get("population")
    if not isinstance(population, list) or not all(isinstance(p, dict) for p in population):
        raise ConfigError(f"{where}: field 'strategy.population' must be a list of individuals")
    return data


class RunStore:
    """Files of one run directory. Use as a context manager: it takes the directory's lock first (a second
    process gets a :class:`ConfigError`), removes a checkpoint write cut short by a kill, writes the config once
    and opens the journal; leaving it waits for the last checkpoint write and closes everything."""

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self.cache: dict[str, CachedResult] = {}
        self.records: list[dict[str, Any]] = []  # every journal record, in order (an asynchronous run replays them)
        self._journal: files.Journal | None = None
        self._writer = files.BackgroundWriter()
        self._lock: Any = None

    # -- opening ---------------------------------------------------------------------------------------------
    def open(self, config: RunConfig) -> RunStore:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._lock = _lock(self.run_dir)  # before anything in the directory changes: a live run keeps its files
        try:
            for stale in self.run_dir.glob(".*.tmp"):
                stale.unlink(missing_ok=True)
            config_file = self.run_dir / files.CONFIG
            if not config_file.exists():
                files.write_json_atomic(config_file, config.to_dict())
                (self.run_dir / "config.toml").write_text(config_to_toml(config), encoding="utf-8")
            self.load_journal()
            self._journal = files.Journal(self.run_dir / files.JOURNAL)
        except BaseException:
            self.close()
            raise
        return self

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._writer.wait()
        finally:
            if self._journal is not None:
                self._journal.close()
                self._journal = None
            if self._lock is not None:
                self._lock.close()
                self._lock = None

    # -- the journal -------------------------------------------------------------------------------------------
    def load_journal(self) -> None:
        """Rebuild the cache and the event list from ``journal.jsonl`` (version-1 lines have no ``type``)."""
        path = self.run_dir / files.JOURNAL
        self.cache.clear()
        self.records.clear()
        for number, record in enumerate(files.read_journal(path), start=1):
            kind = record.get("type", "result") if isinstance(record, dict) else None
            try:
                if kind == "result":
                    result = EvaluationResult.from_dict(record["result"], key=record["key"])
                    self.cache.setdefault(result.key, CachedResult(result, int(record["gen"])))
                    record = {"type": "result", "key": result.key}
                elif kind == "ask":
                    if not isinstance(record["keys"], list):
                        raise TypeError("'keys' must be a list")
                elif kind == "tell":
                    if not isinstance(record["key"], str):
                        raise TypeError("'key' must be a string")
                else:
                    raise ValueError(f"unknown record type {kind!r}")
            except (KeyError, TypeError, ValueError) as exc:
                raise ConfigError(f"{path}: line {number} is not a journal record ({exc})") from None
            self.records.append(record)

    def record_result(self, generation: int, request: EvaluationRequest, result: EvaluationResult) -> None:
        """Journal a result (durable before this returns, against a kill) and cache it."""
        assert self._journal is not None, "the store is not open"
        self._journal.append({"type": "result", "gen": generation, "key": result.key, "seed": request.seed,
                              "result": result.to_dict()})
        self.cache.setdefault(result.key, CachedResult(result, generation))
        self.records.append({"type": "result", "key": result.key})

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
        """Write the checkpoint atomically on a background thread (the next generation does not wait for it)."""
        self._writer.submit(self.run_dir / files.CHECKPOINT, {"schema": CHECKPOINT_SCHEMA,
                                                               "version": CHECKPOINT_VERSION, **data})

    def read_checkpoint(self) -> dict[str, Any] | None:
        """The validated checkpoint, or ``None`` when the run has none yet."""
        path = self.run_dir / files.CHECKPOINT
        if not path.is_file():
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
        return RunConfig.from_dict(files.read_json(path))
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _lock(run_dir: Path) -> Any:
    """An exclusive lock on the run directory (released when the returned file is closed)."""
    import fcntl

    handle = open(run_dir / ".lock", "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise ConfigError(f"{run_dir} is in use by another deepstruct process") from None
    return handle
