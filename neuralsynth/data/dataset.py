"""Reading a dataset directory and turning it into training batches.

A dataset directory (made by ``neuralsynth data synth``, format in ``docs/dataset.md``)
holds ``manifest.json``, the MIDI files and one WAV per (piece, instrument). For training
each item becomes a pair of frame-aligned sequences:

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

from ..errors import DataError, NeuralsynthError
from ..fileio import atomic_path
from .splits import SPLITS, TRAIN, VAL

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1
_ITEM_KEYS = ("id", "midi", "audio", "instrument", "split")
_CACHE_VERSION = 1


# ----------------------------------------------------------------------------- manifest
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
    from ..audio import SAMPLE_RATE

    root = Path(root)
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
        where = f"{path}: item {i}"
        if not isinstance(raw, dict):
            raise DataError(f"{where}: expected an object, got {type(raw).__name__}")
        for key in _ITEM_KEYS:
            if not isinstance(raw.get(key), str) or not raw[key]:
                raise DataError(f"{where}: missing or empty '{key}'")
        where = f"{path}: item '{raw['id']}'"
        if raw["id"] in seen:
            raise DataError(f"{where}: duplicate id")
        seen.add(raw["id"])
        if raw["split"] not in SPLITS:
            raise DataError(f"{where}: unknown split '{raw['split']}' "
                            f"(expected {' or '.join(repr(s) for s in SPLITS)})")
        if raw["instrument"] not in instruments:
            raise DataError(f"{where}: instrument '{raw['instrument']}' is not in the "
                            f"manifest's instruments ({', '.join(instruments)})")
        seconds = raw.get("seconds")
        items.append(Item(id=raw["id"], midi=(root / raw["midi"]).resolve(),
                          audio=(root / raw["audio"]).resolve(),
                          instrument=raw["instrument"], split=raw["split"],
                          seconds=float(seconds) if isinstance(seconds, (int, float)) else None))
    if not items:
        raise DataError(f"{path}: the dataset has no items")

    # A piece in both splits would let validation measure memorisation.
    split_of: dict[Path, str] = {}
    for it in items:
        other = split_of.setdefault(it.midi, it.split)
        if other != it.split:
            raise DataError(f"{path}: MIDI file '{it.midi.name}' is in both the train and the "
                            f"val split")
    if check_files:
        missing = sorted({str(p) for it in items for p in (it.midi, it.audio) if not p.is_file()})
        if missing:
            raise DataError(f"{root}: {len(missing)} file(s) listed in {MANIFEST_NAME} are "
                            f"missing, e.g. {missing[0]}")
    return Manifest(root=root, sample_rate=int(data["sample_rate"]),
                    instruments=list(instruments), items=items)


def instrument_indices(manifest: Manifest, recipe_instruments: list[str]) -> dict[str, int]:
    """Row of the embedding table for each manifest instrument.

    The row is the position in the recipe's instrument list; a manifest name matches a
    recipe name when both denote the same GM program (``piano`` ~ ``grand_piano``).
    Dataset instruments the recipe does not name are left out of the mapping, so a recipe
    can train on a subset of a larger dataset (its items are skipped). Raises
    :class:`DataError` when the recipe names an instrument the dataset has no training
    items of (its embedding could not be learned).
    """
    from ..instruments import resolve_instrument

    mapping: dict[str, int] = {}
    for name in manifest.instruments:
        try:
            mapping[name] = recipe_instruments.index(resolve_instrument(name, recipe_instruments))
        except NeuralsynthError:
            continue  # not in this recipe: its items are not used
    used = {mapping[it.instrument] for it in manifest.items
            if it.split == TRAIN and it.instrument in mapping}
    absent = [name for i, name in enumerate(recipe_instruments) if i not in used]
    if absent:
        raise DataError(f"dataset '{manifest.root}' has no training items for recipe "
                        f"instrument(s) {', '.join(absent)}")
    return mapping


# ----------------------------------------------------------------------------- features
@dataclasses.dataclass
class Example:
    """Features of one item: ``x [T, in_dim]``, linear ``mel [T, n_mels]``, instrument row."""

    id: str
    x: torch.Tensor
    mel: torch.Tensor
    instrument: int

    @property
    def n_frames(self) -> int:
        return int(self.mel.shape[0])


def _file_stamp(p: Path) -> list:
    st = p.stat()
    return [p.name, st.st_size, st.st_mtime_ns]


def feature_key(encoder: Any) -> dict[str, Any]:
    """What the features depend on besides the files: encoder and mel settings."""
    from .. import audio

    config = encoder.config
    cfg = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else repr(config)
    return {"cache": _CACHE_VERSION,
            "encoder": f"{type(encoder).__module__}.{type(encoder).__qualname__}",
            "encoder_config": cfg,
            "encoder_rate": [getattr(encoder, "sample_rate", None),
                             getattr(encoder, "hop_length", None)],
            "mel": [audio.SAMPLE_RATE, audio.N_FFT, audio.HOP_LENGTH, audio.N_MELS,
                    audio.F_MIN, audio.F_MAX, audio.MAG_FLOOR]}


class FeatureSet:
    """Features of a dataset's items for one encoder, in memory.

    ``examples(split)`` → list of :class:`Example`. ``x`` tensors are shared between
    the renderings of one piece (the notes are the same), so memory grows with the
    number of pieces for ``x`` and with the number of items for ``mel``.
    """

    def __init__(self, root: str | os.PathLike, recipe_instruments: list[str], encoder: Any,
                 *, cache: bool = True, progress: bool = False,
                 splits: Iterable[str] = SPLITS):
        self.manifest = read_manifest(root)
        self.instrument_index = instrument_indices(self.manifest, list(recipe_instruments))
        self.encoder = encoder
        self._key = json.dumps(feature_key(encoder), sort_keys=True)
        self._cache = cache
        self._x: dict[tuple[Path, int], torch.Tensor] = {}
        self._notes: dict[Path, Any] = {}
        wanted = [it for it in self.manifest.items
                  if it.split in set(splits) and it.instrument in self.instrument_index]
        self._examples: dict[str, list[Example]] = {s: [] for s in SPLITS}
        from tqdm import tqdm

        for it in tqdm(wanted, desc="features", unit="item", disable=not progress,
                       dynamic_ncols=True, leave=False):
            self._examples[it.split].append(self._load(it))

    def examples(self, split: str) -> list[Example]:
        return self._examples[split]

    # -- per item -------------------------------------------------------------------
    def _cache_path(self, item: Item) -> Path:
        digest = hashlib.sha1(item.id.encode("utf-8")).hexdigest()[:10]
        safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in item.id)[:80]
        return self.manifest.root / "cache" / f"{safe}-{digest}.pt"

    def _item_key(self, item: Item) -> str:
        return json.dumps([self._key, _file_stamp(item.audio), _file_stamp(item.midi)])

    def _load(self, item: Item) -> Example:
        row = self.instrument_index[item.instrument]
        cached = self._read_cache(item) if self._cache else None
        if cached is not None:
            x, mel = cached
            x = self._x.setdefault((item.midi, int(x.shape[0])), x)
            return Example(item.id, x, mel, row)
        mel = self._mel(item)
        x = self._features(item.midi, int(mel.shape[0]))
        if self._cache:
            self._write_cache(item, x, mel)
        return Example(item.id, x, mel, row)

    def _mel(self, item: Item) -> torch.Tensor:
        from ..audio import mel_spectrogram, read_audio

        try:
            wave = read_audio(item.audio)
        except NeuralsynthError as exc:
            raise DataError(f"item '{item.id}': {exc}") from None
        return mel_spectrogram(wave).contiguous()

    def _features(self, midi: Path, n_frames: int) -> torch.Tensor:
        key = (midi, n_frames)
        if key not in self._x:
            if midi not in self._notes:
                from ..midi import load_notes

                try:
                    self._notes[midi] = load_notes(midi)
                except NeuralsynthError as exc:
                    raise DataError(str(exc)) from None
            feats = self.encoder.encode(self._notes[midi], n_frames)
            self._x[key] = torch.as_tensor(feats, dtype=torch.float32).contiguous()
        return self._x[key]

    def _read_cache(self, item: Item) -> tuple[torch.Tensor, torch.Tensor] | None:
        path = self._cache_path(item)
        if not path.is_file():
            return None
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # stale, truncated or foreign file: recompute
            return None
        if not isinstance(blob, dict) or blob.get("key") != self._item_key(item):
            return None
        x, mel = blob.get("x"), blob.get("mel")
        if not (isinstance(x, torch.Tensor) and isinstance(mel, torch.Tensor)
                and x.shape[0] == mel.shape[0]):
            return None
        return x, mel

    def _write_cache(self, item: Item, x: torch.Tensor, mel: torch.Tensor) -> None:
        try:
            with atomic_path(self._cache_path(item)) as tmp:
                torch.save({"key": self._item_key(item), "x": x, "mel": mel}, tmp)
        except OSError:
            pass  # a read-only dataset still trains, just without the cache


# ------------------------------------------------------------------------------ batches
@dataclasses.dataclass
class Batch:
    """``x [B, L, in_dim]``, linear ``mel [B, L, n_mels]``, ``mask [B, L]`` (True = real
    frame, False = padding) and ``instrument [B]`` (embedding rows, int64)."""

    x: torch.Tensor
    mel: torch.Tensor
    mask: torch.Tensor
    instrument: torch.Tensor

    def to(self, device: torch.device | str) -> "Batch":
        return Batch(self.x.to(device), self.mel.to(device), self.mask.to(device),
                     self.instrument.to(device))

    @property
    def n_frames(self) -> int:
        """Real (unpadded) frames in the batch."""
        return int(self.mask.sum())


def segment_frames(segment_samples: int, hop_length: int | None = None) -> int:
    """Frames per training sequence: ``segment_samples // hop`` (65536 → 512)."""
    from ..audio import HOP_LENGTH

    frames = int(segment_samples) // int(hop_length or HOP_LENGTH)
    if frames < 1:
        raise DataError(f"segment of {segment_samples} samples is shorter than one frame")
    return frames


