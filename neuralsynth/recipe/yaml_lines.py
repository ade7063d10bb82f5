"""Safe YAML that remembers where every key was written, and problems tied to those places.

Recipe problems are reported as ``file:line: dotted.key: message``, so the loader keeps
the line of each key (:class:`Locations`) and every check files its finding in
:class:`Problems`, which sorts them by file and line and raises them together as one
:class:`~neuralsynth.errors.RecipeError`.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any, Iterable

import yaml

from neuralsynth.errors import RecipeError

KeyPath = tuple  # of str keys and int list indices


@dataclasses.dataclass(frozen=True)
class Where:
    """A place a value came from."""

    source: str          # file as the user named it, or "override -o k=v", or "<dict>"
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.source}:{self.line}" if self.line is not None else self.source


def dotted(path: Iterable) -> str:
    """``("data", "instruments", 1)`` → ``data.instruments[1]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def show_value(value: Any) -> str:
    """A value for messages: ``3 (int)``, ``'x' (str)``, ``null``, ``a mapping``, ``a list``."""
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{value!r} ({type(value).__name__})"


class Problems:
    """Problems found so far, listed by source (in registration order), then by line."""

    def __init__(self) -> None:
        self._items: list[tuple[int, int, int, str]] = []  # (source rank, line, seq, text)
        self._rank: dict[str, int] = {}

    def source(self, name: str) -> None:
        """Register a source, so that its problems come after those of earlier ones."""
        self._rank.setdefault(name, len(self._rank))

    def add(self, where: Where, path: Iterable, message: str) -> None:
        self.source(where.source)
        key = dotted(path)
        text = f"{where}: {key}: {message}" if key else f"{where}: {message}"
        self._items.append((self._rank[where.source], where.line or 0, len(self._items), text))

    def __bool__(self) -> bool:
        return bool(self._items)

    def raise_if_any(self) -> None:
        if self._items:
            raise RecipeError([text for *_, text in sorted(self._items)])


class Locations:
    """Where each key path was written; a path without an entry uses its nearest parent's."""

    def __init__(self, root: Where):
        self.root = root
        self._at: dict[KeyPath, Where] = {}

    def set(self, path: KeyPath, where: Where) -> None:
        self._at[tuple(path)] = where

    def of(self, path: Iterable) -> Where:
        path = tuple(path)
        while path:
            if path in self._at:
                return self._at[path]
            path = path[:-1]
        return self.root

    def drop(self, prefix: KeyPath) -> None:
        """Forget ``prefix`` and everything under it (its value was replaced)."""
        n = len(prefix)
        for key in [k for k in self._at if k[:n] == prefix]:
            del self._at[key]

    def update(self, other: Locations) -> None:
        self._at.update(other._at)


class _Loader(yaml.SafeLoader):
    """SafeLoader (no Python object tags) that also reads ``1e-3`` as a float.

    YAML 1.1, which PyYAML implements, only accepts exponents with a dot (``1.0e-3``);
    everyone writes learning rates as ``1e-3``, and reading that as a string would only
    produce a confusing type error.
    """


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"))


def parse_yaml_value(text: str) -> Any:
    """One YAML value (for ``-o key=value``); raises ``yaml.YAMLError``."""
    loader = _Loader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def load_yaml_mapping(path: Path, source: str, problems: Problems, what: str
                      ) -> tuple[dict, Locations] | None:
    """Read the file ``path`` as one YAML mapping, with the line of every key.

    ``source`` names the file in messages and ``what`` describes the mapping expected
    (e.g. ``"a mapping of sections (...)"``). Returns ``None`` when nothing usable was
    read; the reason is in ``problems``.
    """
    problems.source(source)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.add(Where(source), (), "recipe file not found")
        return None
    except IsADirectoryError:
        problems.add(Where(source), (), "expected a recipe file, got a directory")
        return None
    except (OSError, UnicodeDecodeError) as exc:
        problems.add(Where(source), (), f"cannot read recipe: {exc}")
        return None

    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            problems.add(Where(source, 1), (), f"recipe is empty; expected {what}")
            return None
        locs = Locations(Where(source, node.start_mark.line + 1))
        tree = _to_python(node, loader, locs, problems)
    except yaml.YAMLError as exc:
        _syntax_problem(exc, source, problems)
        return None
    finally:
        loader.dispose()
    if not isinstance(tree, dict):
        problems.add(locs.root, (), f"expected {what}, got {show_value(tree)}")
        return None
    return tree, locs


def _syntax_problem(exc: yaml.YAMLError, source: str, problems: Problems) -> None:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    column = f" at column {mark.column + 1}" if mark is not None else ""
    problems.add(Where(source, line), (),
                 f"invalid YAML{column}: {what}" + (f" ({context})" if context else ""))


_COLLECTION_TAGS = ("tag:yaml.org,2002:seq", "tag:yaml.org,2002:map")


def _to_python(root: yaml.Node, loader: _Loader, locs: Locations, problems: Problems) -> Any:
    """Turn a composed node into dicts/lists/scalars, recording every key's line in ``locs``.

    Built by hand rather than by ``construct_document`` because the constructor forgets
    the lines, silently keeps the last of duplicate keys, and accepts non-string keys.
    """
    source = locs.root.source
    building: set[int] = set()  # ids of the collections being built: catches self-aliases

    def build(node: yaml.Node, path: KeyPath) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return loader.construct_object(node, deep=True)
        if node.tag not in _COLLECTION_TAGS:  # e.g. !!python/object/apply: never executed
            raise yaml.constructor.ConstructorError(
                None, None, f"could not determine a constructor for the tag {node.tag!r}",
                node.start_mark)
        if id(node) in building:
            problems.add(Where(source, node.start_mark.line + 1), path,
                         "recursive YAML alias is not allowed")
            return None
        building.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                items = []
                for i, item in enumerate(node.value):
                    locs.set(path + (i,), Where(source, item.start_mark.line + 1))
                    items.append(build(item, path + (i,)))
                return items
            return build_mapping(node, path)
        finally:
            building.discard(id(node))

    def build_mapping(node: yaml.MappingNode, path: KeyPath) -> dict:
        loader.flatten_mapping(node)  # resolves `<<: *anchor` merge keys
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            key = (loader.construct_object(key_node, deep=True)
                   if isinstance(key_node, yaml.ScalarNode) else None)
            if not isinstance(key, str):
                hint = " (YAML reads on/off/yes/no as booleans; quote the key)" \
                    if isinstance(key, bool) else ""
                problems.add(Where(source, line), path,
                             f"keys must be strings, got {show_value(key)}{hint}")
                continue
            if key in out:
                first = locs.of(path + (key,)).line
                problems.add(Where(source, line), path + (key,),
                             f"duplicate key (first written at line {first})")
                continue
            locs.set(path + (key,), Where(source, line))
            out[key] = build(value_node, path + (key,))
        return out

    return build(root, ())
