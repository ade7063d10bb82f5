"""Recipes: YAML files that say what to train, checked before anything is built.

A recipe is read with a safe YAML loader that keeps the line of every key, so each
problem can be reported as ``file:line: dotted.key: message``. Loading goes:

1. read and compose the file (YAML syntax errors carry their line);
2. ``extends: base.yaml`` (relative to the recipe file) is loaded first and deep-merged
   under the child: mappings merge key by key, anything else is replaced by the child;
   a component spec whose ``name`` changes is replaced whole (the old parameters belong
   to another component). Cycles are detected. ``name`` is never inherited;
3. ``-o a.b=value`` overrides are applied (the value is parsed as YAML);
4. every section is validated against the typed dataclasses: components against the
   ``Config`` of the registered component they name, ``data``/``train`` against
   :mod:`neuralsynth.train_config`. All problems are collected and raised together as one
   :class:`~neuralsynth.errors.RecipeError` (exit code 2).

Sizes that follow from other components (``n_mels``, ``n_instruments``, ``in_dim``) are
not recipe keys: the model builder passes them in. Recipes name registered components
only, never import paths, so a recipe cannot make the toolkit import arbitrary code.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import re
from pathlib import Path
from typing import Any, Iterable

import yaml

from .config import did_you_mean, parse_config
from .errors import NeuralsynthError, PluginError, RecipeError
from .train_config import DataConfig, TrainConfig, required_fields

RECIPE_VERSION = 1
#: Top-level keys a recipe may have, with what they hold (used in messages and docs).
SECTIONS: dict[str, str] = {
    "recipe": "recipe format version; must be 1",
    "name": "run name (default: the recipe file name without .yaml); not inherited",
    "extends": "path of a base recipe, relative to this file; this file's keys win",
    "data": "dataset directory and instruments",
    "model": "the three model components: encoder, conditioner, sequence",
    "loss": "training loss component",
    "train": "optimisation schedule and bookkeeping",
    "vocoder": "mel-to-audio component used when rendering (default: griffin_lim)",
}
REQUIRED_SECTIONS = ("recipe", "data", "model", "loss")
MODEL_SLOTS = ("encoder", "conditioner", "sequence")
DEFAULT_VOCODER = {"name": "griffin_lim"}
#: Sizes the model builder derives from other components; a recipe cannot set them.
DERIVED_SIZES = frozenset({"n_mels", "n_instruments", "in_dim", "out_dim", "channels",
                           "input_dim", "output_dim"})
_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")

KeyPath = tuple  # of str keys and int list indices


# ---------------------------------------------------------------------------------------
# The recipe object
# ---------------------------------------------------------------------------------------
@dataclasses.dataclass
class Recipe:
    """A validated, fully resolved recipe.

    ``model`` maps ``encoder``/``conditioner``/``sequence`` to component specs
    (``{"name": ..., **every Config field}``); ``loss`` and ``vocoder`` are specs too.
    ``data.instruments`` holds canonical instrument names; ``train.out`` is resolved.
    """

    name: str
    data: DataConfig
    model: dict[str, dict[str, Any]]
    loss: dict[str, Any]
    train: TrainConfig
    vocoder: dict[str, Any]
    source: str | None = None  # the recipe file, None for recipes built from a dict

    @property
    def instruments(self) -> list[str]:
        return list(self.data.instruments)

    def to_dict(self) -> dict[str, Any]:
        """Plain, fully resolved recipe (every default filled in); stored in checkpoints.

        ``recipe_from_dict(r.to_dict())`` gives back an equal recipe.
        """
        return {
            "recipe": RECIPE_VERSION,
            "name": self.name,
            "data": dataclasses.asdict(self.data),
            "model": copy.deepcopy(self.model),
            "loss": copy.deepcopy(self.loss),
            "train": dataclasses.asdict(self.train),
            "vocoder": copy.deepcopy(self.vocoder),
        }

    def summary(self) -> str:
        """One line: instrument count, component names and steps."""
        n = len(self.data.instruments)
        parts = [f"{n} instrument{'s' if n != 1 else ''}"]
        parts += [f"{slot} {self.model[slot]['name']}" for slot in MODEL_SLOTS]
        parts += [f"loss {self.loss['name']}", f"vocoder {self.vocoder['name']}",
                  f"{self.train.steps} steps"]
        return ", ".join(parts)


# ---------------------------------------------------------------------------------------
# Problem collection with locations
# ---------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class _Where:
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


class _Problems:
    """Problems found so far, each tied to a location; formatted and sorted at the end."""

    def __init__(self) -> None:
        self._items: list[tuple[_Where, str, str]] = []
        self._rank: dict[str, int] = {}

    def source(self, name: str) -> None:
        """Register a source; problems are listed by source in registration order."""
        self._rank.setdefault(name, len(self._rank))

    def add(self, where: _Where, path: Iterable, message: str) -> None:
        self.source(where.source)
        self._items.append((where, dotted(path), message))

    def __bool__(self) -> bool:
        return bool(self._items)

    def lines(self) -> list[str]:
        order = sorted(range(len(self._items)), key=lambda i: (
            self._rank[self._items[i][0].source], self._items[i][0].line or 0, i))
        out = []
        for i in order:
            where, key, message = self._items[i]
            out.append(f"{where}: {key}: {message}" if key else f"{where}: {message}")
        return out

    def raise_if_any(self) -> None:
        if self._items:
            raise RecipeError(self.lines())


class _Locations:
    """Where each key path was written; a path without an entry uses its nearest parent's."""

    def __init__(self, root: _Where):
        self.root = root
        self._at: dict[KeyPath, _Where] = {}

    def set(self, path: KeyPath, where: _Where) -> None:
        self._at[tuple(path)] = where

    def of(self, path: Iterable) -> _Where:
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

    def update(self, other: "_Locations") -> None:
        self._at.update(other._at)


