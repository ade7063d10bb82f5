"""Synthesiser output → dataset audio: silence check, level rule, sample rate."""

from __future__ import annotations

import numpy as np
import pytest

from neuralsynth.data import dataset_audio
from neuralsynth.errors import DataError


def test_silent_or_empty_render_is_an_error():
    with pytest.raises(DataError, match="silent"):
        dataset_audio.to_dataset_audio(np.zeros(44100, dtype=np.float32), 44100)
    with pytest.raises(DataError, match="empty"):
        dataset_audio.to_dataset_audio(np.zeros(0, dtype=np.float32), 44100)


def test_render_is_resampled_to_16k_and_given_the_makeup_gain():
    t = np.arange(44100, dtype=np.float32) / 44100
    wave = (0.01 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    out, gain = dataset_audio.to_dataset_audio(wave, 44100)
    assert out.dtype == np.float32 and len(out) == 16000
    assert gain == dataset_audio.MAKEUP_GAIN_DB
    assert float(np.abs(out).max()) == pytest.approx(
        0.01 * 10 ** (dataset_audio.MAKEUP_GAIN_DB / 20), rel=0.02)


def test_normalise_uses_fixed_gain_and_guards_the_peak():
    quiet = np.full(100, 0.01, dtype=np.float32)
    out, gain = dataset_audio.normalise(quiet)
    assert gain == dataset_audio.MAKEUP_GAIN_DB
    assert float(out.max()) == pytest.approx(0.01 * 10 ** (dataset_audio.MAKEUP_GAIN_DB / 20),
                                             rel=1e-5)
    loud = np.full(100, 0.8, dtype=np.float32)
    out, gain = dataset_audio.normalise(loud)
    assert gain < dataset_audio.MAKEUP_GAIN_DB
    assert float(out.max()) == pytest.approx(10 ** (dataset_audio.PEAK_CEILING_DBFS / 20),
                                             rel=1e-5)


def test_sample_rate_matches_audio_module():
    from neuralsynth.audio import spectral as audio

    assert dataset_audio.SAMPLE_RATE == audio.SAMPLE_RATE
