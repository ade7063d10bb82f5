"""Error types a user sees.

Everything raised as a :class:`NeuralsynthError` is a problem with the user's input
(a file, a flag, a recipe) rather than a bug: the CLI prints its message on one line
and exits with :attr:`exit_code`, without a traceback.
"""

from __future__ import annotations


class NeuralsynthError(Exception):
    """A problem the user can fix; printed as one line by the CLI."""

    exit_code = 1


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
