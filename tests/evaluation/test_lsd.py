"""The log-spectral distance: zero for equal signals, larger for a smeared harmonic."""

from __future__ import annotations

import numpy as np
import pytest

from neuralsynth.evaluation.lsd import log_spectral_distance

SR = 16000


def _harmonic(seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return sum(0.1 / k * np.sin(2 * np.pi * 220 * k * t) for k in range(1, 20)).astype(
        np.float32)


def test_equal_signals_are_at_distance_zero():
    x = _harmonic()
    assert log_spectral_distance(x, x) == pytest.approx(0.0, abs=1e-6)


def test_noise_between_the_partials_costs_more_than_a_gain_error():
    x = _harmonic()
    rng = np.random.default_rng(0)
    quieter = 0.7 * x                                               # -3.1 dB everywhere
    smeared = x + 0.01 * rng.standard_normal(x.shape).astype(np.float32)
    d_gain = log_spectral_distance(quieter, x)
    # At most the gain (3.1 dB): bins at the -100 dB floor in both do not move.
    assert 1.0 < d_gain <= 20 * np.log10(1 / 0.7) + 1e-3
    assert log_spectral_distance(smeared, x) > 3 * d_gain


def test_signals_are_cut_to_the_shorter_and_short_ones_work():
    x = _harmonic()
    assert log_spectral_distance(x[:8000], x) == pytest.approx(0.0, abs=1e-6)
    assert np.isfinite(log_spectral_distance(x[:300], x[:300]))
