"""Humanisation of score MIDI and the merging of unison voices."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from neuralsynth.data.humanize import MIN_DURATION, Humanize, humanize, merge_unisons


def _score(n: int = 64) -> np.ndarray:
    """A grid-aligned score: eighth notes at 120 qpm, one velocity, rising pitches."""
    starts = np.arange(n) * 0.25
    return np.stack([starts, starts + 0.25, 48 + (np.arange(n) % 24),
                     np.full(n, 90.0)], axis=1)


def test_humanize_is_reproducible_and_seed_dependent():
    score = _score()
    a, b, c = humanize(score, 1), humanize(score, 1), humanize(score, 2)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


def test_humanize_keeps_pitches_and_makes_valid_notes():
    score = _score()
    out = humanize(score, 3)
    assert out.shape == score.shape
    assert sorted(out[:, 2]) == sorted(score[:, 2])
    assert np.all(out[:, 0] >= 0) and np.all(out[:, 1] - out[:, 0] >= MIN_DURATION - 1e-12)
    assert np.all(np.diff(out[:, 0]) >= 0)                       # sorted by start
    assert np.all((out[:, 3] >= 1) & (out[:, 3] <= 127))
    assert np.all(out[:, 3] == np.round(out[:, 3]))


def test_humanize_varies_dynamics_and_timing():
    score = _score(256)
    out = humanize(score, 4)
    assert np.std(out[:, 3]) > 3.0                     # no longer one velocity
    onsets = np.sort(out[:, 0])
    assert np.std(np.diff(onsets)) > 1e-3              # no longer an exact grid
    levels = [np.mean(humanize(score, s)[:, 3]) for s in range(12)]
    assert max(levels) - min(levels) > 15              # pieces get different dynamics


def test_rubato_and_tempo_keep_note_order():
    # Without onset jitter the warp alone must keep every onset in order.
    settings = dataclasses.replace(Humanize(), timing_jitter=0.0, rubato=0.2, tempo=0.3)
    score = _score(200)
    out = humanize(score, 5, settings)
    assert np.all(np.diff(out[:, 0]) > 0)
    assert out[-1, 0] != pytest.approx(score[-1, 0])   # the tempo changed


def test_zero_settings_keep_the_score():
    settings = Humanize(tempo=0.0, rubato=0.0, velocity_range=(90, 90), swell=0.0,
                        velocity_jitter=0.0, timing_jitter=0.0, legato=(1.0, 1.0))
    score = _score()
    assert np.allclose(humanize(score, 6, settings), score)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="velocity range"):
        humanize(_score(), 0, Humanize(velocity_range=(100, 50)))
    with pytest.raises(ValueError, match="tempo"):
        humanize(_score(), 0, Humanize(tempo=1.5))


def test_merge_unisons():
    notes = np.array([
        [0.0, 1.0, 60, 80],     # two voices strike C4 together: one note, louder velocity
        [0.0, 2.0, 60, 100],
        [1.5, 3.0, 60, 70],     # C4 again while still sounding: the first is cut at 1.5
        [0.5, 0.9, 64, 90],     # another pitch is untouched
    ])
    out = merge_unisons(notes)
    assert out.tolist() == [[0.0, 1.5, 60, 100], [0.5, 0.9, 64, 90], [1.5, 3.0, 60, 70]]
    assert merge_unisons(np.zeros((0, 4))).shape == (0, 4)
