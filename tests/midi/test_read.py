"""MIDI loading (neuralsynth.midi): notes, drums, the sustain pedal, and bad files."""

from __future__ import annotations

import numpy as np
import pretty_midi
import pytest

from neuralsynth.errors import MidiError
from neuralsynth.midi.read import apply_sustain, load_notes, pedal_intervals
from tests.midi_factory import random_melody, write_midi

TOL = 3e-3   # MIDI ticks at 120 bpm / 220 ppq are ~2.3 ms


def test_loads_sorted_notes_without_drums(tmp_path):
    melody = [(64, 1.0, 1.5, 90), (60, 0.0, 0.5, 100), (67, 0.5, 1.0, 30)]
    path = write_midi(tmp_path / "m.mid", melody, program=11,
                      drum_notes=[(36, 0.0, 0.1, 127), (38, 0.5, 0.6, 127)])
    notes = load_notes(path)
    assert len(notes) == 3
    assert notes.pitch.tolist() == [60, 67, 64]
    assert notes.velocity.tolist() == [100, 30, 90]
    assert notes.program.tolist() == [11, 11, 11]
    np.testing.assert_allclose(notes.start, [0.0, 0.5, 1.0], atol=TOL)
    np.testing.assert_allclose(notes.end, [0.5, 1.0, 1.5], atol=TOL)
    assert notes.duration == pytest.approx(1.5, abs=TOL)


def test_simultaneous_notes_sorted_by_pitch(tmp_path):
    path = write_midi(tmp_path / "c.mid", [(67, 0.0, 1.0, 80), (60, 0.0, 1.0, 80),
                                            (64, 0.0, 1.0, 80)])
    assert load_notes(path).pitch.tolist() == [60, 64, 67]


def test_random_melody_round_trip(tmp_path):
    melody = random_melody(3, seconds=3.0)
    notes = load_notes(write_midi(tmp_path / "r.mid", melody), sustain=False)
    assert len(notes) == len(melody)
    assert np.all(np.diff(notes.start) >= 0)
    expected = sorted(melody, key=lambda n: (n[1], n[0]))
    np.testing.assert_allclose(notes.start, [n[1] for n in expected], atol=TOL)


# ------------------------------------------------------------------ sustain pedal
def test_note_released_under_pedal_lasts_until_pedal_up(tmp_path):
    melody = [(60, 0.0, 0.25, 100),    # released while pedal down -> extended to 1.5
              (64, 0.0, 2.0, 100),     # released after pedal up -> unchanged
              (67, 1.75, 2.0, 100)]    # played after the pedal -> unchanged
    path = write_midi(tmp_path / "p.mid", melody, sustain=[(0.125, 1.5)])
    on = load_notes(path)
    off = load_notes(path, sustain=False)
    assert on.pitch.tolist() == off.pitch.tolist() == [60, 64, 67]
    np.testing.assert_allclose(off.end, [0.25, 2.0, 2.0], atol=TOL)
    np.testing.assert_allclose(on.end, [1.5, 2.0, 2.0], atol=TOL)
    np.testing.assert_array_equal(on.start, off.start)


def test_note_released_before_pedal_is_not_extended(tmp_path):
    path = write_midi(tmp_path / "b.mid", [(60, 0.0, 0.25, 100)], sustain=[(0.5, 1.0)])
    np.testing.assert_allclose(load_notes(path).end, [0.25], atol=TOL)


def test_restruck_key_cuts_the_sustained_note(tmp_path):
    melody = [(60, 0.0, 0.25, 100), (60, 0.75, 1.0, 80),   # same key struck again
              (62, 0.0, 0.25, 100)]                       # other key: sustained to pedal up
    path = write_midi(tmp_path / "s.mid", melody, sustain=[(0.125, 2.0)])
    notes = load_notes(path)
    assert notes.pitch.tolist() == [60, 62, 60]
    # first C4 is cut where it is struck again; the second lasts until the pedal is lifted
    np.testing.assert_allclose(notes.end, [0.75, 2.0, 2.0], atol=TOL)


def test_pedal_is_per_instrument(tmp_path):
    pm = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    piano = pretty_midi.Instrument(program=0)
    piano.notes.append(pretty_midi.Note(velocity=90, pitch=60, start=0.0, end=0.25))
    piano.control_changes += [pretty_midi.ControlChange(64, 127, 0.125),
                              pretty_midi.ControlChange(64, 0, 1.0)]
    organ = pretty_midi.Instrument(program=19)
    organ.notes.append(pretty_midi.Note(velocity=90, pitch=72, start=0.0, end=0.25))
    pm.instruments += [piano, organ]
    pm.write(str(tmp_path / "two.mid"))
    notes = load_notes(tmp_path / "two.mid")
    by_program = dict(zip(notes.program.tolist(), notes.end.tolist()))
    assert by_program[0] == pytest.approx(1.0, abs=TOL)
    assert by_program[19] == pytest.approx(0.25, abs=TOL)


