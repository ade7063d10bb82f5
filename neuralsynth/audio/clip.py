"""A rendered piece of audio: samples, their rate, and writing them to a file."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

#: Suffixes :meth:`Audio.write` (and :func:`neuralsynth.audio.spectral.write_audio`) write.
OUTPUT_SUFFIXES = (".wav", ".flac")


@dataclasses.dataclass(frozen=True, eq=False)
class Audio:
    """Mono audio: ``samples`` float32 ``[n]`` in [-1, 1] at ``sample_rate`` Hz.

    ``info`` says how it was made (for a render: ``timbre``, ``vocoder``, ``device`` and
    per-stage ``timings`` in seconds); it is not part of the sound.
    """

    samples: np.ndarray
    sample_rate: int
    info: dict = dataclasses.field(default_factory=dict)

    @property
    def seconds(self) -> float:
        """Duration in seconds."""
        return self.samples.shape[0] / self.sample_rate

    def write(self, path: str | os.PathLike) -> Path:
        """Write a .wav (16-bit) or .flac file atomically: a failed write leaves no file."""
        from neuralsynth.audio.spectral import write_audio

        check_output_path(Path(path))
        return write_audio(path, self.samples, sample_rate=self.sample_rate)

    def __repr__(self) -> str:
        return (f"Audio({self.samples.shape[0]} samples, {self.seconds:.2f} s at "
                f"{self.sample_rate} Hz)")


def check_output_path(out_path: Path) -> None:
    """Raise :class:`UsageError` for an output path no audio can be written to, before
    any work is done: an unsupported suffix, or an existing directory."""
    from neuralsynth.errors import UsageError

    if out_path.suffix.lower() not in OUTPUT_SUFFIXES:
        raise UsageError(f"output '{out_path}' must end in {' or '.join(OUTPUT_SUFFIXES)}")
    if out_path.is_dir():
        raise UsageError(f"output '{out_path}' is a directory")


__all__ = ["Audio", "OUTPUT_SUFFIXES", "check_output_path"]