def _collate(crops: list[tuple[Example, int]], length: int) -> Batch:
    """Stack ``(example, start)`` crops of ``length`` frames, padding past the end."""
    from ..audio import MAG_FLOOR

    first = crops[0][0]
    b = len(crops)
    x = torch.zeros(b, length, first.x.shape[1], dtype=torch.float32)
    # Padding holds the floor value, so logs stay finite where the mask hides it.
    mel = torch.full((b, length, first.mel.shape[1]), MAG_FLOOR, dtype=torch.float32)
    mask = torch.zeros(b, length, dtype=torch.bool)
    inst = torch.empty(b, dtype=torch.long)
    for i, (ex, start) in enumerate(crops):
        n = max(0, min(length, ex.n_frames - start))
        x[i, :n] = ex.x[start:start + n]
        mel[i, :n] = ex.mel[start:start + n]
        mask[i, :n] = True
        inst[i] = ex.instrument
    return Batch(x, mel, mask, inst)


class SegmentSampler:
    """Random fixed-length crops for training.

    ``sample()`` → :class:`Batch` of ``batch_size`` crops of ``length`` frames. Items are
    drawn with probability proportional to their length (every frame of the dataset is
    equally likely to be seen), the start uniformly among the positions that fit; items
    shorter than ``length`` are padded and masked. All randomness comes from
    ``generator``, so a seed (and a saved generator state) reproduces the batches.
    """

    def __init__(self, examples: list[Example], length: int, batch_size: int,
                 generator: torch.Generator):
        if not examples:
            raise DataError("no training items to sample from")
        self.examples = examples
        self.length = int(length)
        self.batch_size = int(batch_size)
        self.generator = generator
        self._weights = torch.tensor([float(ex.n_frames) for ex in examples], dtype=torch.float64)

    def sample(self) -> Batch:
        picks = torch.multinomial(self._weights, self.batch_size, replacement=True,
                                  generator=self.generator).tolist()
        crops = []
        for i in picks:
            ex = self.examples[i]
            room = max(ex.n_frames - self.length, 0) + 1
            start = int(torch.randint(room, (1,), generator=self.generator))
            crops.append((ex, start))
        return _collate(crops, self.length)


def validation_batches(examples: list[Example], length: int, batch_size: int) -> list[Batch]:
    """Deterministic validation batches: consecutive ``length``-frame crops of every
    example, covering each one exactly once (the last crop padded and masked)."""
    crops = [(ex, start) for ex in examples for start in range(0, ex.n_frames, length)]
    return [_collate(crops[i:i + batch_size], length) for i in range(0, len(crops), batch_size)]


__all__ = ["Item", "Manifest", "read_manifest", "instrument_indices", "Example", "FeatureSet",
           "Batch", "SegmentSampler", "validation_batches", "segment_frames", "TRAIN", "VAL"]