def _show(value: Any) -> str:
    """A value for messages: ``3 (int)``, ``'x' (str)``, ``null``, ``a mapping``, ``a list``."""
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{value!r} ({type(value).__name__})"


# ---------------------------------------------------------------------------------------
# YAML with line numbers
# ---------------------------------------------------------------------------------------
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


_SEQ_TAG = "tag:yaml.org,2002:seq"
_MAP_TAG = "tag:yaml.org,2002:map"


def _syntax_problem(exc: yaml.YAMLError, source: str, problems: _Problems) -> None:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    column = f" at column {mark.column + 1}" if mark is not None else ""
    problems.add(_Where(source, line), (),
                 f"invalid YAML{column}: {what}" + (f" ({context})" if context else ""))


def _to_python(node: yaml.Node, loader: _Loader, path: KeyPath, source: str,
               locs: _Locations, problems: _Problems, active: set[int]) -> Any:
    """Turn a composed node into dicts/lists/scalars, recording every key's line."""
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_object(node, deep=True)
    if node.tag not in (_SEQ_TAG, _MAP_TAG):  # e.g. !!python/object/apply: never executed
        raise yaml.constructor.ConstructorError(
            None, None, f"could not determine a constructor for the tag {node.tag!r}",
            node.start_mark)
    if id(node) in active:  # an alias that contains itself
        problems.add(_Where(source, node.start_mark.line + 1), path,
                     "recursive YAML alias is not allowed")
        return None
    active.add(id(node))
    try:
        if isinstance(node, yaml.SequenceNode):
            out_list = []
            for i, item in enumerate(node.value):
                locs.set(path + (i,), _Where(source, item.start_mark.line + 1))
                out_list.append(_to_python(item, loader, path + (i,), source, locs, problems,
                                           active))
            return out_list
        loader.flatten_mapping(node)  # resolves `<<: *anchor` merge keys
        out: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            key = (loader.construct_object(key_node, deep=True)
                   if isinstance(key_node, yaml.ScalarNode) else None)
            if not isinstance(key, str):
                hint = " (YAML reads on/off/yes/no as booleans; quote the key)" \
                    if isinstance(key, bool) else ""
                problems.add(_Where(source, line), path,
                             f"keys must be strings, got {_show(key)}{hint}")
                continue
            if key in out:
                problems.add(_Where(source, line), path + (key,),
                             f"duplicate key (first written at line {first_line[key]})")
                continue
            first_line[key] = line
            locs.set(path + (key,), _Where(source, line))
            out[key] = _to_python(value_node, loader, path + (key,), source, locs, problems,
                                  active)
        return out
    finally:
        active.discard(id(node))


def _parse_yaml_value(text: str) -> Any:
    """One YAML value (for ``-o key=value``); raises ``yaml.YAMLError``."""
    loader = _Loader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


# ---------------------------------------------------------------------------------------
# Files and `extends`
# ---------------------------------------------------------------------------------------
def _is_spec_swap(base: Any, child: Any) -> bool:
    """Both are component specs naming different components."""
    return (isinstance(base, dict) and isinstance(child, dict) and "name" in base
            and "name" in child and base["name"] != child["name"])


