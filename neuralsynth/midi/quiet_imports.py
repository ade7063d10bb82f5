"""Import pretty_midi and pyfluidsynth without them writing to standard output.

pyfluidsynth prints "'fluidsynth' was found at …" on import whenever the environment
variable ``CI`` is set, and pretty_midi imports pyfluidsynth. On standard output that line
breaks machine-read output: the table of ``neuralsynth tracks``, ``--json`` reports, and
``render -o -``, whose standard output is the audio file itself. Every import of either
library in neuralsynth goes through here.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import sys
from types import ModuleType


def _quiet_import(name: str) -> ModuleType:
    module = sys.modules.get(name)
    if module is not None:
        return module
    # The debug line is dropped: where the shared library was found is not news to a
    # user, and nothing else is printed by these imports.
    with contextlib.redirect_stdout(io.StringIO()):
        return importlib.import_module(name)


def pretty_midi() -> ModuleType:
    """The ``pretty_midi`` module, imported quietly on first use."""
    return _quiet_import("pretty_midi")


def fluidsynth() -> ModuleType:
    """The ``fluidsynth`` (pyfluidsynth) module; raises ImportError/OSError like the import."""
    return _quiet_import("fluidsynth")
