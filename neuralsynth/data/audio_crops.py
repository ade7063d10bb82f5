"""Frame-aligned crops of a dataset's audio for training a vocoder (teacher forcing).

A crop of ``F`` frames starting at frame ``f0`` of an item is

- ``classes [F*128 + 1]``: the µ-law classes of samples ``f0*128 - 1 … (f0+F)*128 - 1``;
  the first is the sample before the crop (:func:`~neuralsynth.vocoders.wavenet.initial_class`
  at the very start of a file, as in sampling), so ``prev = classes[:-1]`` and
  ``target = classes[1:]`` (``prev[t] == target[t-1]``);
- ``mel [F, 80]``: the ground-truth LOG mel frames ``f0 … f0+F-1`` of the same audio, equal
  to those of :func:`neuralsynth.audio.spectral.mel_spectrogram` on the whole file.

Audio is read on demand, one crop at a time (``soundfile`` seeks inside the WAV), so memory
does not grow with the dataset: 100 h of 16 kHz audio would be 5.8 GB even as one byte
per sample. The mel of a crop is computed from the crop's samples plus half an STFT window
(512 samples) of context on each side. Frame ``f`` of a centred STFT with hop 128 and
window 1024 sees samples ``[f*128 - 512, f*128 + 512)``, so these frames match the
whole-file ones exactly; at a file's edges the context is cut at the edge and the STFT's
reflect padding then sees the same samples as it does for the whole file.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import torch

from neuralsynth.audio.constants import HOP_LENGTH, N_FFT, SAMPLE_RATE
from neuralsynth.audio.spectral import mel_spectrogram, mu_law_encode
from neuralsynth.errors import DataError

#: Samples of context read on each side of a crop for its mel frames (half a window).
MEL_CONTEXT = N_FFT // 2


@dataclasses.dataclass(frozen=True)
class AudioItem:
    """One audio file of a dataset: ``n_samples`` at 16 kHz, mono."""

    id: str
    path: Path
    n_samples: int

    @property
    def n_frames(self) -> int:
        """Whole hops of samples: the frames a crop can use (``n_samples // 128``)."""
        return self.n_samples // HOP_LENGTH

    def starts(self, frames: int) -> int:
        """How many crop positions of ``frames`` frames fit (0 when the item is shorter)."""
        return max(self.n_frames - frames + 1, 0)


def audio_item(item_id: str, path: Path) -> AudioItem:
    """An :class:`AudioItem` for ``path`` (reads the header only); DataError when unusable."""
    import soundfile as sf

    try:
        info = sf.info(os.fspath(path))
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise DataError(f"item '{item_id}': cannot read audio {path} ({reason})") from None
    if info.samplerate != SAMPLE_RATE:
        raise DataError(f"item '{item_id}': {path} is {info.samplerate} Hz; a vocoder is "
                        f"trained on {SAMPLE_RATE} Hz audio")
    return AudioItem(item_id, Path(path), int(info.frames))


@dataclasses.dataclass
class CropBatch:
    """``classes [B, T+1]`` (compact integer dtype) and LOG ``mel [B, F, n_mels]``, ``T = F*128``.

    ``prev`` and ``target`` are the int64 ``[B, T]`` views :class:`WaveNet` trains on.
    """

    classes: torch.Tensor
    mel: torch.Tensor

    def to(self, device: torch.device | str) -> "CropBatch":
        return CropBatch(self.classes.to(device), self.mel.to(device))

    @property
    def prev(self) -> torch.Tensor:
        return self.classes[:, :-1].long()

    @property
    def target(self) -> torch.Tensor:
        return self.classes[:, 1:].long()

    @property
    def n_samples(self) -> int:
        return int(self.classes.shape[0] * (self.classes.shape[1] - 1))


def _class_dtype(n_classes: int) -> torch.dtype:
    # One byte per sample for the usual 256 classes keeps fixed validation crops small.
    return torch.uint8 if n_classes <= 256 else torch.int64


class CropReader:
    """Reads crops (see the module doc) with ``n_classes`` µ-law classes."""

    def __init__(self, n_classes: int):
        from neuralsynth.vocoders.wavenet import initial_class

        self.n_classes = int(n_classes)
        self.initial = initial_class(self.n_classes)
        self.dtype = _class_dtype(self.n_classes)

    def read(self, item: AudioItem, f0: int, frames: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(classes [frames*128 + 1], log mel [frames, n_mels])`` of the crop at ``f0``."""
        from neuralsynth.vocoders.wavenet.model import mel_input

        if not 0 <= f0 <= item.n_frames - frames:
            raise ValueError(f"crop of {frames} frames at {f0} does not fit item "
                             f"'{item.id}' ({item.n_frames} frames)")
        start, end = f0 * HOP_LENGTH, (f0 + frames) * HOP_LENGTH
        a = max(start - MEL_CONTEXT, 0)              # a multiple of the hop, like start
        b = min(end + MEL_CONTEXT, item.n_samples)
        wave = self._samples(item, a, b)
        first = (start - a) // HOP_LENGTH
        mel = mel_input(mel_spectrogram(wave)[first:first + frames])
        q = mu_law_encode(torch.from_numpy(wave[max(start - 1, 0) - a:end - a]),
                          mu=self.n_classes - 1)
        if start == 0:  # nothing before the file's first sample: what sampling starts from
            q = torch.cat([torch.tensor([self.initial]), q])
        return q.to(self.dtype), mel

    @staticmethod
    def _samples(item: AudioItem, a: int, b: int) -> np.ndarray:
        import soundfile as sf

        try:
            data, _ = sf.read(os.fspath(item.path), start=a, stop=b, dtype="float32",
                              always_2d=True)
        except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise DataError(f"item '{item.id}': cannot read audio {item.path} "
                            f"({reason})") from None
        if data.shape[0] != b - a:
            raise DataError(f"item '{item.id}': {item.path} is shorter than its header "
                            f"says ({a + data.shape[0]} of {item.n_samples} samples)")
        wave = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
        return np.ascontiguousarray(wave)

    def batch(self, crops: list[tuple[AudioItem, int]], frames: int) -> CropBatch:
        pairs = [self.read(item, f0, frames) for item, f0 in crops]
        return CropBatch(torch.stack([c for c, _ in pairs]), torch.stack([m for _, m in pairs]))


class CropSampler:
    """Random crops for training: ``sample()`` → :class:`CropBatch` of ``batch_size`` crops.

    Every crop position of the dataset is equally likely (an item is drawn with probability
    proportional to its number of positions, then a position uniformly). Items shorter
    than a crop are left out. All randomness comes from ``generator``, so a seed (and a
    saved generator state) reproduces the batches.
    """

    def __init__(self, items: list[AudioItem], frames: int, batch_size: int,
                 generator: torch.Generator, reader: CropReader):
        self.items = [it for it in items if it.starts(frames) > 0]
        if not self.items:
            raise DataError(f"no training item is as long as one crop ({frames * HOP_LENGTH} "
                            "samples); lower train.segment_samples")
        self.frames = int(frames)
        self.batch_size = int(batch_size)
        self.generator = generator
        self.reader = reader
        self._weights = torch.tensor([float(it.starts(frames)) for it in self.items],
                                     dtype=torch.float64)

    def _draw(self) -> list:
        """The ``(item, start frame)`` crops of the next batch (advances the generator)."""
        picks = torch.multinomial(self._weights, self.batch_size, replacement=True,
                                  generator=self.generator).tolist()
        crops = []
        for i in picks:
            item = self.items[i]
            f0 = int(torch.randint(item.starts(self.frames), (1,), generator=self.generator))
            crops.append((item, f0))
        return crops

    def sample(self) -> CropBatch:
        return self.reader.batch(self._draw(), self.frames)

    def sample_shard(self, lo: int, hi: int) -> tuple[CropBatch, float]:
        """Crops ``[lo, hi)`` of the next batch (all crops are whole, so the share of the
        batch's samples is ``(hi - lo) / batch_size``); the whole batch is drawn so the
        generator advances alike on every rank, but only the shard is read."""
        crops = self._draw()
        return self.reader.batch(crops[lo:hi], self.frames), (hi - lo) / self.batch_size


def fixed_starts(item: AudioItem, frames: int, per_item: int) -> list[int]:
    """Start frames of ``per_item`` crops spread evenly over ``item`` (first and last
    position included); ``per_item`` 0: consecutive crops covering every whole segment."""
    room = item.starts(frames)
    if room == 0:
        return []
    if per_item == 0:
        return list(range(0, room, frames))
    if per_item == 1:
        return [(room - 1) // 2]
    return sorted({round(i * (room - 1) / (per_item - 1)) for i in range(per_item)})


def validation_crops(items: list[AudioItem], frames: int, per_item: int, batch_size: int,
                     reader: CropReader) -> list[CropBatch]:
    """Fixed validation batches: :func:`fixed_starts` of every item, read once, in order.

    The choice depends only on the items and the crop settings (not on a seed), so the
    losses of different runs are comparable.
    """
    crops = [(item, f0) for item in items for f0 in fixed_starts(item, frames, per_item)]
    return [reader.batch(crops[i:i + batch_size], frames)
            for i in range(0, len(crops), batch_size)]
