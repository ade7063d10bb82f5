"""Rendering one piece on one GM program with in-process FluidSynth."""

from __future__ import annotations

import numpy as np
import pytest

from neuralsynth.data import fluid
from neuralsynth.midi.events import CONTROL, NOTE_OFF, NOTE_ON, midi_events
from tests.conftest import LITE_SOUNDFONT, synth_skip_reason
from tests.midi_factory import write_midi

needs_synth = pytest.mark.skipif(synth_skip_reason() is not None,
                                 reason=f"dataset synthesis unavailable: {synth_skip_reason()}")


def test_events_release_before_restrike_and_keep_zero_length_notes(tmp_path):
    # key 60 released and struck again at 0.5 s; a one-tick (2.3 ms) note at 1.0 s
    midi = write_midi(tmp_path / "m.mid", [(60, 0.0, 0.5, 90), (60, 0.5, 0.8, 80),
                                           (64, 1.0, 1.003, 70)], sustain=[(0.2, 0.5)])
    ev = midi_events(midi, 1000)
    at_500 = [(kind, a, b) for sample, kind, _, a, b in ev.events if sample == 500]
    assert at_500[0] == (NOTE_OFF, 60, 0) and at_500[-1] == (NOTE_ON, 60, 80)
    assert (CONTROL, 64, 0) in at_500                  # pedal up between the two
    assert ev.n_channels == 1 and ev.end == pytest.approx(1.0023, abs=1e-4)
    # at 100 Hz the short note starts and ends on one sample: its off still comes after
    short = [(sample, kind) for sample, kind, _, a, _ in midi_events(midi, 100).events
             if a == 64 and kind != CONTROL]
    assert short == [(100, NOTE_ON), (101, NOTE_OFF)]


@needs_synth
def test_events_are_rendered_at_their_time(tmp_path):
    # One organ note from 0.5 s to 1.0 s: silence before, sound from 0.5 s, none after.
    midi = write_midi(tmp_path / "one.mid", [(60, 0.5, 1.0, 100)])
    renderer = fluid.FluidRenderer(LITE_SOUNDFONT)
    try:
        wave = renderer.render(midi_events(midi, renderer.sample_rate), program=19)
    finally:
        renderer.close()
    rate = fluid.SYNTH_RATE
    assert len(wave) == pytest.approx(2.0 * rate, abs=fluid.BLOCK)
    onset = int(np.argmax(wave != 0.0))              # first sample with any sound
    # the event sits on the nearest block boundary (at most BLOCK/2 early or late)
    assert abs(onset - 0.5 * rate) <= fluid.BLOCK
    assert np.sqrt(np.mean(wave[int(1.6 * rate):] ** 2)) < 0.05 * np.sqrt(
        np.mean(wave[int(0.6 * rate):int(0.9 * rate)] ** 2))    # organ stops after release