def _merge(base: dict, child: dict, path: KeyPath, base_locs: _Locations) -> dict:
    """Deep-merge ``child`` over ``base``; drop base locations of replaced values."""
    out = dict(base)
    for key, value in child.items():
        p = path + (key,)
        old = base.get(key)
        if isinstance(old, dict) and isinstance(value, dict) and not _is_spec_swap(old, value):
            out[key] = _merge(old, value, p, base_locs)
        else:
            base_locs.drop(p)
            out[key] = value
    return out


def _load_file(path: Path, source: str, problems: _Problems, stack: tuple[Path, ...]
               ) -> tuple[dict | None, _Locations]:
    """Read one recipe file and, recursively, what it extends; ``None`` when unreadable."""
    problems.source(source)
    locs = _Locations(_Where(source, 1))
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.add(_Where(source), (), "recipe file not found")
        return None, locs
    except IsADirectoryError:
        problems.add(_Where(source), (), "expected a recipe file, got a directory")
        return None, locs
    except (OSError, UnicodeDecodeError) as exc:
        problems.add(_Where(source), (), f"cannot read recipe: {exc}")
        return None, locs

    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            problems.add(_Where(source, 1), (), "recipe is empty; expected a mapping of sections "
                                                f"({', '.join(SECTIONS)})")
            return None, locs
        locs.root = _Where(source, node.start_mark.line + 1)
        tree = _to_python(node, loader, (), source, locs, problems, set())
    except yaml.YAMLError as exc:
        _syntax_problem(exc, source, problems)
        return None, locs
    finally:
        loader.dispose()

    if not isinstance(tree, dict):
        problems.add(locs.root, (), f"expected a mapping of sections ({', '.join(SECTIONS)}), "
                                    f"got {_show(tree)}")
        return None, locs

    if "extends" not in tree:
        return tree, locs
    ext = tree.pop("extends")
    ext_where = locs.of(("extends",))
    locs.drop(("extends",))
    if not isinstance(ext, str) or not ext.strip():
        problems.add(ext_where, ("extends",),
                     f"expected the path of a base recipe (str), got {_show(ext)}")
        return None, locs
    base_path = (path.parent / ext).resolve()
    base_source = os.path.normpath(os.path.join(os.path.dirname(source), ext))
    if base_path in stack:
        chain = " -> ".join([p.name for p in stack] + [base_path.name])
        problems.add(ext_where, ("extends",), f"extends cycle: {chain}")
        return None, locs
    if not base_path.is_file():
        problems.add(ext_where, ("extends",),
                     f"base recipe '{ext}' not found (looked for {base_source})")
        return None, locs
    base, base_locs = _load_file(base_path, base_source, problems, stack + (base_path,))
    if base is None:
        return None, locs
    base.pop("name", None)  # a run name belongs to its own file
    base_locs.drop(("name",))
    merged = _merge(base, tree, (), base_locs)
    base_locs.update(locs)
    base_locs.root = locs.root
    return merged, base_locs


# ---------------------------------------------------------------------------------------
# Overrides
# ---------------------------------------------------------------------------------------
def _apply_override(tree: dict, locs: _Locations, text: str, problems: _Problems) -> None:
    """Set ``a.b.c`` to the YAML value of ``text = "a.b.c=value"`` in ``tree``."""
    where = _Where(f"override -o {text}")
    problems.source(where.source)
    key, eq, raw = text.partition("=")
    parts = tuple(p.strip() for p in key.strip().split("."))
    if not eq or not key.strip() or not all(parts):
        problems.add(where, (), "expected KEY=VALUE with a dotted key, "
                                "e.g. -o model.sequence.hidden_size=64")
        return
    if parts[0] == "extends":
        problems.add(where, parts, "extends cannot be overridden; write a recipe that extends "
                                   "the one you want")
        return
    try:
        value = _parse_yaml_value(raw)
    except yaml.YAMLError as exc:
        problems.add(where, parts, f"value {raw!r} is not valid YAML: "
                                   f"{getattr(exc, 'problem', None) or exc}")
        return
    node = tree
    for i, part in enumerate(parts[:-1]):
        if part not in node:
            node[part] = {}
            locs.set(parts[:i + 1], where)
        elif not isinstance(node[part], dict):
            problems.add(where, parts[:i + 1],
                         f"expected a mapping to set '{parts[i + 1]}' in, got {_show(node[part])}")
            return
        node = node[part]
    locs.drop(parts)
    node[parts[-1]] = value
    locs.set(parts, where)


