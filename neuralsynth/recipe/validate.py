"""What a recipe may contain, and the check of a merged recipe tree against it.

Components are checked against the ``Config`` of the registered component they name,
``data``/``train`` against :mod:`neuralsynth.recipe.sections`. Every problem is recorded
(with the line of the key it is about) rather than raised, so one run of ``neuralsynth
check`` lists them all.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from neuralsynth.components.params import parse_config
from neuralsynth.errors import NeuralsynthError, PluginError, RecipeError, did_you_mean
from neuralsynth.recipe.sections import DataConfig, TrainConfig, required_fields
from neuralsynth.recipe.yaml_lines import KeyPath, Locations, Problems, show_value
from neuralsynth.vocoders.select import DEFAULT_VOCODER

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
    "vocoder": "mel-to-audio component used when rendering (default: griffin_lim); "
               "with train.task vocoder, what is trained (then model and loss may be "
               "left out)",
}
REQUIRED_SECTIONS = ("recipe", "data", "model", "loss")
#: Sections only the Mel2Mel task uses; a vocoder recipe may leave them out (when it has
#: them, e.g. through ``extends``, they are still checked, and stored, but not used).
MEL2MEL_SECTIONS = ("model", "loss")
MODEL_SLOTS = ("encoder", "conditioner", "sequence")
#: Sizes the model builder derives from other components; a recipe cannot set them.
DERIVED_SIZES = frozenset({"n_mels", "n_instruments", "in_dim", "out_dim", "channels",
                           "input_dim", "output_dim"})
_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


def validate_recipe(tree: dict, locs: Locations, problems: Problems,
                    default_name: str) -> dict[str, Any] | None:
    """Check ``tree``; the fields of a :class:`~neuralsynth.recipe.load.Recipe`, or ``None``.

    ``None`` when ``problems`` holds anything (including problems found before this
    call); ``default_name`` is the run name when the tree has no ``name``.
    """
    return _Validator(tree, locs, problems).run(default_name)


class _Validator:
    """Checks a merged tree section by section, recording every problem."""

    def __init__(self, tree: dict, locs: Locations, problems: Problems):
        self.tree = tree
        self.locs = locs
        self.problems = problems

    def add(self, path: KeyPath, message: str) -> None:
        self.problems.add(self.locs.of(path), path, message)

    def run(self, default_name: str) -> dict[str, Any] | None:
        # Imported here: the registries' base classes import torch, which loading
        # neuralsynth.recipe (for docs and `--help`) should not pay for.
        from neuralsynth.recipe.sections import REGISTRIES

        tree = self.tree
        self.top_level()
        name = self.name(default_name)
        data = self.data() if "data" in tree else None
        model = self.model(REGISTRIES) if "model" in tree else {}
        loss = self.component(REGISTRIES["loss"], tree["loss"], ("loss",)) \
            if "loss" in tree else {}
        section = self.mapping(tree.get("train", {}), ("train",), "a mapping of training settings")
        train = self.config(TrainConfig, section, ("train",)) if section is not None else None
        vocoder = self.component(REGISTRIES["vocoder"],
                                 tree.get("vocoder", dict(DEFAULT_VOCODER)), ("vocoder",))
        if train is not None and train.task == "vocoder" and vocoder is not None:
            self.trainable_vocoder(vocoder["name"])
        if self.problems:
            return None
        assert data is not None and loss is not None and train is not None and vocoder is not None
        if not train.out:
            train = dataclasses.replace(train, out=f"runs/{name}")
        return {"name": name, "data": data, "model": model, "loss": loss, "train": train,
                "vocoder": vocoder}

    # -- sections ----------------------------------------------------------------------
    def top_level(self) -> None:
        """Unknown and missing sections, and the format version."""
        for key in self.tree:
            if key not in SECTIONS:
                self.add((str(key),), f"unknown section{did_you_mean(str(key), SECTIONS)}; "
                                      f"allowed: {', '.join(SECTIONS)}")
        # A vocoder recipe does without the Mel2Mel sections. A misspelt task is reported
        # by the train check, and not also as missing model and loss sections.
        optional = MEL2MEL_SECTIONS if self.declared_task() != "mel2mel" else ()
        for key in REQUIRED_SECTIONS:
            if key not in self.tree and key not in optional:
                self.add((key,), f"missing required section ({SECTIONS[key]})")
        if "recipe" in self.tree:
            version = self.tree["recipe"]
            if version != RECIPE_VERSION or isinstance(version, bool):  # True == 1
                self.add(("recipe",), f"expected {RECIPE_VERSION} (the recipe format version), "
                                      f"got {show_value(version)}")

    def declared_task(self) -> Any:
        """``train.task`` as written (the default when absent); checked with the rest of train."""
        train = self.tree.get("train")
        return train.get("task", "mel2mel") if isinstance(train, dict) else "mel2mel"

    def trainable_vocoder(self, name: str) -> None:
        """A ``train.task: vocoder`` recipe must name a vocoder that declares a trainer."""
        from neuralsynth.recipe.sections import REGISTRIES

        vocoders = REGISTRIES["vocoder"]
        if getattr(vocoders.get(name), "trainer", None):
            return
        trainable = [n for n, cls in vocoders.available().items() if getattr(cls, "trainer", None)]
        allowed = ", ".join(trainable) or "none installed"
        why = "has no weights to train" if name == "griffin_lim" else "declares no trainer"
        if "vocoder" in self.tree:
            self.add(("vocoder", "name"), f"train.task vocoder needs a trainable vocoder "
                                          f"({allowed}); {name} {why}")
        else:
            self.add(("train", "task"), f"task vocoder needs a vocoder section naming a "
                                        f"trainable vocoder ({allowed}); the default, "
                                        f"{name}, {why}")

    def name(self, default_name: str) -> Any:
        # A file called "my recipe.yaml" still gets a usable directory name by default.
        name = self.tree.get("name", re.sub(r"[^A-Za-z0-9_.-]+", "_", default_name) or "recipe")
        if not isinstance(name, str) or not _NAME_RE.match(name):
            self.add(("name",), "expected a run name of letters, digits, '_', '-' or '.', "
                                f"got {show_value(name)}")
        return name

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

    def instruments(self, given: list) -> list[str] | None:
        """Canonical names for ``data.instruments``; each bad entry is its own problem."""
        from neuralsynth.midi.instruments import resolve_instrument

        canonical: list[str] = []
        first: dict[str, int] = {}
        for i, item in enumerate(given):
            path = ("data", "instruments", i)
            if not isinstance(item, str):
                self.add(path, f"expected an instrument name (str), got {show_value(item)}")
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

    def model(self, registries: dict) -> dict[str, dict]:
        section = self.mapping(self.tree["model"], ("model",),
                               f"a mapping with {', '.join(MODEL_SLOTS)}")
        if section is None:
            return {}
        for key in section:
            if key not in MODEL_SLOTS:
                self.add(("model", str(key)),
                         f"unknown model component{did_you_mean(str(key), MODEL_SLOTS)}; "
                         f"allowed: {', '.join(MODEL_SLOTS)}")
        model = {}
        for slot in MODEL_SLOTS:
            if slot not in section:
                self.add(("model", slot), f"missing required key; available {slot}s: "
                                          f"{', '.join(registries[slot].names())}")
                continue
            spec = self.component(registries[slot], section[slot], ("model", slot))
            if spec is not None:
                model[slot] = spec
        return model

    # -- building blocks ---------------------------------------------------------------
    def mapping(self, value: Any, path: KeyPath, what: str) -> dict | None:
        if isinstance(value, dict):
            return value
        self.add(path, f"expected {what}, got {show_value(value)}")
        return None

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
            self.add(path + ("name",), f"expected a {kind} name (str), got {show_value(name)}; "
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

    def config(self, cls: type, values: dict, path: KeyPath) -> Any | None:
        """Build a typed Config from ``values``; every problem is recorded."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        missing = [name for name in required_fields(cls) if name not in values]
        for name in missing:
            self.add(path + (name,),
                     f"missing required key ({fields[name].metadata.get('help', '')})")
        try:
            config, problems = parse_config(cls, values)
        except TypeError as exc:
            if not missing:  # a missing field also fails the constructor: reported above
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
        if missing:
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
