"""Log-CQT (84 bins from C1, 12 per octave, hop 512) and its correlation."""

from __future__ import annotations

import numpy as np
import pytest

from neuralsynth.evaluation.cqt import (
    C1_HZ,
    FLOOR,
    N_BINS,
    bin_frequencies,
    cqt_correlation,
    log_cqt,
    pearson,
)

SR = 16000


def sine(freq: float, seconds: float = 1.0, amp: float = 1.0) -> np.ndarray:
    return amp * np.sin(2 * np.pi * freq * np.arange(int(seconds * SR)) / SR)


def test_bins_start_at_c1_and_a4_is_bin_45():
    f = bin_frequencies()
    assert f.shape == (84,) and abs(f[0] - 32.703) < 1e-3 and abs(C1_HZ - 32.703) < 1e-3
    assert abs(f[45] - 440.0) < 1e-9 and abs(f[57] - 880.0) < 1e-9


@pytest.mark.parametrize("freq, bin_", [(440.0, 45), (65.406, 12), (1046.5, 60)])
def test_a_sinusoid_peaks_in_its_own_bin_at_about_half(freq, bin_):
    c = np.exp(log_cqt(sine(freq), SR))
    assert c.shape == (N_BINS, 1 + SR // 512)
    middle = c[:, 10:-10]
    assert np.all(middle.argmax(axis=0) == bin_)
    assert 0.45 < middle[bin_].mean() < 0.55
    # A semitone away the response is far lower (one-semitone resolution).
    assert middle[bin_ + 2].mean() < 0.1 * middle[bin_].mean()


def test_silence_is_the_floor_and_scaling_shifts_the_log():
    assert np.allclose(log_cqt(np.zeros(4000)), np.log(FLOOR))
    a = log_cqt(sine(440.0, amp=0.5))
    b = log_cqt(sine(440.0, amp=0.25))
    assert abs(float(np.median(a[45] - b[45])) - np.log(2)) < 1e-3


def test_correlation_is_one_for_the_same_audio_and_lower_for_other_audio():
    rng = np.random.default_rng(0)
    tones = sine(220.0, 2.0) + 0.5 * sine(660.0, 2.0) + 0.01 * rng.standard_normal(2 * SR)
    same = cqt_correlation(tones, tones)
    assert same["mean"] == pytest.approx(1.0) and len(same["per_octave"]) == 7
    other = cqt_correlation(tones, sine(1500.0, 2.0) + 0.01 * rng.standard_normal(2 * SR))
    assert other["mean"] < 0.5
    # Louder by a constant factor: the log shifts, the correlation stays 1.
    assert cqt_correlation(tones * 0.5, tones)["mean"] > 0.999
    assert np.isnan(pearson(np.ones(5), np.arange(5)))


def test_pitch_track_agrees_with_librosa_where_installed():
    """librosa's CQT scales and leaks differently (it downsamples recursively), so the
    comparison is of what matters here: which bin holds a chirp's energy, frame by frame."""
    librosa = pytest.importorskip("librosa")
    t = np.arange(3 * SR) / SR
    chirp = np.sin(2 * np.pi * (50 * t + 300 * t ** 2))        # 50 Hz → 1850 Hz
    ours = log_cqt(chirp, SR).argmax(axis=0)
    theirs = np.abs(librosa.cqt(chirp, sr=SR, hop_length=512, fmin=C1_HZ, n_bins=84,
                                bins_per_octave=12)).argmax(axis=0)
    n = min(ours.size, theirs.size)
    agree = np.abs(ours[4:n - 4].astype(int) - theirs[4:n - 4]) <= 1
    assert agree.mean() > 0.95
    assert ours[4:n - 4].min() < 30 and ours[4:n - 4].max() > 60    # the sweep is seen