# ---------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------
class _Validator:
    """Checks a merged tree section by section, recording every problem."""

    def __init__(self, tree: dict, locs: _Locations, problems: _Problems):
        self.tree = tree
        self.locs = locs
        self.problems = problems

    def add(self, path: KeyPath, message: str) -> None:
        self.problems.add(self.locs.of(path), path, message)

    def mapping(self, value: Any, path: KeyPath, what: str) -> dict | None:
        if isinstance(value, dict):
            return value
        self.add(path, f"expected {what}, got {_show(value)}")
        return None

    def config(self, cls: type, values: dict, path: KeyPath) -> Any | None:
        """Build a typed Config from ``values``; every problem is recorded."""
        complete = True
        for name in required_fields(cls):
            if name not in values:
                field = next(f for f in dataclasses.fields(cls) if f.name == name)
                self.add(path + (name,), f"missing required key ({field.metadata.get('help', '')})")
                complete = False
        try:
            config, problems = parse_config(cls, values)
        except TypeError as exc:  # a required field is missing: reported above
            if complete:
                self.add(path, str(exc))
            return None
        except ValueError as exc:  # a Config's own __post_init__ check
            self.add(path, str(exc))
            return None
        except RecipeError as exc:  # the same, raised the toolkit's way
            for problem in exc.problems:
                self.add(path, problem)
            return None
        for key, message in problems:
            if key in DERIVED_SIZES and message.startswith("unknown parameter"):
                message += (f"; {key} follows from the other components and is not a "
                            "recipe key")
            self.add(path + (key,), message)
        if not complete:
            return None
        checked = config
        if checked is None:
            # Range checks still run on the fields that had the right type, so a type error
            # in one key does not hide a negative value in another.
            bad = {key for key, _ in problems}
            try:
                checked, _ = parse_config(cls, {k: v for k, v in values.items() if k not in bad})
            except (TypeError, ValueError):  # a required field was the bad one
                checked = None
        for key, message in getattr(checked, "check", lambda: [])():
            self.add(path + (key,), message)
        return config

    def component(self, registry: Any, value: Any, path: KeyPath) -> dict | None:
        """Validate ``{name: ..., **params}`` against the registered component's Config."""
        kind = registry.kind
        try:
            names = registry.names()
        except PluginError as exc:  # two distributions provide one name
            self.add(path, str(exc))
            return None
        available = ", ".join(names) or "(none installed)"
        spec = self.mapping(value, path, f"a mapping like {{name: ..., param: value}} naming a "
                                         f"registered {kind}")
        if spec is None:
            return None
        if "name" not in spec:
            self.add(path + ("name",), f"missing required key (which {kind}); "
                                       f"available: {available}")
            return None
        name = spec["name"]
        if not isinstance(name, str):
            self.add(path + ("name",), f"expected a {kind} name (str), got {_show(name)}; "
                                       f"available: {available}")
            return None
        if name not in names:
            hint = ""
            if "." in name or ":" in name:
                hint = "; recipes name registered components, not import paths"
            self.add(path + ("name",), f"unknown {kind} '{name}'{did_you_mean(name, names)}; "
                                       f"available: {available}{hint}")
            return None
        try:
            cls = registry.get(name)
        except PluginError as exc:  # the provider failed to import
            self.add(path + ("name",), str(exc))
            return None
        config = self.config(cls.Config, {k: v for k, v in spec.items() if k != "name"}, path)
        if config is None:
            return None
        return {"name": name, **dataclasses.asdict(config)}

    def instruments(self, given: list) -> list[str] | None:
        """Canonical names for ``data.instruments``; each bad entry is its own problem."""
        from .instruments import resolve_instrument

        canonical: list[str] = []
        first: dict[str, int] = {}
        for i, item in enumerate(given):
            path = ("data", "instruments", i)
            if not isinstance(item, str):
                self.add(path, f"expected an instrument name (str), got {_show(item)}")
                continue
            try:
                name = resolve_instrument(item)
            except NeuralsynthError as exc:
                self.add(path, str(exc))
                continue
            if name in first:
                j = first[name]
                same = f" (same as '{given[j]}')" if given[j] != item else ""
                self.add(path, f"duplicate instrument '{item}'{same}: "
                               f"already data.instruments[{j}]")
                continue
            first[name] = i
            canonical.append(name)
        return canonical if len(canonical) == len(given) else None

    def data(self) -> DataConfig | None:
        section = self.mapping(self.tree["data"], ("data",),
                               "a mapping with dataset and instruments")
        if section is None:
            return None
        values = dict(section)
        canonical = None
        if isinstance(values.get("instruments"), list):
            canonical = self.instruments(values["instruments"])
            # Entries were checked one by one above; the typed check below only needs to
            # see a list of strings of the same length.
            values["instruments"] = [str(x) for x in values["instruments"]]
        config = self.config(DataConfig, values, ("data",))
        if config is None or canonical is None:
            return None
        return dataclasses.replace(config, instruments=canonical)

    def run(self, default_name: str) -> Recipe | None:
        from .components import REGISTRIES

        tree = self.tree
        for key in tree:
            if key not in SECTIONS:
                self.add((str(key),), f"unknown section{did_you_mean(str(key), SECTIONS)}; "
                                      f"allowed: {', '.join(SECTIONS)}")
        for key in REQUIRED_SECTIONS:
            if key not in tree:
                self.add((key,), f"missing required section ({SECTIONS[key]})")

        if "recipe" in tree:
            version = tree["recipe"]
            if version != RECIPE_VERSION or isinstance(version, bool):
                self.add(("recipe",), f"expected {RECIPE_VERSION} (the recipe format version), "
                                      f"got {_show(version)}")

        # A file called "my recipe.yaml" still gets a usable directory name by default.
        name = tree.get("name", re.sub(r"[^A-Za-z0-9_.-]+", "_", default_name) or "recipe")
        if not isinstance(name, str) or not _NAME_RE.match(name):
            self.add(("name",), "expected a run name of letters, digits, '_', '-' or '.', "
                                f"got {_show(name)}")

        data = self.data() if "data" in tree else None

        model: dict[str, dict] = {}
        if "model" in tree:
            section = self.mapping(tree["model"], ("model",),
                                   f"a mapping with {', '.join(MODEL_SLOTS)}")
            if section is not None:
                for key in section:
                    if key not in MODEL_SLOTS:
                        self.add(("model", str(key)),
                                 f"unknown model component{did_you_mean(str(key), MODEL_SLOTS)}; "
                                 f"allowed: {', '.join(MODEL_SLOTS)}")
                for slot in MODEL_SLOTS:
                    if slot not in section:
                        self.add(("model", slot), f"missing required key; available {slot}s: "
                                                  f"{', '.join(REGISTRIES[slot].names())}")
                        continue
                    spec = self.component(REGISTRIES[slot], section[slot], ("model", slot))
                    if spec is not None:
                        model[slot] = spec

        loss = self.component(REGISTRIES["loss"], tree["loss"], ("loss",)) \
            if "loss" in tree else None

        train = None
        section = self.mapping(tree.get("train", {}), ("train",),
                               "a mapping of training settings")
        if section is not None:
            train = self.config(TrainConfig, section, ("train",))

        vocoder = self.component(REGISTRIES["vocoder"],
                                 tree.get("vocoder", dict(DEFAULT_VOCODER)), ("vocoder",))

        if self.problems:
            return None
        assert data is not None and loss is not None and train is not None and vocoder is not None
        if not train.out:
            train = dataclasses.replace(train, out=f"runs/{name}")
        return Recipe(name=name, data=data, model=model, loss=loss, train=train, vocoder=vocoder)


