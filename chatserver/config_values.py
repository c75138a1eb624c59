"""Reading raw settings into typed values: TOML tables and environment text, by declared type.

Generic over any tree of frozen dataclasses, so `config.py` is the declarations and their
range checks, and this is the one place that knows how a value is spelled and named in a
message: a wrong key or value raises `ConfigError` naming the key, in plain words for its type.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from typing import Any


class ConfigError(Exception):
    """A configuration key is unknown, of the wrong type, or out of range."""


def apply_env(root: type, raw: dict[str, Any], name: str, value: str, prefix: str) -> None:
    """Put one `<prefix>...` variable into the raw tables, at the key its name spells."""
    rest = name[len(prefix):].lower()
    found = _env_key(root, rest)
    if found is None:
        tables = _env_tables(root, rest)
        if not tables:
            raise ConfigError(f"{name}: unknown section (expected one of "
                              f"{', '.join(f.name for f in dataclasses.fields(root))})")
        key = ".".join(tables) + "." + rest[len("_".join(tables)) + 1:]
        if _env_tables(root, rest + "_") != tables:  # names a table, not a key in it
            raise ConfigError(f"{name}: {key} is a table; set each of its keys, e.g. "
                              f"{name}_{_first_key(root, key).upper()}")
        raise ConfigError(f"{name}: unknown key {key}")
    path, kind = found
    table = raw
    for i, part in enumerate(path[:-1]):
        table = table.setdefault(part, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{'.'.join(path[:i + 1])}: must be a table")
    table[path[-1]] = _parse_env(name, value, kind)


def _is_table(kind: Any) -> bool:
    return isinstance(kind, type) and dataclasses.is_dataclass(kind)


def _env_key(cls: type, rest: str) -> tuple[list[str], Any] | None:
    """`bot_match_k1` -> (["bot", "match", "k1"], float): the key a variable name spells.

    An underscore separates tables from keys as well as the words of a key, so a table whose
    name starts `rest` is tried, then the keys (no two settings spell the same name)."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        kind = hints[f.name]
        if _is_table(kind):
            if rest.startswith(f.name + "_") and (
                    inner := _env_key(kind, rest[len(f.name) + 1:])) is not None:
                return [f.name, *inner[0]], inner[1]
        elif rest == f.name:
            return [f.name], kind
    return None


def _first_key(cls: type, dotted: str) -> str:
    """The first key of the table `dotted` names (for an example in a message)."""
    for part in dotted.split("."):
        cls = typing.get_type_hints(cls)[part]
    return dataclasses.fields(cls)[0].name


def _env_tables(cls: type, rest: str) -> list[str]:
    """The deepest chain of tables a variable name starts with (for the unknown-key error)."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if _is_table(hints[f.name]) and rest.startswith(f.name + "_"):
            return [f.name, *_env_tables(hints[f.name], rest[len(f.name) + 1:])]
    return []


def _parse_env(name: str, value: str, kind: Any) -> Any:
    """Environment values are text; turn them into what the key expects. Lists of text are
    comma-separated; tables and lists of tables are JSON (docs/configuration.md)."""
    if kind is bool:
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name}: {value!r} is not true or false (also accepted: yes/no, "
                          "on/off, 1/0)")
    if kind in (int, float):
        try:
            return int(value) if kind is int else float(value)
        except ValueError:
            raise ConfigError(f"{name}: {value!r} is not {_describe(kind)}") from None
    if typing.get_origin(kind) is tuple and not _is_table(typing.get_args(kind)[0]):
        return [v.strip() for v in value.split(",") if v.strip()]
    if typing.get_origin(kind) is tuple or _is_mapping(kind):
        try:
            return json.loads(value)
        except ValueError:
            raise ConfigError(f"{name}: {value!r} is not valid JSON; {_describe(kind)} is "
                              "written in JSON here, as docs/configuration.md shows") from None
    return value


def build(cls: type, raw: Any, prefix: str) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{prefix.rstrip('.')}: must be a table")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in known:
            raise ConfigError(f"{prefix}{key}: unknown key")
    values: dict[str, Any] = {}
    for name in known & raw.keys():
        values[name] = _coerce(raw[name], hints[name], prefix + name)
    try:
        return cls(**values)
    except ValueError as e:  # a core's own checks (e.g. RoutingRules) name the key themselves
        raise ConfigError(str(e)) from None


def _is_mapping(kind: Any) -> bool:
    return typing.get_origin(kind) in (Mapping, dict, typing.get_origin(Mapping[str, str]))


def _coerce(value: Any, kind: Any, where: str) -> Any:
    if _is_table(kind):
        return build(kind, value, where + ".")
    origin = typing.get_origin(kind)
    if origin is tuple:
        (item, _) = typing.get_args(kind)
        if not isinstance(value, list):
            raise ConfigError(f"{where}: must be {_describe(kind)}, got {value!r}")
        return tuple(_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value))
    if _is_mapping(kind):
        (_, item) = typing.get_args(kind)
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: must be {_describe(kind)}, got {value!r}")
        return {str(k): _coerce(v, item, f"{where}.{k}") for k, v in value.items()}
    if origin in (types.UnionType, typing.Union):
        if value is None:
            return None
        (kind,) = [a for a in typing.get_args(kind) if a is not type(None)]
    ok = {
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, int | float) and not isinstance(value, bool),
        str: isinstance(value, str),
    }.get(kind, True)
    if not ok:
        raise ConfigError(f"{where}: must be {_describe(kind)}, got {value!r}")
    return float(value) if kind is float else value


# What each kind of value is called in messages: (one, several).
_WORDS = {bool: ("true or false", "true-or-false values"), int: ("a whole number",
          "whole numbers"), float: ("a number", "numbers"), str: ("a string", "strings")}


def _describe(kind: Any, *, plural: bool = False) -> str:
    """A key's type in plain words for messages: "a list of strings", "a table of numbers"."""
    if typing.get_origin(kind) in (types.UnionType, typing.Union):
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
    if typing.get_origin(kind) is tuple:
        inner = _describe(typing.get_args(kind)[0], plural=True)
        return f"lists of {inner}" if plural else f"a list of {inner}"
    if _is_mapping(kind):
        inner = _describe(typing.get_args(kind)[1], plural=True)
        return f"tables of {inner}" if plural else f"a table of {inner}"
    if _is_table(kind):
        return "tables" if plural else "a table"
    one, several = _WORDS.get(kind, ("a value", "values"))
    return several if plural else one

