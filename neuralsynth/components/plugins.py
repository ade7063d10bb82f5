"""Entry-point discovery and the ledger of providers that failed to import.

Built-in components and third-party ones are found the same way: through
``importlib.metadata`` entry points in the ``neuralsynth.*`` groups. Listing names
imports nothing; a component's module is imported only when it is first used.
A provider whose import raises is skipped with one warning and remembered here so that
``neuralsynth components`` can show it. ``NEURALSYNTH_RAISE_PLUGIN_ERRORS=1`` re-raises
instead, for plugin authors chasing the cause.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata as md
import os
import sys
import warnings
from typing import Any


class PluginWarning(UserWarning):
    """Emitted once per provider that failed to import."""


@dataclasses.dataclass(frozen=True)
class EntryPointInfo:
    """One declared component: where it comes from and how to import it."""

    group: str
    name: str
    value: str
    distribution: str
    version: str
    entry_point: Any = dataclasses.field(compare=False, repr=False)


@dataclasses.dataclass(frozen=True)
class PluginFailure:
    """A provider that raised while importing."""

    group: str
    name: str
    distribution: str
    error: str


_FAILURES: dict[tuple[str, str], PluginFailure] = {}


def raise_errors() -> bool:
    """Whether ``NEURALSYNTH_RAISE_PLUGIN_ERRORS`` asks for import errors to propagate."""
    return os.environ.get("NEURALSYNTH_RAISE_PLUGIN_ERRORS", "").strip() not in ("", "0", "false")


def discover(group: str) -> list[EntryPointInfo]:
    """All entry points of ``group``, without importing anything.

    The same distribution can be visible twice on ``sys.path`` (an editable install plus
    a build directory); identical declarations are therefore merged.
    """
    seen: dict[tuple[str, str, str], EntryPointInfo] = {}
    for ep in md.entry_points(group=group):
        dist = getattr(ep, "dist", None)
        dist_name = dist.metadata["Name"] if dist is not None else "unknown"
        version = dist.version if dist is not None else "?"
        info = EntryPointInfo(group, ep.name, ep.value, dist_name, version, ep)
        seen.setdefault((ep.name, ep.value, dist_name), info)
    return list(seen.values())


def load(info: EntryPointInfo) -> Any | None:
    """Import the object behind an entry point; ``None`` (and one warning) on failure."""
    key = (info.group, info.name)
    if key in _FAILURES:
        return None
    try:
        return info.entry_point.load()
    except Exception as exc:  # a broken plugin must not take the toolkit down
        if raise_errors():
            raise
        failure = PluginFailure(info.group, info.name, info.distribution,
                                f"{type(exc).__name__}: {exc}".splitlines()[0])
        _FAILURES[key] = failure
        warnings.warn(
            f"plugin component '{info.name}' ({info.group}) from '{info.distribution}' "
            f"failed to import and is skipped: {failure.error} "
            f"(set NEURALSYNTH_RAISE_PLUGIN_ERRORS=1 to see the traceback)",
            PluginWarning, stacklevel=2)
        return None


def failures(group: str | None = None) -> list[PluginFailure]:
    """Providers that failed to import so far, optionally only those of one group."""
    return [f for f in _FAILURES.values() if group is None or f.group == group]


def install_warning_format() -> None:
    """Print PluginWarnings as one plain line on stderr (used by the CLI)."""
    previous = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, PluginWarning):
            print(f"warning: {message}", file=sys.stderr)
        else:
            previous(message, category, filename, lineno, file, line)

    warnings.showwarning = show
