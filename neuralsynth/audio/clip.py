"""A rendered piece of audio: samples, their rate, and writing them to a file."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

# OUTPUT_SUFFIXES (.wav, .flac, .ogg: what Audio.write writes) has one home, output.py;
# it is re-exported here for the code that has always imported it from this module.
from neuralsynth.audio.output import OUTPUT_SUFFIXES, OutputSpec


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

    @property
    def loudness(self) -> float:
        """Integrated loudness (ITU-R BS.1770-4) in LUFS; ``-inf`` for silence."""
        from neuralsynth.audio.loudness import integrated_loudness

        return integrated_loudness(self.samples, self.sample_rate)

    def normalized(self, loudness: float = -16.0, ceiling_db: float = -1.0) -> Audio:
        """This audio at ``loudness`` LUFS with sample peaks at most ``ceiling_db`` dBFS
        (a look-ahead limiter catches the peaks the gain would push higher).

        ``info["master"]`` holds the :class:`~neuralsynth.audio.master.MasterReport`.
        Raises :class:`~neuralsynth.errors.AudioError` for silent audio.
        """
        from neuralsynth.audio.master import normalize

        samples, report = normalize(self.samples, self.sample_rate, loudness, ceiling_db)
        return Audio(samples, self.sample_rate, {**self.info, "master": report})

    def write(self, path: str | os.PathLike, *, sample_rate: int | None = None,
              bit_depth: str = "16", loudness: float | None = None) -> Path:
        """Write a .wav, .flac or .ogg file atomically (a failed write leaves no file and
        an existing one untouched), or a WAV to stdout for ``"-"``; returns the path.

        ``sample_rate``: 16000, 22050, 44100 or 48000 (None: this audio's rate);
        ``bit_depth``: '16', '24' or 'float' (wav), '16' or '24' (flac), ignored for ogg.
        ``loudness``: normalise to this many LUFS first (peaks kept under -1 dBFS); None
        writes the samples as they are, except that peaks above 0 dBFS are limited
        rather than clipped. The same code as ``neuralsynth render -o``.
        """
        from neuralsynth.audio.master import Master
        from neuralsynth.audio.output import output_spec

        spec = output_spec(path, sample_rate=sample_rate or self.sample_rate,
                           bit_depth=bit_depth)
        # Written as they are, samples only need protecting from clipping (0 dBFS);
        # normalised ones get the usual 1 dB of headroom.
        ceiling_db = 0.0 if loudness is None else -1.0
        with Master(spec, loudness=loudness, ceiling_db=ceiling_db,
                    source_rate=self.sample_rate) as master:
            for start in range(0, self.samples.shape[0], self.sample_rate):
                master.feed(self.samples[start:start + self.sample_rate])
            master.finish()
        return Path(path) if spec.path is not None else Path("-")

    def __repr__(self) -> str:
        return (f"Audio({self.samples.shape[0]} samples, {self.seconds:.2f} s at "
                f"{self.sample_rate} Hz)")


def check_output_path(out_path: Path | str | os.PathLike | OutputSpec) -> None:
    """Raise a one-line error for an output no audio can be written to, before any work
    is done: see :func:`neuralsynth.audio.output.check_output_path` (a path is checked
    with the default format; pass an :class:`OutputSpec` to check a given one)."""
    from neuralsynth.audio.output import check_output_path as check

    check(out_path)


__all__ = ["Audio", "OUTPUT_SUFFIXES", "check_output_path"]
