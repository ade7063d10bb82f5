"""Example MIDI files shipped inside the package.

``etude_1.mid`` … ``etude_3.mid`` are short piano études written by
``examples/compose.py`` (seeds 100-102) in the source repository: generated, not
transcribed, so they are free to ship. They give a fresh install something to render:

    neuralsynth examples                      # list them with their paths
    neuralsynth examples --copy midi/         # copy them somewhere editable
"""

from __future__ import annotations

import importlib.resources
import os
import shutil
from pathlib import Path

#: Suffix of the bundled example files.
EXAMPLE_SUFFIX = ".mid"


def example_paths() -> list[Path]:
    """Paths of the bundled example MIDI files, sorted by name.

    Empty for a zipped install, where package data has no path on disk.
    """
    root = importlib.resources.files(__name__)
    if not isinstance(root, Path):
        return []
    return sorted(p for p in root.iterdir()
                  if p.suffix == EXAMPLE_SUFFIX and p.is_file())


def copy_examples(dest: str | os.PathLike, *, force: bool = False) -> list[Path]:
    """Copy every bundled example into directory ``dest`` (created if needed).

    A file of the same name that already holds different bytes is not replaced unless
    ``force``: all such clashes are reported together, before anything is copied
    (:class:`~neuralsynth.errors.UsageError`). Each copy is written atomically.
    Returns the destination paths.
    """
    from ..errors import UsageError
    from ..fileio import atomic_path

    out = Path(dest)
    if out.exists() and not out.is_dir():
        raise UsageError(f"'{out}' exists and is not a directory")
    sources = example_paths()
    if not sources:
        raise UsageError("no bundled example MIDI files are installed")
    targets = [(src, out / src.name) for src in sources]
    dirs = [t.name for _, t in targets if t.is_dir()]
    if dirs:
        raise UsageError(f"cannot copy over director{'ies' if len(dirs) > 1 else 'y'} "
                         f"{', '.join(dirs)} in '{out}'")
    clashes = [t.name for s, t in targets if t.exists() and t.read_bytes() != s.read_bytes()]
    if clashes and not force:
        verb = "exists" if len(clashes) == 1 else "exist"
        raise UsageError(f"{', '.join(clashes)} already {verb} in '{out}' with other "
                         f"content; use --force to replace them")
    for src, target in targets:
        with atomic_path(target) as tmp:
            shutil.copyfile(src, tmp)
    return [t for _, t in targets]


__all__ = ["copy_examples", "example_paths"]
