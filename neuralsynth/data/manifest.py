"""Reading and checking a dataset directory's ``manifest.json``.

A dataset directory (made by ``neuralsynth data synth``, format in ``docs/dataset.md``)
holds ``manifest.json``, the MIDI files and one WAV per (piece, instrument). This module
does not import torch, so ``data synth`` and ``data info`` stay light.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from neuralsynth.data.splits import SPLITS, TRAIN
from neuralsynth.errors import DataError, NeuralsynthError
from neuralsynth.midi.instruments import resolve_instrument

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1
_ITEM_KEYS = ("id", "midi", "audio", "instrument", "split")


@dataclasses.dataclass(frozen=True)
class Item:
    """One rendering of one piece. Paths are absolute."""

    id: str
    midi: Path
    audio: Path
    instrument: str
    split: str
    seconds: float | None = None


@dataclasses.dataclass
class Manifest:
    """A parsed, checked ``manifest.json``."""

    root: Path
    sample_rate: int
    instruments: list[str]
    items: list[Item]

    def split(self, name: str) -> list[Item]:
        return [it for it in self.items if it.split == name]


def read_manifest(root: str | os.PathLike, *, check_files: bool = True) -> Manifest:
    """Parse and check ``root/manifest.json``.

    Raises :class:`DataError` (one line) for a missing directory or manifest, invalid
    JSON, a wrong format version or sample rate, malformed or duplicate items, unknown
    splits or instruments, and (with ``check_files``) listed files that do not exist.
    """
    # Imported here: neuralsynth.audio imports torch, which this module avoids.
    from neuralsynth.audio.constants import SAMPLE_RATE

    root = Path(root)
    path, data = _load_json(root)
    if data.get("format") != MANIFEST_FORMAT:
        raise DataError(f"{path}: unsupported manifest format {data.get('format')!r} "
                        f"(expected {MANIFEST_FORMAT})")
    if data.get("sample_rate") != SAMPLE_RATE:
        raise DataError(f"{path}: sample_rate is {data.get('sample_rate')!r}, expected "
                        f"{SAMPLE_RATE}")
    instruments = data.get("instruments")
    if not (isinstance(instruments, list) and instruments
            and all(isinstance(i, str) for i in instruments)):
        raise DataError(f"{path}: 'instruments' must be a non-empty list of names")
    raw_items = data.get("items")
    if not isinstance(raw_items, list):
        raise DataError(f"{path}: 'items' must be a list")

    items: list[Item] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_items):
        item = _parse_item(raw, path, i, instruments)
        if item.id in seen:
            raise DataError(f"{path}: item '{item.id}': duplicate id")
        seen.add(item.id)
        items.append(item)
    if not items:
        raise DataError(f"{path}: the dataset has no items")

    # A piece in both splits would let validation measure memorisation.
    split_of: dict[Path, str] = {}
    for it in items:
        if split_of.setdefault(it.midi, it.split) != it.split:
            raise DataError(f"{path}: MIDI file '{it.midi.name}' is in both the train and the "
                            f"val split")
    if check_files:
        missing = sorted({str(p) for it in items for p in (it.midi, it.audio) if not p.is_file()})
        if missing:
            raise DataError(f"{root}: {len(missing)} file(s) listed in {MANIFEST_NAME} are "
                            f"missing, e.g. {missing[0]}")
    return Manifest(root=root, sample_rate=int(data["sample_rate"]),
                    instruments=list(instruments), items=items)


def _load_json(root: Path) -> tuple[Path, dict[str, Any]]:
    """``root/manifest.json`` and its JSON object; DataError when there is none."""
    if not root.exists():
        raise DataError(f"dataset directory '{root}' does not exist "
                        f"(build one with `neuralsynth data synth`)")
    if not root.is_dir():
        raise DataError(f"dataset '{root}' is not a directory")
    path = root / MANIFEST_NAME
    if not path.is_file():
        raise DataError(f"'{root}' has no {MANIFEST_NAME}; it is not a dataset directory "
                        f"(build one with `neuralsynth data synth`)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: "
                        f"{exc.msg}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return path, data


def _parse_item(raw: Any, path: Path, index: int, instruments: list[str]) -> Item:
    """Entry ``index`` of the ``items`` of manifest ``path``, with absolute paths."""
    where = f"{path}: item {index}"  # by position until the id is known to be there
    if not isinstance(raw, dict):
        raise DataError(f"{where}: expected an object, got {type(raw).__name__}")
    for key in _ITEM_KEYS:
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise DataError(f"{where}: missing or empty '{key}'")
    where = f"{path}: item '{raw['id']}'"
    if raw["split"] not in SPLITS:
        raise DataError(f"{where}: unknown split '{raw['split']}' "
                        f"(expected {' or '.join(repr(s) for s in SPLITS)})")
    if raw["instrument"] not in instruments:
        raise DataError(f"{where}: instrument '{raw['instrument']}' is not in the "
                        f"manifest's instruments ({', '.join(instruments)})")
    seconds = raw.get("seconds")
    return Item(id=raw["id"], midi=(path.parent / raw["midi"]).resolve(),
                audio=(path.parent / raw["audio"]).resolve(),
                instrument=raw["instrument"], split=raw["split"],
                seconds=float(seconds) if isinstance(seconds, (int, float)) else None)


def instrument_indices(manifest: Manifest, recipe_instruments: list[str]) -> dict[str, int]:
    """Row of the embedding table for each manifest instrument.

    The row is the position in the recipe's instrument list; a manifest name matches a
    recipe name when both denote the same GM program (``piano`` ~ ``grand_piano``).
    Dataset instruments the recipe does not name are left out of the mapping, so a recipe
    can train on a subset of a larger dataset (its items are skipped). Raises
    :class:`DataError` when the recipe names an instrument the dataset has no training
    items of (its embedding could not be learned).
    """
    mapping: dict[str, int] = {}
    for name in manifest.instruments:
        try:
            mapping[name] = recipe_instruments.index(resolve_instrument(name, recipe_instruments))
        except NeuralsynthError:
            continue  # not in this recipe: its items are not used
    used = {mapping[it.instrument] for it in manifest.split(TRAIN) if it.instrument in mapping}
    absent = [name for i, name in enumerate(recipe_instruments) if i not in used]
    if absent:
        raise DataError(f"dataset '{manifest.root}' has no training items for recipe "
                        f"instrument(s) {', '.join(absent)}")
    return mapping
