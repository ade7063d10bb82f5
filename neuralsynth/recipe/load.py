"""Recipes: YAML files that say what to train, checked before anything is built.

A recipe is read with a safe YAML loader that keeps the line of every key
(:mod:`neuralsynth.recipe.yaml_lines`), so each problem can be reported as
``file:line: dotted.key: message``. Loading goes:

1. read and compose the file (YAML syntax errors carry their line);
2. ``extends: base.yaml`` (relative to the recipe file) is loaded first and deep-merged
   under the child: mappings merge key by key, anything else is replaced by the child;
   a component spec whose ``name`` changes is replaced whole (the old parameters belong
   to another component). Cycles are detected. ``name`` is never inherited;
3. ``-o a.b=value`` overrides are applied (the value is parsed as YAML);
4. every section is validated (:mod:`neuralsynth.recipe.validate`) against the typed
   dataclasses: components against the ``Config`` of the registered component they name,
   ``data``/``train`` against :mod:`neuralsynth.recipe.sections`. All problems are
   collected and raised together as one :class:`~neuralsynth.errors.RecipeError`
   (exit code 2).

Sizes that follow from other components (``n_mels``, ``n_instruments``, ``in_dim``) are
not recipe keys: the model builder passes them in. Recipes name registered components
only, never import paths, so a recipe cannot make the toolkit import arbitrary code.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from pathlib import Path
from typing import Any, Iterable

import yaml

from neuralsynth.recipe.sections import DataConfig, TrainConfig
from neuralsynth.recipe.validate import (
    MEL2MEL_SECTIONS,
    MODEL_SLOTS,
    RECIPE_VERSION,
    SECTIONS,
    validate_recipe,
)
from neuralsynth.recipe.yaml_lines import (
    KeyPath,
    Locations,
    Problems,
    Where,
    load_yaml_mapping,
    parse_yaml_value,
    show_value,
)

_WHAT_A_RECIPE_IS = f"a mapping of sections ({', '.join(SECTIONS)})"


@dataclasses.dataclass
class Recipe:
    """A validated, fully resolved recipe.

    ``model`` maps ``encoder``/``conditioner``/``sequence`` to component specs
    (``{"name": ..., **every Config field}``); ``loss`` and ``vocoder`` are specs too.
    ``data.instruments`` holds canonical instrument names; ``train.out`` is resolved.
    A ``train.task: vocoder`` recipe may leave out ``model`` and ``loss`` (then ``{}``).
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

        ``recipe_from_dict(r.to_dict())`` gives back an equal recipe. A vocoder recipe
        without ``model``/``loss`` sections has none in the dict either.
        """
        d = {
            "recipe": RECIPE_VERSION,
            "name": self.name,
            "data": dataclasses.asdict(self.data),
            "model": copy.deepcopy(self.model),
            "loss": copy.deepcopy(self.loss),
            "train": dataclasses.asdict(self.train),
            "vocoder": copy.deepcopy(self.vocoder),
        }
        for section in MEL2MEL_SECTIONS:
            if not d[section]:  # left out of a vocoder recipe: an empty one would not validate
                del d[section]
        return d

    def summary(self) -> str:
        """One line: what is trained (components or vocoder shape), on what, for how long."""
        n = len(self.data.instruments)
        instruments = f"{n} instrument{'s' if n != 1 else ''}"
        if self.train.task == "vocoder":
            return ", ".join([f"vocoder {_vocoder_shape(self.vocoder)}", f"audio of {instruments}",
                              f"{self.train.steps} steps"])
        parts = [instruments]
        parts += [f"{slot} {self.model[slot]['name']}" for slot in MODEL_SLOTS]
        parts += [f"loss {self.loss['name']}", f"vocoder {self.vocoder['name']}",
                  f"{self.train.steps} steps"]
        return ", ".join(parts)


def _vocoder_shape(spec: dict[str, Any]) -> str:
    """``wavenet (20 layers, R64 G128 S256)``; just the name for vocoders of another shape."""
    keys = ("n_layers", "residual_channels", "gate_channels", "skip_channels")
    if not all(k in spec for k in keys):
        return str(spec["name"])
    return (f"{spec['name']} ({spec['n_layers']} layers, R{spec['residual_channels']} "
            f"G{spec['gate_channels']} S{spec['skip_channels']})")


def find_recipe(name_or_path: str | os.PathLike) -> Path:
    """The recipe file a user names: an existing path, else a bundled recipe's name
    (``mel2mel_10inst``, ``ablations/proposed``; ``.yaml`` may be given).

    A missing file that names no bundled recipe is returned as it is, so loading it
    reports the missing file with the usual recipe error.
    """
    path = Path(name_or_path)
    if path.exists():
        return path
    from neuralsynth.assets import recipe_paths

    key = path.as_posix()
    key = key[:-len(".yaml")] if key.endswith(".yaml") else key
    return recipe_paths().get(key, path)


def load_recipe(path: str | os.PathLike, overrides: Iterable[str] = ()) -> Recipe:
    """Load, merge, override and validate a recipe: a file, or a bundled recipe's name
    (see :func:`find_recipe`; ``neuralsynth recipes`` lists them).

    Raises :class:`~neuralsynth.errors.RecipeError` listing every problem found.
    """
    path = find_recipe(path)
    source = os.fspath(path)
    problems = Problems()
    file_path = Path(source)
    loaded = _load_file(file_path, source, problems, (file_path.resolve(),))
    if loaded is None:  # the reason is always recorded, so this raises
        problems.raise_if_any()
    tree, locs = loaded
    recipe = _override_and_validate(tree, locs, problems, overrides, file_path.stem)
    recipe.source = source
    return recipe


def recipe_from_dict(d: dict[str, Any], overrides: Iterable[str] = (), *,
                     name: str = "recipe", source: str = "<dict>") -> Recipe:
    """Validate a recipe given as a plain mapping (e.g. the one stored in a checkpoint).

    ``name`` is used when the mapping has no ``name`` key; ``source`` names the origin
    in messages. ``extends`` is not available here (there is no file to resolve it from).
    """
    problems = Problems()
    problems.source(source)
    if not isinstance(d, dict):
        problems.add(Where(source), (), f"expected a mapping of sections, got {show_value(d)}")
        problems.raise_if_any()
    tree = copy.deepcopy(d)
    if "extends" in tree:
        tree.pop("extends")
        problems.add(Where(source), ("extends",), "extends is only supported in recipe files")
    return _override_and_validate(tree, Locations(Where(source)), problems, overrides, name)


def _override_and_validate(tree: dict, locs: Locations, problems: Problems,
                           overrides: Iterable[str], default_name: str) -> Recipe:
    for text in overrides:
        _apply_override(tree, locs, text, problems)
    fields = validate_recipe(tree, locs, problems, default_name)
    problems.raise_if_any()
    assert fields is not None
    return Recipe(**fields)


# -- `extends` -------------------------------------------------------------------------
def _load_file(path: Path, source: str, problems: Problems, stack: tuple[Path, ...]
               ) -> tuple[dict, Locations] | None:
    """Read one recipe file and, recursively, what it extends; ``None`` when unusable."""
    loaded = load_yaml_mapping(path, source, problems, _WHAT_A_RECIPE_IS)
    if loaded is None or "extends" not in loaded[0]:
        return loaded
    tree, locs = loaded
    ext = tree.pop("extends")
    ext_where = locs.of(("extends",))
    locs.drop(("extends",))
    if not isinstance(ext, str) or not ext.strip():
        problems.add(ext_where, ("extends",),
                     f"expected the path of a base recipe (str), got {show_value(ext)}")
        return None
    base_path = (path.parent / ext).resolve()
    base_source = os.path.normpath(os.path.join(os.path.dirname(source), ext))
    if base_path in stack:
        chain = " -> ".join([p.name for p in stack] + [base_path.name])
        problems.add(ext_where, ("extends",), f"extends cycle: {chain}")
        return None
    if not base_path.is_file():
        problems.add(ext_where, ("extends",),
                     f"base recipe '{ext}' not found (looked for {base_source})")
        return None
    loaded_base = _load_file(base_path, base_source, problems, stack + (base_path,))
    if loaded_base is None:
        return None
    base, base_locs = loaded_base
    base.pop("name", None)  # a run name belongs to its own file
    base_locs.drop(("name",))
    merged = _merge(base, tree, (), base_locs)
    base_locs.update(locs)
    base_locs.root = locs.root
    return merged, base_locs


def _merge(base: dict, child: dict, path: KeyPath, base_locs: Locations) -> dict:
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


def _is_spec_swap(base: dict, child: dict) -> bool:
    """Both are component specs naming different components."""
    return "name" in base and "name" in child and base["name"] != child["name"]


# -- `-o` overrides --------------------------------------------------------------------
def _apply_override(tree: dict, locs: Locations, text: str, problems: Problems) -> None:
    """Set ``a.b.c`` to the YAML value of ``text = "a.b.c=value"`` in ``tree``."""
    where = Where(f"override -o {text}")
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
        value = parse_yaml_value(raw)
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
            problems.add(where, parts[:i + 1], f"expected a mapping to set '{parts[i + 1]}' "
                                               f"in, got {show_value(node[part])}")
            return
        node = node[part]
    locs.drop(parts)
    node[parts[-1]] = value
    locs.set(parts, where)
