"""Synthesiser output → dataset audio: silence check, 16 kHz mono, level rule, 24-bit WAV."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from neuralsynth.audio.constants import SAMPLE_RATE
from neuralsynth.errors import DataError
from neuralsynth.fileio import atomic_path

#: Level rule (docs/dataset.md): a fixed gain for every item, lowered for an item only
#: when its peak would otherwise exceed PEAK_CEILING_DBFS.
MAKEUP_GAIN_DB = 6.0
PEAK_CEILING_DBFS = -1.0
#: A raw render whose peak stays below this is treated as silent (an error).
SILENCE_DBFS = -80.0


def normalise(wave: np.ndarray) -> tuple[np.ndarray, float]:
    """Apply the dataset level rule; returns ``(wave, gain_db)``.

    Every item gets the same fixed gain (``MAKEUP_GAIN_DB``), so a note of a given
    velocity has the same level in every piece and the model can learn the velocity →
    loudness mapping. Only when that would push the peak above ``PEAK_CEILING_DBFS``
    is the gain of this item lowered just enough to keep it there (no clipping).
    """
    peak = float(np.max(np.abs(wave))) if wave.size else 0.0
    gain_db = MAKEUP_GAIN_DB
    if peak > 0.0:
        gain_db = min(gain_db, PEAK_CEILING_DBFS - 20.0 * math.log10(peak))
    out = (wave * np.float32(10.0 ** (gain_db / 20.0))).astype(np.float32)
    return out, round(gain_db, 3)


def to_dataset_audio(wave: np.ndarray, sample_rate: int) -> tuple[np.ndarray, float]:
    """Synth output (mono ``[N]``, any rate) → normalised 16 kHz float32 ``[M]``;
    returns ``(wave, gain_db)``.

    Raises :class:`DataError` when the render is empty or silent.
    """
    import soxr

    if wave.size == 0:
        raise DataError("rendered audio is empty")
    peak = float(np.max(np.abs(wave)))
    if not math.isfinite(peak):
        raise DataError("rendered audio contains NaN or infinite samples")
    if peak < 10.0 ** (SILENCE_DBFS / 20.0):
        raise DataError(f"rendered audio is silent (peak below {SILENCE_DBFS:g} dBFS)")
    if sample_rate != SAMPLE_RATE:
        wave = soxr.resample(wave, sample_rate, SAMPLE_RATE, quality="VHQ")
    return normalise(np.asarray(wave, dtype=np.float32))


def write_wav(path: Path, wave: np.ndarray) -> None:
    """16 kHz mono 24-bit WAV, atomically (a partial file never has the final name)."""
    import soundfile as sf

    with atomic_path(path) as tmp:
        sf.write(os.fspath(tmp), wave, SAMPLE_RATE, format="WAV", subtype="PCM_24")
