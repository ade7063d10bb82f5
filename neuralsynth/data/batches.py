"""Training crops and validation batches of fixed length from a dataset's examples."""

from __future__ import annotations

import dataclasses

import torch

from neuralsynth.data.features import Example
from neuralsynth.errors import DataError


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


def segment_frames(segment_samples: int) -> int:
    """Frames per training sequence: ``segment_samples // HOP_LENGTH`` (65536 → 512)."""
    from neuralsynth.audio.constants import HOP_LENGTH

    frames = int(segment_samples) // HOP_LENGTH
    if frames < 1:
        raise DataError(f"segment of {segment_samples} samples is shorter than one frame")
    return frames


def _collate(crops: list[tuple[Example, int]], length: int) -> Batch:
    """Stack ``(example, start)`` crops of ``length`` frames, padding past the end."""
    from neuralsynth.audio.constants import MAG_FLOOR

    first = crops[0][0]
    b = len(crops)
    x = torch.zeros(b, length, first.x.shape[1], dtype=torch.float32)
    # Padding holds the floor value, so logs stay finite where the mask hides it.
    mel = torch.full((b, length, first.mel.shape[1]), MAG_FLOOR, dtype=torch.float32)
    mask = torch.zeros(b, length, dtype=torch.bool)
    inst = torch.empty(b, dtype=torch.long)
    for i, (ex, start) in enumerate(crops):
        n = min(length, ex.n_frames - start)
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

    def _draw(self) -> list[tuple[Example, int]]:
        """The ``(example, start)`` crops of the next batch (advances the generator)."""
        picks = torch.multinomial(self._weights, self.batch_size, replacement=True,
                                  generator=self.generator).tolist()
        crops = []
        for i in picks:
            ex = self.examples[i]
            room = max(ex.n_frames - self.length, 0) + 1
            start = int(torch.randint(room, (1,), generator=self.generator))
            crops.append((ex, start))
        return crops

    def sample(self) -> Batch:
        return _collate(self._draw(), self.length)

    def sample_shard(self, lo: int, hi: int) -> tuple[Batch, float]:
        """Crops ``[lo, hi)`` of the next batch, and their share of its real frames.

        The whole batch is drawn (every rank of a distributed run advances the generator
        alike, so its state means the same whatever the number of ranks) but only the
        shard is collated. The share weights this shard's mean loss in the batch mean.
        """
        crops = self._draw()
        real = [min(self.length, ex.n_frames - start) for ex, start in crops]
        share = sum(real[lo:hi]) / max(sum(real), 1)
        return _collate(crops[lo:hi], self.length), share


def validation_batches(examples: list[Example], length: int, batch_size: int) -> list[Batch]:
    """Deterministic validation batches: consecutive ``length``-frame crops of every
    example, covering each one exactly once (the last crop padded and masked)."""
    crops = [(ex, start) for ex in examples for start in range(0, ex.n_frames, length)]
    return [_collate(crops[i:i + batch_size], length) for i in range(0, len(crops), batch_size)]
