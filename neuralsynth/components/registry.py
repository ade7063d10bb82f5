"""Registries of components, one per kind, backed by entry points.

    VOCODERS = Registry("vocoder", base=Vocoder, group="neuralsynth.vocoders")
    VOCODERS.names()                                    # imports nothing
    VOCODERS.build({"name": "griffin_lim", "n_iter": 32}, n_mels=80)

A component class has a nested ``Config`` dataclass (see :mod:`neuralsynth.components.params`);
``build`` checks the spec against it and passes derived sizes as keyword arguments.
"""

from __future__ import annotations

from typing import Any

from neuralsynth.components import plugins
from neuralsynth.components.params import parse_config
from neuralsynth.errors import PluginError, RecipeError, did_you_mean


class Registry:
    """Named components of one kind (encoder, conditioner, sequence, vocoder, loss)."""

    def __init__(self, kind: str, base: type, group: str):
        self.kind = kind
        self.base = base
        self.group = group
        self._table: dict[str, plugins.EntryPointInfo] | None = None
        self._loaded: dict[str, type] = {}

    # -- discovery -------------------------------------------------------------------
    def _entries(self) -> dict[str, plugins.EntryPointInfo]:
        if self._table is None:
            table: dict[str, plugins.EntryPointInfo] = {}
            clashes: list[str] = []
            for info in plugins.discover(self.group):
                other = table.get(info.name)
                if other is not None:
                    clashes.append(f"{self.kind} '{info.name}' is provided by both "
                                   f"'{other.distribution}' ({other.value}) and "
                                   f"'{info.distribution}' ({info.value})")
                table[info.name] = info
            if clashes:
                raise PluginError("; ".join(clashes))
            self._table = table
        return self._table

    def refresh(self) -> None:
        """Forget discovered entry points (after installing a plugin at run time)."""
        self._table = None
        self._loaded.clear()

    def names(self) -> list[str]:
        """Declared component names, sorted; nothing is imported."""
        return sorted(self._entries())

    def provider(self, name: str) -> tuple[str, str]:
        """``(distribution, version)`` that declares ``name``."""
        info = self._entries()[name]
        return info.distribution, info.version

    # -- loading ---------------------------------------------------------------------
    def get(self, name: str) -> type:
        """The component class registered as ``name``.

        Raises :class:`PluginError` for unknown names (with a did-you-mean) and for
        providers that failed to import.
        """
        if name in self._loaded:
            return self._loaded[name]
        entries = self._entries()
        if name not in entries:
            raise PluginError(f"unknown {self.kind} '{name}'{did_you_mean(name, entries)}; "
                              f"available: {', '.join(sorted(entries)) or '(none)'}")
        cls = plugins.load(entries[name])
        if cls is None:
            failure = next(f for f in plugins.failures(self.group) if f.name == name)
            raise PluginError(f"{self.kind} '{name}' from '{failure.distribution}' could not "
                              f"be imported: {failure.error}")
        if not (isinstance(cls, type) and issubclass(cls, self.base)):
            raise PluginError(f"{self.kind} '{name}' from '{entries[name].distribution}' is "
                              f"not a subclass of {self.base.__name__}")
        self._loaded[name] = cls
        return cls

    def available(self) -> dict[str, type]:
        """Every component that imports cleanly (failures go to the plugin ledger)."""
        out = {}
        for name in self.names():
            try:
                out[name] = self.get(name)
            except PluginError:
                continue
        return out

    # -- building --------------------------------------------------------------------
    def parse(self, spec: dict[str, Any]) -> tuple[type, Any]:
        """Check a ``{"name": ..., **params}`` spec; return ``(class, config)``.

        Raises :class:`RecipeError` listing every problem with the spec.
        """
        if not isinstance(spec, dict) or "name" not in spec:
            raise RecipeError([f"{self.kind}: expected a mapping with a 'name' key; "
                               f"available: {', '.join(self.names())}"])
        params = {k: v for k, v in spec.items() if k != "name"}
        try:
            cls = self.get(spec["name"])
        except PluginError as exc:
            raise RecipeError([str(exc)]) from None
        config, problems = parse_config(cls.Config, params)
        if problems:
            raise RecipeError([f"{self.kind}.{key}: {msg}" for key, msg in problems])
        return cls, config

    def build(self, spec: dict[str, Any], **derived: Any) -> Any:
        """Instantiate the component: ``cls(config, **derived)``."""
        cls, config = self.parse(spec)
        return cls(config, **derived)