# ---------------------------------------------------------------------------------------
# Public entry points
# ---------------------------------------------------------------------------------------
def load_recipe(path: str | os.PathLike, overrides: Iterable[str] = ()) -> Recipe:
    """Load, merge, override and validate a recipe file.

    Raises :class:`~neuralsynth.errors.RecipeError` listing every problem found.
    """
    source = os.fspath(path)
    problems = _Problems()
    file_path = Path(source)
    tree, locs = _load_file(file_path, source, problems, (file_path.resolve(),))
    if tree is None:
        problems.raise_if_any()
    for text in overrides:
        _apply_override(tree, locs, text, problems)
    recipe = _Validator(tree, locs, problems).run(default_name=file_path.stem)
    problems.raise_if_any()
    assert recipe is not None
    recipe.source = source
    return recipe


def recipe_from_dict(d: dict[str, Any], overrides: Iterable[str] = (), *,
                     name: str = "recipe", source: str = "<dict>") -> Recipe:
    """Validate a recipe given as a plain mapping (e.g. the one stored in a checkpoint).

    ``name`` is used when the mapping has no ``name`` key; ``source`` names the origin
    in messages. ``extends`` is not available here (there is no file to resolve it from).
    """
    problems = _Problems()
    problems.source(source)
    locs = _Locations(_Where(source))
    if not isinstance(d, dict):
        problems.add(_Where(source), (), f"expected a mapping of sections, got {_show(d)}")
        problems.raise_if_any()
    tree = copy.deepcopy(d)
    if "extends" in tree:
        tree.pop("extends")
        problems.add(_Where(source), ("extends",), "extends is only supported in recipe files")
    for text in overrides:
        _apply_override(tree, locs, text, problems)
    recipe = _Validator(tree, locs, problems).run(default_name=name)
    problems.raise_if_any()
    assert recipe is not None
    return recipe
