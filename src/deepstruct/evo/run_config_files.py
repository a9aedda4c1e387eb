"""A run directory holds one configuration: ``config.json`` is the one the run reads, ``config.toml`` its copy for
people. When both are there they must agree; an edited ``config.toml`` is refused (it would otherwise be silently
ignored), naming the first field that differs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deepstruct.evo.checks import ConfigError

__all__ = ["check_config_files", "first_difference"]


def first_difference(a: Any, b: Any, prefix: str = "") -> str | None:
    """The dotted name of the first field where two config dicts differ (``None`` when they are equal)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            found = first_difference(a.get(key), b.get(key), f"{prefix}{key}.")
            if found is not None:
                return found
        return None
    return None if a == b else prefix.rstrip(".") or "(the whole file)"


def check_config_files(run_dir: Path, config: Any) -> None:
    """Refuse a run directory whose ``config.toml`` does not load or differs from ``config`` (``config.json``'s).

    Raises
    ------
    ConfigError
        Naming both files and the first field that differs.
    """
    from deepstruct.evo.config import load_config

    toml = run_dir / "config.toml"
    if not toml.exists() and not toml.is_symlink():
        return
    fix = ("a run keeps the configuration it started with (config.json; config.toml is its copy): restore "
           "config.toml, or start a new run with `deepstruct evolve --config FILE`")
    try:
        other = load_config(toml)
    except ConfigError as exc:
        raise ConfigError(f"{toml} does not load ({str(exc)[:200]}); {fix}") from None
    field = first_difference(other.to_dict(), config.to_dict())
    if field is not None:
        raise ConfigError(f"{toml} and {run_dir / 'config.json'} disagree on {field}; {fix}")
