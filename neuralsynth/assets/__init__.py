"""Files shipped inside the package, and where to find them.

- ``models/*.pt``: bundled models; ``default.pt`` is what ``render`` uses without
  ``--model`` (see :func:`neuralsynth.inference.load.default_model_path`).
- ``examples/*.mid``: ``quartet.mid`` (five named tracks on GM programs, drums included;
  ``examples/compose_tracks.py``) and ``etude_1.mid`` … ``etude_3.mid``, short piano
  études written by ``examples/compose.py`` (seeds 100-102) in the source repository: generated, not
  transcribed, so they are free to ship. They give a fresh install something to render::

      neuralsynth examples                      # list them with their paths
      neuralsynth examples --copy midi/         # copy them somewhere editable

- ``recipes/*.yaml``: the recipes (``recipes/`` of the source tree links here), so
  ``neuralsynth train mel2mel_small_cpu`` works from any directory.

Everything here is plain files read through :mod:`importlib.resources`; a zipped install
has no paths on disk, and then the locators find nothing (never a wrong path).
"""

from __future__ import annotations

import importlib.resources
import os
import shutil
from pathlib import Path

#: Suffix of the bundled example files.
EXAMPLE_SUFFIX = ".mid"
MODEL_SUFFIX = ".pt"
RECIPE_SUFFIX = ".yaml"


def asset_dir(kind: str) -> Path | None:
    """The folder ``assets/<kind>`` on disk, or None (zipped install, or no such folder)."""
    root = importlib.resources.files(__name__) / kind
    return root if isinstance(root, Path) and root.is_dir() else None


def _files(kind: str, suffix: str, *, recursive: bool = False) -> list[Path]:
    root = asset_dir(kind)
    if root is None:
        return []
    found = root.rglob(f"*{suffix}") if recursive else root.iterdir()
    return sorted(p for p in found if p.suffix == suffix and p.is_file())


def example_paths() -> list[Path]:
    """Paths of the bundled example MIDI files, sorted by name."""
    return _files("examples", EXAMPLE_SUFFIX)


def model_paths() -> dict[str, Path]:
    """Bundled models by name (file stem): ``{"default": .../default.pt, ...}``."""
    return {p.stem: p for p in _files("models", MODEL_SUFFIX)}


def recipe_paths() -> dict[str, Path]:
    """Bundled recipes by name: the path under ``recipes/`` without ``.yaml``
    (``mel2mel_10inst``, ``ablations/proposed``)."""
    root = asset_dir("recipes")
    return {p.relative_to(root).with_suffix("").as_posix(): p
            for p in _files("recipes", RECIPE_SUFFIX, recursive=True)} if root else {}


def copy_examples(dest: str | os.PathLike, *, force: bool = False) -> list[Path]:
    """Copy every bundled example into directory ``dest`` (created if needed).

    A file of the same name that already holds different bytes is not replaced unless
    ``force``: all such clashes are reported together, before anything is copied
    (:class:`~neuralsynth.errors.UsageError`). Each copy is written atomically.
    Returns the destination paths.
    """
    from neuralsynth.errors import UsageError
    from neuralsynth.fileio import atomic_path

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


__all__ = ["asset_dir", "copy_examples", "example_paths", "model_paths", "recipe_paths"]
