"""Which General MIDI SoundFont dataset synthesis renders with."""

from __future__ import annotations

import os
from pathlib import Path

from neuralsynth.errors import DataError

#: Tried in order when no SoundFont is named: the full MuseScore font sounds best, the
#: others are what common Debian/Ubuntu packages install.
DEFAULT_SOUNDFONTS = (
    "/usr/share/sounds/sf3/MuseScore_General.sf3",
    "/usr/share/sounds/sf3/MuseScore_General_Lite.sf3",
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
)


def find_soundfont(path: str | os.PathLike | None = None) -> Path:
    """The SoundFont to render with: ``path`` if given, else the first system default.

    Raises :class:`DataError` when the given file is missing or no default is installed.
    """
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise DataError(f"SoundFont '{p}' not found")
        return p
    for candidate in DEFAULT_SOUNDFONTS:
        if Path(candidate).is_file():
            return Path(candidate)
    raise DataError("no General MIDI SoundFont found (looked for "
                    + ", ".join(DEFAULT_SOUNDFONTS)
                    + "); install one (Debian: fluid-soundfont-gm or musescore-general-soundfont"
                      "-lite) or pass --soundfont FILE")
