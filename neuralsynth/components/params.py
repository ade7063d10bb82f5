"""Typed component configuration: the nested ``Config`` dataclass of every component.

Only fields of a component's ``Config`` can be set from a recipe. Each field carries a
type (its annotation), a default and a help string (``metadata["help"]``), declared with
:func:`param`. :func:`parse_config` checks a mapping from YAML against the dataclass and
returns every problem it finds instead of stopping at the first.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, Literal, get_args, get_origin

from neuralsynth.errors import did_you_mean


def param(default: Any, help: str, *, choices: tuple | None = None) -> Any:
    """Declare a Config field with its default, help text and optional allowed values."""
    meta = {"help": help}
    if choices is not None:
        meta["choices"] = tuple(choices)
    if isinstance(default, (list, dict, set)):
        return dataclasses.field(default_factory=lambda d=default: type(d)(d), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@dataclasses.dataclass(frozen=True)
class FieldInfo:
    """Description of one Config field, for `components` listings and docs."""

    name: str
    type: str
    default: Any
    help: str
    choices: tuple | None


def _resolved_hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def type_name(tp: Any) -> str:
    """Human-readable name of a field type, e.g. ``int``, ``list[str]``, ``one of 1, 3, 5``."""
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (list, tuple):
        args = get_args(tp)
        return f"list[{type_name(args[0])}]" if args else "list"
    if origin is typing.Union:
        return " or ".join(type_name(a) for a in get_args(tp))
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", str(tp))


def describe(config_cls: type) -> list[FieldInfo]:
    """List the fields of a Config dataclass with type, default and help text."""
    hints = _resolved_hints(config_cls)
    out = []
    for f in dataclasses.fields(config_cls):
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = f.default_factory()  # type: ignore[misc]
        else:
            default = None
        out.append(FieldInfo(f.name, type_name(hints[f.name]), default,
                             f.metadata.get("help", ""), f.metadata.get("choices")))
    return out


def _check_value(value: Any, tp: Any) -> bool:
    """True when a YAML value fits the annotation (ints are accepted for floats)."""
    origin = get_origin(tp)
    if tp is Any:
        return True
    if origin is Literal:
        return value in get_args(tp)
    if origin is typing.Union:
        return any(_check_value(value, a) for a in get_args(tp))
    if tp is type(None):
        return value is None
    if origin in (list, tuple):
        args = get_args(tp)
        return isinstance(value, list) and all(_check_value(v, args[0]) for v in value) if args \
            else isinstance(value, list)
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(tp, type):
        return isinstance(value, tp)
    return True


def parse_config(config_cls: type, values: dict[str, Any]) -> tuple[Any, list[tuple[str, str]]]:
    """Build ``config_cls`` from ``values``.

    Returns ``(config or None, problems)`` where each problem is ``(key, message)``;
    ``key`` is the field name the problem is about (used for line numbers).
    """
    hints = _resolved_hints(config_cls)
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    problems: list[tuple[str, str]] = []
    for key, value in values.items():
        if key not in fields:
            allowed = ", ".join(sorted(fields)) or "(none)"
            problems.append((key, f"unknown parameter '{key}'{did_you_mean(key, fields)}; "
                                  f"allowed: {allowed}"))
            continue
        tp = hints[key]
        choices = fields[key].metadata.get("choices")
        if not _check_value(value, tp):
            problems.append((key, f"expected {type_name(tp)}, got {value!r} "
                                  f"({type(value).__name__})"))
        elif choices is not None and value not in choices:
            problems.append((key, f"expected one of {', '.join(map(repr, choices))}, got {value!r}"))
    if problems:
        return None, problems
    kwargs = {k: (float(v) if hints[k] is float else v) for k, v in values.items()}
    return config_cls(**kwargs), []


def ensure_valid(kind: str, config: Any) -> None:
    """Raise RecipeError for the range problems a Config reports through ``check()``.

    Components call this in their constructor so a directly built component is checked
    too; recipe validation calls the same ``check()`` and adds line numbers.
    """
    problems = getattr(config, "check", lambda: [])()
    if problems:
        from neuralsynth.errors import RecipeError

        raise RecipeError([f"{kind}.{key}: {message}" for key, message in problems])