def test_pedal_intervals_values_and_unlifted_pedal():
    cc = pretty_midi.ControlChange
    events = [cc(64, 100, 1.0), cc(64, 80, 1.5),        # still down (>= 64)
              cc(7, 0, 1.7),                            # volume, ignored
              cc(64, 63, 2.0),                          # up (< 64)
              cc(64, 64, 3.0)]                          # down, never lifted
    assert pedal_intervals(events, end_time=5.0) == [(1.0, 2.0), (3.0, 5.0)]
    assert pedal_intervals([], end_time=5.0) == []


def test_apply_sustain_boundaries():
    start = np.array([0.0, 0.0, 0.0, 0.0])
    end = np.array([0.5, 1.0, 2.0, 0.999])
    pitch = np.array([60, 61, 62, 63])
    out = apply_sustain(start, end, pitch, [(0.5, 2.0)])
    # released exactly at pedal-down: sustained; exactly at pedal-up: not extended
    np.testing.assert_array_equal(out, [2.0, 2.0, 2.0, 2.0])
    assert apply_sustain(start, end, pitch, [(2.5, 3.0)]).tolist() == end.tolist()
    # a note is never shortened, even if the key is struck again before it ends
    out = apply_sustain(np.array([0.0, 0.2]), np.array([0.5, 0.6]), np.array([60, 60]),
                        [(0.1, 3.0)])
    np.testing.assert_array_equal(out, [0.5, 3.0])


def test_unlifted_pedal_sustains_to_end_of_file(tmp_path):
    pm = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    inst = pretty_midi.Instrument(program=0)
    inst.notes += [pretty_midi.Note(velocity=90, pitch=60, start=0.0, end=0.25),
                   pretty_midi.Note(velocity=90, pitch=64, start=1.0, end=3.0)]
    inst.control_changes.append(pretty_midi.ControlChange(64, 127, 0.125))
    pm.instruments.append(inst)
    pm.write(str(tmp_path / "u.mid"))
    np.testing.assert_allclose(load_notes(tmp_path / "u.mid").end, [3.0, 3.0], atol=TOL)


# ------------------------------------------------------------------ bad files
def _assert_one_line(exc: pytest.ExceptionInfo, name: str) -> None:
    msg = str(exc.value)
    assert name in msg and "\n" not in msg


def test_missing_file(tmp_path):
    with pytest.raises(MidiError, match="no such MIDI file") as exc:
        load_notes(tmp_path / "nope.mid")
    _assert_one_line(exc, "nope.mid")


def test_empty_file(tmp_path):
    (tmp_path / "empty.mid").write_bytes(b"")
    with pytest.raises(MidiError, match=r"empty file \(0 bytes\)") as exc:
        load_notes(tmp_path / "empty.mid")
    _assert_one_line(exc, "empty.mid")


def test_random_bytes(tmp_path):
    (tmp_path / "noise.mid").write_bytes(np.random.default_rng(1).bytes(3000))
    with pytest.raises(MidiError, match="not a MIDI file") as exc:
        load_notes(tmp_path / "noise.mid")
    _assert_one_line(exc, "noise.mid")


@pytest.mark.parametrize("keep", [6, 14, 30, 0.5, -3])
def test_truncated_file(tmp_path, keep):
    data = write_midi(tmp_path / "full.mid", random_melody(0)).read_bytes()
    cut = int(len(data) * keep) if isinstance(keep, float) else keep
    (tmp_path / "cut.mid").write_bytes(data[:cut])
    with pytest.raises(MidiError, match="truncated") as exc:
        load_notes(tmp_path / "cut.mid")
    _assert_one_line(exc, "cut.mid")


def test_corrupt_after_header(tmp_path):
    (tmp_path / "bad.mid").write_bytes(b"MThd" + np.random.default_rng(2).bytes(500))
    with pytest.raises(MidiError, match="corrupt|truncated") as exc:
        load_notes(tmp_path / "bad.mid")
    _assert_one_line(exc, "bad.mid")


def test_corrupt_track_data(tmp_path):
    data = bytearray(write_midi(tmp_path / "ok.mid", random_melody(0)).read_bytes())
    # Overwrite the first track's length with a huge value: the parser runs off the end
    track = data.index(b"MTrk")
    data[track + 4:track + 8] = b"\xff\xff\xff\xff"
    (tmp_path / "bad_track.mid").write_bytes(bytes(data))
    with pytest.raises(MidiError, match="corrupt|truncated") as exc:
        load_notes(tmp_path / "bad_track.mid")
    _assert_one_line(exc, "bad_track.mid")


def test_only_drums(tmp_path):
    path = write_midi(tmp_path / "drums.mid", [], drum_notes=[(36, 0.0, 0.1, 127)])
    with pytest.raises(MidiError, match="only drum notes") as exc:
        load_notes(path)
    _assert_one_line(exc, "drums.mid")


def test_no_notes_at_all(tmp_path):
    path = write_midi(tmp_path / "silent.mid", [])
    with pytest.raises(MidiError, match="nothing to play") as exc:
        load_notes(path)
    _assert_one_line(exc, "silent.mid")


def test_directory(tmp_path):
    with pytest.raises(MidiError, match="directory"):
        load_notes(tmp_path)
