"""BS.1770-4 loudness (neuralsynth.audio.loudness): against pyloudnorm, the standard's
own numbers, and independence from how the signal is cut into blocks."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from neuralsynth.audio.loudness import LoudnessMeter, integrated_loudness, k_weighting
from tests.audio.signals import music, sine

RATES = (16000, 22050, 44100, 48000)


def _signals(sr: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    n = 4 * sr
    t = np.arange(n) / sr
    gaps = 0.2 * rng.standard_normal(n) * ((t % 1.5) < 0.5)       # bursts and silences
    return {"noise": (0.1 * rng.standard_normal(n)).astype(np.float32),
            "tone_997": sine(997, 4, sr, 0.3),
            "tone_60": sine(60, 4, sr, 0.5),
            "tone_6k": sine(6000, 4, sr, 0.2),
            "piano_like": music(4, sr, level=0.5),
            "with_silences": gaps.astype(np.float32)}


@pytest.mark.parametrize("sr", RATES)
def test_matches_pyloudnorm(sr):
    pyln = pytest.importorskip("pyloudnorm")
    for name, x in _signals(sr).items():
        ours = integrated_loudness(x, sr)
        theirs = pyln.Meter(sr).integrated_loudness(x.astype(np.float64))
        assert abs(ours - theirs) < 0.05, (name, ours, theirs)


def test_gating_matches_pyloudnorm_with_the_standards_filter():
    # At 48 kHz pyloudnorm's "DeMan" filter class has the standard's exact coefficients,
    # as ours: what is left to differ is the blocks and the gates.
    pyln = pytest.importorskip("pyloudnorm")
    for name, x in _signals(48000).items():
        theirs = pyln.Meter(48000, "DeMan").integrated_loudness(x.astype(np.float64))
        assert abs(integrated_loudness(x, 48000) - theirs) < 1e-3, name


@pytest.fixture(scope="module")
def fluidsynth_render(tmp_path_factory) -> np.ndarray:
    """A real FluidSynth piano render at 16 kHz (skipped without FluidSynth)."""
    from tests.conftest import LITE_SOUNDFONT, synth_skip_reason
    from tests.midi_factory import random_melody, write_midi

    reason = synth_skip_reason()
    if reason is not None:
        pytest.skip(reason)
    from neuralsynth.data.fluid import FluidRenderer
    from neuralsynth.midi.events import midi_events

    path = write_midi(Path(tmp_path_factory.mktemp("fluid")) / "m.mid",
                      random_melody(7, seconds=4.0, polyphony=2))
    renderer = FluidRenderer(LITE_SOUNDFONT, 16000)
    try:
        return renderer.render(midi_events(path, 16000), 0)
    finally:
        renderer.close()


def test_matches_pyloudnorm_on_a_fluidsynth_render(fluidsynth_render):
    pyln = pytest.importorskip("pyloudnorm")
    x = fluidsynth_render
    ours = integrated_loudness(x, 16000)
    assert -60 < ours < -10
    assert abs(ours - pyln.Meter(16000).integrated_loudness(x.astype(np.float64))) < 0.05


def test_48k_filters_are_the_standards_table():
    table = np.array([[1.53512485958697, -2.69169618940638, 1.19839281085285,
                       -1.69065929318241, 0.73248077421585],
                      [1.0, -2.0, 1.0, -1.99004745483398, 0.99007225036621]])
    assert np.abs(k_weighting(48000) - table).max() < 1e-12


@pytest.mark.parametrize("sr", RATES)
def test_a_sine_reads_its_level_at_every_rate(sr):
    # BS.1770: a 997 Hz sine at -20 dBFS in one channel is -23.0 LUFS (EBU Tech 3341
    # allows +-0.1 LU).
    assert integrated_loudness(sine(997, 5, sr, 0.1), sr) == pytest.approx(-23.0, abs=0.1)


@pytest.mark.parametrize("sr", (16000, 48000))
def test_both_gates(sr):
    # EBU Tech 3341 cases 4 and 5, mono: 1 kHz sine sections at these loudnesses.
    def sections(*parts):
        return np.concatenate([sine(1000, s, sr, 10 ** ((lufs + 3.01) / 20))
                               for lufs, s in parts])
    # -72 LUFS is below the absolute gate, -36 below the relative one: only -23 counts.
    x = sections((-72, 5), (-36, 5), (-23, 30), (-36, 5), (-72, 5))
    assert integrated_loudness(x, sr) == pytest.approx(-23.0, abs=0.1)
    # All within 10 LU: the mean power of -26/-20/-26 is -23.0.
    x = sections((-26, 20), (-20, 20.1), (-26, 20))
    assert integrated_loudness(x, sr) == pytest.approx(-23.0, abs=0.1)
    # Without the relative gate the -36 sections would pull the first case down a lot.
    assert integrated_loudness(sections((-36, 30), (-23, 1)), sr) < -30


def test_the_result_does_not_depend_on_the_block_sizes():
    x = np.concatenate([music(1.5, 16000, level=0.4), np.zeros(8000, np.float32),
                        music(1.0, 16000, level=0.05, seed=2)])
    whole = integrated_loudness(x, 16000)
    for size in (1, 7, 333, 1600, 6400, 16001):
        meter = LoudnessMeter(16000)
        for start in range(0, x.size, size):
            meter.add(x[start:start + size])
        assert meter.integrated() == whole, size
    # Uneven, random cuts too.
    cuts = np.sort(np.random.default_rng(0).integers(0, x.size, 50))
    meter = LoudnessMeter(16000)
    for part in np.split(x, cuts):
        meter.add(part)
    assert meter.integrated() == whole


def test_silence_short_signals_and_bad_input():
    assert integrated_loudness(np.zeros(16000, np.float32), 16000) == -math.inf
    assert integrated_loudness(np.zeros(0, np.float32), 16000) == -math.inf
    assert LoudnessMeter(16000).integrated() == -math.inf
    # Below the absolute gate (-70 LUFS) counts as silence.
    assert integrated_loudness(sine(997, 2, 16000, 10 ** (-80 / 20)), 16000) == -math.inf
    # Shorter than one 400 ms block: measured as if silence followed it.
    short = sine(997, 0.25, 16000, 0.5)
    padded = np.concatenate([short, np.zeros(6400 - short.size, np.float32)])
    assert integrated_loudness(short, 16000) == pytest.approx(
        integrated_loudness(padded, 16000), abs=1e-9)
    with pytest.raises(ValueError):
        LoudnessMeter(16000).add(np.zeros((2, 10), np.float32))
    with pytest.raises(ValueError):
        LoudnessMeter(0)


def test_louder_by_gain():
    x = music(3.0, 16000, level=0.05)
    assert integrated_loudness(4 * x, 16000) - integrated_loudness(x, 16000) == \
        pytest.approx(20 * math.log10(4), abs=1e-6)
