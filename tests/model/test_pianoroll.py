"""Piano-roll encoder (neuralsynth.model.encoders.pianoroll)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from neuralsynth.components.params import describe
from neuralsynth.errors import RecipeError
from neuralsynth.midi.notes import Notes
from neuralsynth.model.encoders import ENCODERS
from neuralsynth.model.encoders.pianoroll import PianoRoll


def make_notes(*notes: tuple[int, float, float, int]) -> Notes:
    """Notes from ``(pitch, start, end, velocity)`` tuples."""
    arr = np.array(notes, dtype=np.float64).reshape(-1, 4)
    return Notes(start=arr[:, 1], end=arr[:, 2], pitch=arr[:, 0].astype(np.int16),
                 velocity=arr[:, 3].astype(np.int16),
                 program=np.zeros(len(arr), dtype=np.int16))


def roll(onsets: bool = True, frames: bool = True) -> PianoRoll:
    return PianoRoll(PianoRoll.Config(onsets=onsets, frames=frames))


@pytest.mark.parametrize("onsets,frames,dim", [(True, True, 176), (True, False, 88),
                                               (False, True, 88)])
def test_output_dim(onsets, frames, dim):
    enc = roll(onsets, frames)
    assert enc.output_dim == dim
    out = enc.encode(make_notes((60, 0.0, 0.5, 100)), 70)
    assert out.shape == (70, dim) and out.dtype == np.float32


def test_needs_onsets_or_frames():
    with pytest.raises(RecipeError, match="onsets"):
        roll(False, False)


def test_values_layout_and_frame_rounding():
    # 0.1 s * 125 frames/s = 12.5 -> 12 (half to even); 0.5 s -> 62.5 -> 62
    # 0.2 s -> 25; 0.9 s -> 112.5 -> 112
    enc = roll()
    out = enc.encode(make_notes((60, 0.1, 0.5, 127), (21, 0.2, 0.9, 64)), 150)
    onset, frame = out[:, :88], out[:, 88:]
    k60 = 60 - 21
    assert np.flatnonzero(onset[:, k60]).tolist() == [12]
    assert onset[12, k60] == pytest.approx(1.0)
    assert np.flatnonzero(frame[:, k60]).tolist() == list(range(12, 62))
    assert np.flatnonzero(onset[:, 0]).tolist() == [25]
    assert onset[25, 0] == pytest.approx(64 / 127)
    assert np.flatnonzero(frame[:, 0]).tolist() == list(range(25, 112))
    np.testing.assert_allclose(frame[25:112, 0], 64 / 127)
    # frame index matches round(seconds * 16000 / 128) exactly as Python rounds
    for t in (0.013, 0.333, 1.2345, 2.0):
        out = enc.encode(make_notes((70, t, t + 0.5, 100)), 400)
        assert int(np.flatnonzero(out[:, 70 - 21])[0]) == round(t * 16000 / 128)


def test_only_selected_roll_is_emitted():
    notes = make_notes((60, 0.0, 0.5, 100))
    both = roll().encode(notes, 80)
    np.testing.assert_array_equal(roll(True, False).encode(notes, 80), both[:, :88])
    np.testing.assert_array_equal(roll(False, True).encode(notes, 80), both[:, 88:])


def test_short_note_keeps_onset_and_one_frame():
    # 2 ms: starts and ends in the same frame after rounding
    out = roll().encode(make_notes((69, 0.5, 0.502, 90)), 100)
    k = 69 - 21
    assert np.flatnonzero(out[:, k]).tolist() == [62]
    assert np.flatnonzero(out[:, 88 + k]).tolist() == [62]


def test_keys_outside_piano_range_are_ignored():
    out = roll().encode(make_notes((20, 0.0, 0.5, 100), (109, 0.0, 0.5, 100),
                                   (108, 0.0, 0.5, 100)), 80)
    assert np.flatnonzero(out.any(axis=0)).tolist() == [87, 88 + 87]


def test_clipped_to_n_frames_and_overlaps_keep_the_louder():
    notes = make_notes((60, 0.0, 1.0, 40), (60, 0.2, 0.4, 120), (62, 5.0, 6.0, 100))
    out = roll().encode(notes, 64)                  # 64 frames < 1 s
    k = 60 - 21
    assert out.shape == (64, 176)
    assert out[:, 88 + 62 - 21].max() == 0.0          # note after the end: absent
    np.testing.assert_allclose(out[10, 88 + k], 40 / 127)
    np.testing.assert_allclose(out[25:50, 88 + k], 120 / 127)
    np.testing.assert_allclose(out[50:64, 88 + k], 40 / 127)
    assert out[0, k] == pytest.approx(40 / 127) and out[25, k] == pytest.approx(120 / 127)


def test_no_notes_gives_zeros():
    empty = Notes(*(np.zeros(0, dtype=d) for d in (np.float64, np.float64, np.int16,
                                                   np.int16, np.int16)))
    out = roll().encode(empty, 10)
    assert out.shape == (10, 176) and not out.any()


def test_built_through_the_registry():
    enc = ENCODERS.build({"name": "pianoroll", "onsets": False})
    assert isinstance(enc, PianoRoll)
    assert enc.output_dim == 88
    assert enc.config.frames is True
    with pytest.raises(RecipeError, match="onset"):
        ENCODERS.build({"name": "pianoroll", "onset": False})     # typo → did-you-mean
    with pytest.raises(RecipeError, match="expected bool"):
        ENCODERS.build({"name": "pianoroll", "frames": "yes"})


def test_config_fields_have_help():
    fields = {f.name: f for f in describe(PianoRoll.Config)}
    assert set(fields) == {"onsets", "frames"}
    assert all(f.help and f.default is True for f in fields.values())
    assert dataclasses.is_dataclass(PianoRoll.Config)
