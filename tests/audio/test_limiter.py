"""The look-ahead peak limiter (neuralsynth.audio.limiter)."""

from __future__ import annotations

import numpy as np
import pytest

from neuralsynth.audio.limiter import PeakLimiter
from tests.audio.signals import music

SR = 16000


def _run(x: np.ndarray, block: int, ceiling: float = 0.5, **kw) -> tuple[np.ndarray,
                                                                        PeakLimiter]:
    lim = PeakLimiter(ceiling, SR, **kw)
    parts = [lim.process(x[i:i + block]) for i in range(0, x.size, block)]
    return np.concatenate(parts + [lim.flush()]), lim


def _spiky(seconds: float = 2.0) -> np.ndarray:
    x = music(seconds, SR, level=0.4, seed=1)
    x[5000:5003] = [0.9, -1.6, 1.2]                  # spikes well over the ceiling
    x[20000:20400] *= 3.0                            # a loud passage
    return x


@pytest.mark.parametrize("ceiling", [0.25, 0.5, 10 ** (-1 / 20), 1.0])
def test_never_above_the_ceiling(ceiling):
    x = _spiky() * 1.5
    y, lim = _run(x, 4096, ceiling)
    assert y.dtype == np.float32 and y.shape == x.shape
    assert np.abs(y).max() <= ceiling
    assert lim.limited and lim.max_reduction_db > 0
    # It limits, it does not mute: the loudest samples reach the ceiling (within 1 dB).
    assert np.abs(y).max() > ceiling * 10 ** (-1 / 20)


def test_transparent_under_the_ceiling():
    x = music(1.5, SR, level=0.49)
    y, lim = _run(x, 1000, ceiling=0.5)
    assert np.array_equal(y, x)                      # gain exactly 1, same float32 values
    assert not lim.limited and lim.max_reduction_db == 0.0


def test_output_does_not_depend_on_the_block_size():
    x = _spiky()
    reference, _ = _run(x, x.size)
    for block in (1, 80, 81, 1000, 4097):
        y, _ = _run(x, block)
        assert np.array_equal(y, reference), block


def test_delay_and_flush():
    lim = PeakLimiter(0.5, SR, lookahead_ms=5)
    assert lim.delay == 80
    first = lim.process(np.full(100, 0.1, np.float32))
    assert first.shape == (20,)                      # the look-ahead holds 80 back
    rest = lim.flush()
    assert rest.shape == (80,)
    assert np.array_equal(np.concatenate([first, rest]), np.full(100, 0.1, np.float32))
    with pytest.raises(RuntimeError):
        lim.process(np.zeros(4, np.float32))
    # Fewer samples than the look-ahead: all of them come out of flush.
    short = PeakLimiter(0.5, SR)
    assert short.process(np.full(10, 0.2)).shape == (0,)
    assert short.flush().shape == (10,)


def test_gain_moves_smoothly_and_recovers():
    x = np.full(40000, 0.4, np.float32)
    x[4000] = 1.6                                    # one spike, 4x over the ceiling
    y, lim = _run(x, 512, ceiling=0.5, lookahead_ms=5, release_ms=80)
    gain = y.astype(np.float64) / x
    assert gain[4000] <= 0.5 / 1.6 + 1e-7            # the spike itself is brought down
    assert lim.max_reduction_db == pytest.approx(20 * np.log10(1.6 / 0.5), abs=1e-6)
    # Attack: the gain starts falling a look-ahead (80 samples) before the spike and
    # ramps linearly: no step larger than the whole reduction spread over 81 samples
    # (give or take the float32 rounding of the output).
    assert gain[3918] == 1.0 and gain[3920] < 1.0
    steps = np.abs(np.diff(gain))
    assert steps.max() <= (1 - 0.5 / 1.6) / 81 + 1e-6
    # Release: exponential back to 1 (80 ms time constant: 1280 samples), and exactly 1
    # again once within 1e-9 of it (about 21 time constants here).
    assert 0.5 / 1.6 < gain[4000 + 1280] < 1.0
    assert 1.0 - gain[4000 + 12 * 1280] < 1e-4
    assert np.all(gain[4000 + 22 * 1280:] == 1.0) and np.array_equal(y[32200:], x[32200:])
    # A hard clip, for contrast, changes gain in one step.
    clipped_gain = np.clip(x, -0.5, 0.5) / x
    assert np.abs(np.diff(clipped_gain)).max() > 0.5


def test_rejects_bad_settings():
    for ceiling in (0.0, -0.5, 1.5):
        with pytest.raises(ValueError):
            PeakLimiter(ceiling, SR)
    with pytest.raises(ValueError):
        PeakLimiter(0.5, SR, lookahead_ms=0)
    with pytest.raises(ValueError):
        PeakLimiter(0.5, SR).process(np.zeros((2, 3), np.float32))
