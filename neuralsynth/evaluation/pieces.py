"""Which dataset items an evaluation looks at: pieces of a split, spread, as model rows.

A *piece* is one MIDI file; its *items* are the recordings of it as each instrument. The
evaluation takes every item of the chosen pieces whose instrument the model knows (the
manifest's names are matched to the model's as ``render --timbre`` would match them).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Sequence, TypeVar

from neuralsynth.data.manifest import Item, read_manifest
from neuralsynth.data.splits import SPLITS
from neuralsynth.errors import DataError, NeuralsynthError, UsageError
from neuralsynth.midi.instruments import resolve_instrument

#: ``split`` values: the manifest's splits, or ``all`` for both.
SPLIT_CHOICES = (*SPLITS, "all")

T = TypeVar("T")


@dataclasses.dataclass
class Piece:
    """One MIDI file and its recordings: ``items[k]`` is played as model instrument
    ``rows[k]`` (its row of the embedding table)."""

    midi: Path
    items: list[Item]
    rows: list[int]


def spread(seq: Sequence[T], n: int | None) -> list[T]:
    """``n`` elements of ``seq`` evenly spread over it, first one included (all if
    ``n`` is None or not smaller than ``len(seq)``)."""
    if n is None or n >= len(seq):
        return list(seq)
    return [seq[(i * len(seq)) // n] for i in range(n)]


def select_pieces(dataset: str | os.PathLike, model_instruments: Sequence[str], *,
                  split: str = "val", pieces: int | None = None) -> list[Piece]:
    """The pieces of ``split`` (``val``, ``train`` or ``all``), sorted by MIDI path, ``pieces``
    of them spread over the list, each with its items the model has an instrument for.

    Raises :class:`UsageError` for a bad ``split`` or ``pieces`` and :class:`DataError`
    when the dataset is unreadable or has nothing the model can be compared with.
    """
    if split not in SPLIT_CHOICES:
        raise UsageError(f"unknown split '{split}'; choose from {', '.join(SPLIT_CHOICES)}")
    if pieces is not None and (isinstance(pieces, bool) or not isinstance(pieces, int)
                               or pieces < 1):
        raise UsageError(f"pieces must be a whole number >= 1, got {pieces!r}")
    manifest = read_manifest(dataset)
    known = list(model_instruments)
    row_of: dict[str, int] = {}
    for name in manifest.instruments:
        try:
            row_of[name] = known.index(resolve_instrument(name, known))
        except NeuralsynthError:
            continue        # an instrument the model was not trained on
    if not row_of:
        raise DataError(f"dataset '{dataset}' has no recordings of the model's instruments "
                        f"({', '.join(known)}); it has {', '.join(manifest.instruments)}")
    items = manifest.items if split == "all" else manifest.split(split)
    by_midi: dict[Path, list[Item]] = {}
    for it in items:
        if it.instrument in row_of:
            by_midi.setdefault(it.midi, []).append(it)
    if not by_midi:
        raise DataError(f"dataset '{dataset}' has no {split} items of the model's "
                        f"instruments")
    chosen = spread(sorted(by_midi), pieces)
    out = []
    for midi in chosen:
        own = sorted(by_midi[midi], key=lambda it: row_of[it.instrument])
        out.append(Piece(midi, own, [row_of[it.instrument] for it in own]))
    return out
