"""Error types a user sees.

Everything raised as a :class:`NeuralsynthError` is a problem with the user's input
(a file, a flag, a recipe) rather than a bug: the CLI prints its message on one line
and exits with :attr:`exit_code`, without a traceback.
"""

from __future__ import annotations

import difflib
import importlib.util
from typing import Iterable


class NeuralsynthError(Exception):
    """A problem the user can fix; printed as one line by the CLI."""

    exit_code = 1
    #: Set on the other ranks of a distributed run, where one rank already said it.
    silent = False


class UsageError(NeuralsynthError):
    """A bad command-line value (timbre spec, path, option combination)."""

    exit_code = 2


class MidiError(NeuralsynthError):
    """A MIDI file that cannot be read or has nothing to play."""


class AudioError(NeuralsynthError):
    """An audio file that cannot be read or has the wrong format."""


class CheckpointError(NeuralsynthError):
    """A checkpoint that is missing, corrupt, or refused by safe loading."""


class TimbreError(UsageError):
    """A timbre spec that does not parse or names an unknown instrument."""


class DataError(NeuralsynthError):
    """A dataset directory or manifest that is missing or malformed."""


class PluginError(NeuralsynthError):
    """A component provider problem (duplicate names, unknown component)."""


class RecipeError(NeuralsynthError):
    """One or more problems in a recipe; all of them are reported together.

    ``problems`` holds one formatted line per problem, already prefixed with
    ``file:line: dotted.key:``.
    """

    exit_code = 2

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        n = len(self.problems)
        head = f"recipe has {n} problem{'s' if n != 1 else ''}"
        super().__init__(head + ":\n" + "\n".join("  " + p for p in self.problems))


def did_you_mean(word: str, options: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest option, or an empty string: the hint every
    "unknown name" message of this package ends with."""
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


class MissingExtraError(UsageError):
    """A command needs an optional dependency group (an "extra") that is not installed."""


def require_extra(module: str, extra: str, purpose: str) -> None:
    """Raise :class:`MissingExtraError` when ``module`` (a top-level import name) is not
    installed: ``"<purpose> needs <module>: pip install 'neuralsynth[<extra>]'"``.

    Only looks the module up (nothing is imported), so it is cheap enough to run before
    any work; a module that is installed but fails to load is left to its own check.
    """
    try:
        missing = importlib.util.find_spec(module) is None
    except ValueError:          # in sys.modules without a spec: blocked on purpose
        missing = True
    if missing:
        raise MissingExtraError(f"{purpose} needs {module}, which is not installed; "
                                f"install it with: pip install 'neuralsynth[{extra}]'")
