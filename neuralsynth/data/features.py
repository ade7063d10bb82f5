"""A dataset's items as frame-aligned training features, cached on disk.

For training each item becomes a pair of frame-aligned sequences:

- ``x``: the model encoder's features of the MIDI notes, ``[T, in_dim]``
- ``mel``: the linear-magnitude mel spectrogram of the audio, ``[T, 80]``

with ``T = n_frames(audio samples)``. Features are computed once and kept in memory;
a copy goes to ``DIR/cache/`` (keyed by the source files' size and mtime and the feature
settings) so the next run starts without recomputing them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterable

import torch

from neuralsynth.data.manifest import Item, instrument_indices, read_manifest
from neuralsynth.data.splits import SPLITS
from neuralsynth.errors import DataError, NeuralsynthError
from neuralsynth.fileio import atomic_path

# Bump when the cache file layout changes, so old files are recomputed, not misread.
_CACHE_VERSION = 3
#: Features are stored in half precision: a 10-instrument dataset of 10 hours per
#: instrument is 45 M frames, 14 GB of float32 mel but 7 GB in float16. The values fit
#: (velocity/127 in [0, 1]; mel magnitudes between MAG_FLOOR and ~1e3, relative error
#: 5e-4, which the tanh-log loss cannot see). Batches are assembled in float32.
STORAGE_DTYPE = torch.float16


@dataclasses.dataclass
class Example:
    """Features of one item: ``x [T, in_dim]``, linear ``mel [T, n_mels]``, instrument row.

    Both tensors are stored as :data:`STORAGE_DTYPE`; cast them before computing with them.
    """

    id: str
    x: torch.Tensor
    mel: torch.Tensor
    instrument: int

    @property
    def n_frames(self) -> int:
        return int(self.mel.shape[0])


def feature_key(encoder: Any) -> dict[str, Any]:
    """What the features depend on besides the files: encoder and mel settings."""
    from neuralsynth.audio import spectral as audio

    config = encoder.config
    cfg = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else repr(config)
    return {"cache": _CACHE_VERSION,
            "encoder": f"{type(encoder).__module__}.{type(encoder).__qualname__}",
            "encoder_config": cfg,
            "encoder_rate": [getattr(encoder, "sample_rate", None),
                             getattr(encoder, "hop_length", None)],
            "mel": [audio.SAMPLE_RATE, audio.N_FFT, audio.HOP_LENGTH, audio.N_MELS,
                    audio.F_MIN, audio.F_MAX, audio.MAG_FLOOR]}


def _file_stamp(p: Path) -> list:
    st = p.stat()
    return [p.name, st.st_size, st.st_mtime_ns]


class FeatureSet:
    """Features of a dataset's items for one encoder, in memory.

    ``examples(split)`` → list of :class:`Example`. ``x`` tensors are shared between
    the renderings of one piece (the notes are the same), so memory grows with the
    number of pieces for ``x`` and with the number of items for ``mel``.
    """

    def __init__(self, root: str | os.PathLike, recipe_instruments: list[str], encoder: Any,
                 *, cache: bool = True, progress: bool = False,
                 splits: Iterable[str] = SPLITS):
        from tqdm import tqdm

        self.manifest = read_manifest(root)
        self.instrument_index = instrument_indices(self.manifest, list(recipe_instruments))
        self.encoder = encoder
        self._key = json.dumps(feature_key(encoder), sort_keys=True)
        self._mel_settings = feature_key(encoder)["mel"] + [_CACHE_VERSION]
        self._cache_dir = self.manifest.root / "cache"
        self._cache = cache
        self._x: dict[tuple[Path, int], torch.Tensor] = {}
        self._notes: dict[Path, Any] = {}
        splits = set(splits)
        wanted = [it for it in self.manifest.items
                  if it.split in splits and it.instrument in self.instrument_index]
        self._examples: dict[str, list[Example]] = {s: [] for s in SPLITS}
        for it in tqdm(wanted, desc="features", unit="item", disable=not progress,
                       dynamic_ncols=True, leave=False):
            self._examples[it.split].append(self._load(it))

    def examples(self, split: str) -> list[Example]:
        return self._examples[split]

    def _load(self, item: Item) -> Example:
        mel_path, mel_key = self._mel_entry(item)
        mel = self._read_cache(mel_path, mel_key, "mel") if self._cache else None
        if mel is None:
            mel = self._mel(item)
            if self._cache:
                self._write_cache(mel_path, mel_key, "mel", mel)
        x = self._features(item.midi, int(mel.shape[0]))
        return Example(item.id, x, mel, self.instrument_index[item.instrument])

    def _mel(self, item: Item) -> torch.Tensor:
        from neuralsynth.audio.spectral import mel_spectrogram, read_audio

        try:
            wave = read_audio(item.audio)
        except NeuralsynthError as exc:
            raise DataError(f"item '{item.id}': {exc}") from None
        return mel_spectrogram(wave).to(STORAGE_DTYPE).contiguous()

    def _features(self, midi: Path, n_frames: int) -> torch.Tensor:
        key = (midi, n_frames)
        if key in self._x:
            return self._x[key]
        # One piece has one feature tensor, shared in memory and on disk by its renderings.
        path, cache_key = self._x_entry(midi, n_frames)
        x = self._read_cache(path, cache_key, "x") if self._cache else None
        if x is None or x.shape[0] != n_frames:
            x = torch.as_tensor(self.encoder.encode(self._notes_of(midi), n_frames))
            x = x.to(STORAGE_DTYPE).contiguous()
            if self._cache:
                self._write_cache(path, cache_key, "x", x)
        self._x[key] = x
        return x

    def _notes_of(self, midi: Path):
        if midi not in self._notes:
            from neuralsynth.midi.read import load_notes

            try:
                self._notes[midi] = load_notes(midi)
            except NeuralsynthError as exc:
                raise DataError(str(exc)) from None
        return self._notes[midi]

    # -- disk cache -----------------------------------------------------------------
    # cache/mel/<item>.pt holds an item's mel (depends on its audio and the mel settings);
    # cache/x/<piece>-<frames>.pt the piece's encoder features (its MIDI and the encoder),
    # stored once for all of the piece's renderings.
    def _mel_entry(self, item: Item) -> tuple[Path, str]:
        key = json.dumps([self._mel_settings, _file_stamp(item.audio)])
        return self._cache_dir / "mel" / f"{_safe_name(item.id)}.pt", key

    def _x_entry(self, midi: Path, n_frames: int) -> tuple[Path, str]:
        key = json.dumps([self._key, _file_stamp(midi), n_frames])
        name = _safe_name(os.fspath(midi.relative_to(self.manifest.root))
                          if midi.is_relative_to(self.manifest.root) else os.fspath(midi))
        return self._cache_dir / "x" / f"{name}-{n_frames}.pt", key

    @staticmethod
    def _read_cache(path: Path, key: str, name: str) -> torch.Tensor | None:
        if not path.is_file():
            return None
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # stale, truncated or foreign file: recompute
            return None
        if not isinstance(blob, dict) or blob.get("key") != key:
            return None
        value = blob.get(name)
        return value if isinstance(value, torch.Tensor) else None

    @staticmethod
    def _write_cache(path: Path, key: str, name: str, value: torch.Tensor) -> None:
        try:
            with atomic_path(path) as tmp:
                torch.save({"key": key, name: value}, tmp)
        except OSError:
            pass  # a read-only dataset still trains, just without the cache


def _safe_name(text: str) -> str:
    """A file name for ``text``; the digest keeps texts that sanitise alike apart."""
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:10]
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in text)[:80]
    return f"{safe}-{digest}"
