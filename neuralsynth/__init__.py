"""neuralsynth: MIDI to audio with a learned, continuous timbre space (Mel2Mel).

The public Python API (importing this package is cheap: torch is imported when a name
below is first used, not before)::

    import neuralsynth as ns
    synth = ns.load_model()                                  # the bundled model
    audio = synth.render("song.mid", "piano:0.3,organ:0.7")  # ns.Audio
    audio.write("song.wav")
    recipe = ns.load_recipe("mel2mel_small_cpu")             # a bundled name or a path

See docs/python.md. Plugin authors: :mod:`neuralsynth.plugin`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from neuralsynth.version import __version__

#: Public name → the module that defines it; imported on first attribute access.
_LAZY = {
    "load_model": "neuralsynth.inference.synth",
    "Synth": "neuralsynth.inference.synth",
    "Audio": "neuralsynth.audio.clip",
    "load_recipe": "neuralsynth.recipe.load",
    "Recipe": "neuralsynth.recipe.load",
    "NeuralsynthError": "neuralsynth.errors",
}

if TYPE_CHECKING:  # for type checkers and IDEs; at run time __getattr__ does this lazily
    from neuralsynth.audio.clip import Audio
    from neuralsynth.errors import NeuralsynthError
    from neuralsynth.inference.synth import Synth, load_model
    from neuralsynth.recipe.load import Recipe, load_recipe


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'neuralsynth' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value          # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = ["__version__", "load_model", "Synth", "Audio", "load_recipe", "Recipe",
           "NeuralsynthError"]
