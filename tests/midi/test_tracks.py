"""The per-track view of a MIDI file (list_tracks) and reading selected tracks
(load_notes(tracks=...), count_drum_notes)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import mido
import numpy as np
import pretty_midi
import pytest

from neuralsynth.assets import example_paths
from neuralsynth.errors import MidiError
from neuralsynth.midi.read import count_drum_notes, instrument_channels, load_notes
from neuralsynth.midi.tracks import TrackInfo, list_tracks, note_name

REPO = Path(__file__).resolve().parents[2]
TOL = 3e-3


def band_file(path: Path) -> Path:
    """A type-1 file written event by event with mido, so channels are known exactly.

    File track 1 "Keys" plays channel 0 on program 4, then changes to program 5: two
    pretty_midi tracks. File track 2 "Band" plays a bass on channel 2 (program 33) and
    drums on channel 9, interleaved: two more, the drum one created first (its first
    note ends first). File track 3 "Lead" plays channel 5, program 56.
    """
    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    meta = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000, time=0)])
    keys = mido.MidiTrack([
        mido.MetaMessage("track_name", name="Keys", time=0),
        mido.Message("program_change", channel=0, program=4, time=0),
        mido.Message("note_on", channel=0, note=60, velocity=90, time=0),
        mido.Message("note_on", channel=0, note=64, velocity=80, time=0),
        mido.Message("note_off", channel=0, note=60, velocity=0, time=480),
        mido.Message("note_off", channel=0, note=64, velocity=0, time=0),
        mido.Message("program_change", channel=0, program=5, time=0),
        mido.Message("note_on", channel=0, note=72, velocity=70, time=0),
        mido.Message("note_off", channel=0, note=72, velocity=0, time=480),
    ])
    band = mido.MidiTrack([
        mido.MetaMessage("track_name", name="Band", time=0),
        mido.Message("program_change", channel=2, program=33, time=0),
        mido.Message("note_on", channel=2, note=36, velocity=100, time=0),
        mido.Message("note_on", channel=9, note=38, velocity=110, time=0),
        mido.Message("note_off", channel=9, note=38, velocity=0, time=120),
        mido.Message("note_on", channel=9, note=42, velocity=60, time=0),
        mido.Message("note_off", channel=9, note=42, velocity=0, time=120),
        mido.Message("note_off", channel=2, note=36, velocity=0, time=720),
        mido.Message("note_on", channel=2, note=43, velocity=100, time=0),
        mido.Message("note_off", channel=2, note=43, velocity=0, time=480),
    ])
    lead = mido.MidiTrack([
        mido.MetaMessage("track_name", name="Lead", time=0),
        mido.Message("program_change", channel=5, program=56, time=0),
        mido.Message("note_on", channel=5, note=79, velocity=100, time=960),
        mido.Message("note_off", channel=5, note=79, velocity=0, time=240),
        mido.Message("note_on", channel=5, note=81, velocity=100, time=0),
        mido.Message("note_off", channel=5, note=81, velocity=0, time=240),
    ])
    mid.tracks.extend([meta, keys, band, lead])
    mid.save(str(path))
    return path


@pytest.fixture
def band(tmp_path) -> Path:
    return band_file(tmp_path / "band.mid")


def test_lists_every_track_with_program_channel_range_and_drums(band):
    tracks = list_tracks(band)
    summary = [(t.index, t.name, t.program, t.program_name, t.channel, t.n_notes,
                t.lowest, t.highest, t.is_drum) for t in tracks]
    assert summary == [
        (0, "Keys", 4, "electric_piano_1", 0, 2, 60, 64, False),
        (1, "Keys", 5, "electric_piano_2", 0, 1, 72, 72, False),
        (2, "Band", 0, "drums", 9, 2, 38, 42, True),
        (3, "Band", 33, "electric_bass_finger", 2, 2, 36, 43, False),
        (4, "Lead", 56, "trumpet", 5, 2, 79, 81, False),
    ]
    # 120 bpm, 480 ticks a beat: a beat is 0.5 s
    assert tracks[4].start == pytest.approx(1.0, abs=TOL)
    assert tracks[4].end == pytest.approx(1.5, abs=TOL)
    assert tracks[3].pitch_range == "C2–G2" and tracks[1].pitch_range == "C5"
    assert tracks[0].label() == "track 0 'Keys'"


def test_index_is_the_position_in_pretty_midi_instruments(band):
    pm = pretty_midi.PrettyMIDI(str(band))
    tracks = list_tracks(band)
    assert len(tracks) == len(pm.instruments)
    for t, inst in zip(tracks, pm.instruments):
        assert (t.program, t.is_drum, t.n_notes) == (inst.program, inst.is_drum,
                                                      len(inst.notes))
        assert t.lowest == min(n.pitch for n in inst.notes)


def test_channels_from_bytes_and_unknown_for_a_parsed_object(band):
    data = band.read_bytes()
    assert [t.channel for t in list_tracks(data)] == [0, 0, 9, 2, 5]
    parsed = pretty_midi.PrettyMIDI(str(band))
    assert [t.channel for t in list_tracks(parsed)] == [None] * 5
    assert instrument_channels(band) == [0, 0, 9, 2, 5]


def test_pretty_midi_written_file(tmp_path):
    # pretty_midi's writer gives instrument i channel i (skipping 9), drums channel 9.
    pm = pretty_midi.PrettyMIDI()
    for program, drum, name in [(0, False, "Piano"), (0, True, "Kit"), (48, False, "")]:
        inst = pretty_midi.Instrument(program, is_drum=drum, name=name)
        inst.notes.append(pretty_midi.Note(80, 50 + program % 12, 0.0, 0.5))
        pm.instruments.append(inst)
    path = tmp_path / "w.mid"
    pm.write(str(path))
    tracks = list_tracks(path)
    assert [(t.name, t.channel, t.is_drum) for t in tracks] == [
        ("Piano", 0, False), ("Kit", 9, True), ("", 2, False)]
    assert tracks[2].label() == "track 2"
    assert tracks[2].as_dict()["pitch_range"] == "D3"


def test_empty_track_has_no_range():
    pm = pretty_midi.PrettyMIDI()
    pm.instruments.append(pretty_midi.Instrument(program=19, name="Silent"))
    (t,) = list_tracks(pm)
    assert (t.n_notes, t.lowest, t.highest, t.start) == (0, None, None, None)
    assert t.pitch_range == ""
    assert not t.has_notes and t.program_name == "church_organ"


@pytest.mark.parametrize("key, name", [(21, "A0"), (60, "C4"), (61, "C#4"), (108, "C8"),
                                       (0, "C-1"), (127, "G9")])
def test_note_names(key, name):
    assert note_name(key) == name


def test_bad_files_are_one_line_midi_errors(tmp_path):
    with pytest.raises(MidiError, match="no such MIDI file"):
        list_tracks(tmp_path / "missing.mid")
    junk = tmp_path / "junk.mid"
    junk.write_bytes(b"RIFF....")
    with pytest.raises(MidiError, match=r"not a MIDI file \(no 'MThd' header\)"):
        list_tracks(junk)


# ------------------------------------------------------------------ load_notes(tracks=)
def test_load_notes_selects_exactly_the_chosen_tracks(band):
    every = load_notes(band)
    assert sorted(every.pitch.tolist()) == [36, 43, 60, 64, 72, 79, 81]   # no drums
    keys = load_notes(band, tracks=[0, 1])
    assert keys.pitch.tolist() == [60, 64, 72]
    assert keys.program.tolist() == [4, 4, 5]
    lead_and_bass = load_notes(band, tracks={4, 3})
    assert lead_and_bass.pitch.tolist() == [36, 43, 79, 81]
    np.testing.assert_allclose(lead_and_bass.start, [0.0, 1.0, 1.0, 1.25], atol=TOL)
    assert load_notes(band, tracks=None).pitch.tolist() == every.pitch.tolist()
    # the selections partition the pitched notes
    parts = [load_notes(band, tracks=[i]) for i in (0, 1, 3, 4)]
    assert sum(len(p) for p in parts) == len(every)


def test_load_notes_applies_the_pedal_of_the_selected_track(tmp_path):
    pm = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(0)
    piano.notes.append(pretty_midi.Note(90, 60, 0.0, 0.25))
    piano.control_changes += [pretty_midi.ControlChange(64, 127, 0.1),
                              pretty_midi.ControlChange(64, 0, 1.0)]
    organ = pretty_midi.Instrument(19)
    organ.notes.append(pretty_midi.Note(90, 48, 0.0, 0.25))
    pm.instruments += [piano, organ]
    path = tmp_path / "p.mid"
    pm.write(str(path))
    np.testing.assert_allclose(load_notes(path, tracks=[0]).end, [1.0], atol=TOL)
    np.testing.assert_allclose(load_notes(path, tracks=[1]).end, [0.25], atol=TOL)


def test_load_notes_selection_errors(band):
    where = str(band)
    with pytest.raises(MidiError, match=r"track 2 is a drum track; only pitched tracks"):
        load_notes(band, tracks=[0, 2])
    with pytest.raises(MidiError) as err:
        load_notes(band, tracks=[7])
    assert str(err.value) == f"{where}: there is no track 7 (the file has tracks 0-4)"
    with pytest.raises(MidiError, match="no tracks selected"):
        load_notes(band, tracks=[])
    with pytest.raises(MidiError, match="not a track index"):
        load_notes(band, tracks=["0"])
    with pytest.raises(MidiError, match="there is no track -1"):
        load_notes(band, tracks=[-1])


def test_selection_without_notes_is_an_error():
    pm = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(0)
    piano.notes.append(pretty_midi.Note(90, 60, 0.0, 0.25))
    pm.instruments += [piano, pretty_midi.Instrument(19), pretty_midi.Instrument(20)]
    assert len(load_notes(pm, tracks=[0, 1])) == 1
    with pytest.raises(MidiError) as err:
        load_notes(pm, tracks=[2, 1])
    assert str(err.value) == ("<PrettyMIDI>: nothing to play (selected tracks 1, 2 have "
                              "no notes)")
    with pytest.raises(MidiError, match=r"\(selected track 2 has no notes\)"):
        load_notes(pm, tracks=[2])


def test_count_drum_notes(band, tmp_path):
    assert count_drum_notes(band) == 2
    assert count_drum_notes(band.read_bytes()) == 2
    pm = pretty_midi.PrettyMIDI()
    pm.instruments.append(pretty_midi.Instrument(0))
    assert count_drum_notes(pm) == 0


# ------------------------------------------------------------------ the bundled example
def test_bundled_quartet_is_what_compose_tracks_writes(tmp_path):
    bundled = next(p for p in example_paths() if p.stem == "quartet")
    script = REPO / "examples" / "compose_tracks.py"
    if not script.is_file():
        pytest.skip("not a source checkout")
    spec = importlib.util.spec_from_file_location("compose_tracks", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "q.mid"
    module.compose().write(str(out))
    assert out.read_bytes() == bundled.read_bytes()


def test_bundled_quartet_has_four_pitched_tracks_and_drums():
    bundled = next(p for p in example_paths() if p.stem == "quartet")
    tracks = list_tracks(bundled)
    pitched = [t for t in tracks if not t.is_drum]
    assert [t.name for t in pitched] == ["Piano", "Strings", "Bass", "Trumpet"]
    assert len({t.program // 8 for t in pitched}) == 4          # four GM families
    drums = [t for t in tracks if t.is_drum]
    assert len(drums) == 1 and drums[0].channel == 9 and drums[0].n_notes > 50
    assert 20 <= load_notes(bundled).duration <= 30
    assert bundled.stat().st_size < 8000
    assert isinstance(tracks[0], TrackInfo)
