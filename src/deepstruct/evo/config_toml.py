"""Writing a run configuration as TOML (:func:`config_to_toml`; :func:`deepstruct.evo.config.load_config` reads
it back). Standard library only, like the configuration itself."""

from __future__ import annotations

from typing import Any

from deepstruct.evo.checks import ConfigError, short_repr

__all__ = ["config_to_toml"]


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + "".join(_ESCAPES.get(c) or (f"\\u{ord(c):04x}" if ord(c) < 32 or ord(c) == 127 else c)
                             for c in value) + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise ConfigError(f"cannot write {short_repr(value)} to TOML")


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _toml_key(key: str) -> str:
    bare = key.replace("_", "").replace("-", "")
    return key if bare.isascii() and bare.isalnum() else _toml_value(key)


def config_to_toml(config: Any) -> str:
    """The configuration (a :class:`~deepstruct.evo.config.RunConfig`) as TOML text that
    :func:`~deepstruct.evo.config.load_config` reads back to an equal config."""
    data = config.to_dict()
    lines = [f"{k} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for section in (k for k, v in data.items() if isinstance(v, dict)):  # the sections, in field order
        lines.append(f"\n[{section}]")
        lines.extend(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in data[section].items())
    return "\n".join(lines) + "\n"
