"""The MIDI files of a collection, and a unique file name for each piece."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterable

from neuralsynth.errors import UsageError

MIDI_SUFFIXES = (".mid", ".midi", ".smf", ".kar")


def discover_midi(sources: Iterable[str | os.PathLike]) -> list[Path]:
    """MIDI files named on the command line; directories are searched recursively.

    Files given explicitly are taken whatever their suffix (so a bad file is reported
    rather than silently ignored); inside directories only MIDI suffixes count. A file
    reached twice (named and inside a named directory) is taken once.
    """
    sources = list(sources)
    found: dict[Path, Path] = {}          # resolved path -> path as first reached
    for src in sources:
        p = Path(src)
        if p.is_dir():
            files = sorted(f for f in p.rglob("*")
                           if f.is_file() and f.suffix.lower() in MIDI_SUFFIXES)
        elif p.exists():
            files = [p]
        else:
            raise UsageError(f"no such file or directory: {p}")
        for f in files:
            found.setdefault(f.resolve(), f)
    if not found:
        raise UsageError("no MIDI files found in " + ", ".join(str(s) for s in sources))
    return list(found.values())


def piece_keys(files: list[Path]) -> list[str]:
    """A unique, filesystem-safe name per file (its stem; ``-2``, ``-3`` on clashes)."""
    keys: list[str] = []
    used: set[str] = set()
    for f in files:
        base = re.sub(r"[^A-Za-z0-9_.-]+", "_", f.stem).strip("._") or "piece"
        key, n = base, 1
        while key in used:
            n += 1
            key = f"{base}-{n}"
        used.add(key)
        keys.append(key)
    return keys
