"""plan_tracks: which timbre each track gets (rule > gm > default), grouping, drums, the
report, and that every mistake is found from the MIDI file alone."""

from __future__ import annotations

from pathlib import Path

import pretty_midi
import pytest

from neuralsynth.errors import MidiError, TimbreError, UsageError
from neuralsynth.inference.track_plan import TrackGroup, plan_tracks
from neuralsynth.midi.instruments import PAPER_INSTRUMENTS
from neuralsynth.midi.read import load_notes

# (name, program, is_drum, number of notes)
LAYOUT = [("Piano", 0, False, 4), ("Bass", 33, False, 3), ("Kit", 0, True, 5),
          ("Horn", 60, False, 2), ("Harpsichord", 6, False, 2), ("Piano", 1, False, 1)]


def write_song(path: Path, layout=LAYOUT) -> Path:
    pm = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    for name, program, drum, n in layout:
        inst = pretty_midi.Instrument(program, is_drum=drum, name=name)
        for k in range(n):
            inst.notes.append(pretty_midi.Note(80, 48 + 3 * k + program % 7, 0.25 * k,
                                               0.25 * k + 0.2))
        pm.instruments.append(inst)
    pm.write(str(path))
    return path


@pytest.fixture
def song(tmp_path) -> Path:
    return write_song(tmp_path / "song.mid")


def plan(song, rules=(), *, gm=False, default=None, instruments=PAPER_INSTRUMENTS, dim=None):
    return plan_tracks(song, list(rules), gm=gm, default_timbre=default,
                       instruments=instruments, embedding_dim=dim)


def test_without_rules_or_gm_one_default_group_of_every_pitched_track(song):
    p = plan(song)
    assert p.groups == [TrackGroup("grand_piano", (0, 1, 3, 4, 5), "default")]
    assert p.drum_notes_skipped == 5
    assert [a.origin for a in p.assignments] == ["default", "default", "skipped",
                                                "default", "default", "default"]
    # a given default timbre is used as given
    assert plan(song, default="organ").groups == [
        TrackGroup("organ", (0, 1, 3, 4, 5), "default")]
    # a model without a piano defaults to its first instrument
    assert plan(song, instruments=["trumpet", "church_organ"]).groups[0].timbre == "trumpet"


def test_gm_gives_each_program_its_mapped_timbre(song):
    p = plan(song, gm=True)
    assert [p.timbre_of(i) for i in range(6)] == [
        "grand_piano", "pizzicato_strings:0.6,acoustic_guitar:0.4", None, "trumpet",
        "acoustic_guitar:0.5,orchestral_harp:0.5", "grand_piano"]
    # programs 0 and 1 both map to grand_piano: one group, rendered together
    assert p.groups[0] == TrackGroup("grand_piano", (0, 5), "gm")
    assert [g.tracks for g in p.groups] == [(0, 5), (1,), (3,), (4,)]


def test_precedence_rule_over_gm_over_default(song):
    p = plan(song, ["bass=organ"], gm=True, default="vibraphone",
             instruments=["grand_piano", "church_organ", "vibraphone"])
    # harpsichord (4) and horn (3) have no instrument in this model: the default
    assert [(a.timbre, a.origin) for a in p.assignments] == [
        ("grand_piano", "gm"), ("organ", "rule"), (None, "skipped"),
        ("vibraphone", "default"), ("vibraphone", "default"), ("grand_piano", "gm")]
    assert "the model has no instrument for program 6" in p.assignments[4].why
    # without --gm the rule still beats the default
    p = plan(song, ["program:0-1=organ"], default="vibraphone")
    assert [a.timbre for a in p.assignments] == ["organ", "vibraphone", None, "vibraphone",
                                                "vibraphone", "organ"]


def test_same_timbre_text_groups_tracks_and_the_strongest_origin_names_the_group(song):
    p = plan(song, ["Horn=grand_piano", "harpsichord=trumpet"], gm=True)
    groups = {g.timbre: g for g in p.groups}
    assert groups["grand_piano"] == TrackGroup("grand_piano", (0, 3, 5), "rule")
    assert groups["trumpet"] == TrackGroup("trumpet", (4,), "rule")
    assert sum(len(g.tracks) for g in p.groups) == 5


def test_groups_partition_the_pitched_notes(song):
    p = plan(song, ["bass=organ"], gm=True)
    every = load_notes(song)
    parts = [load_notes(song, tracks=g.tracks) for g in p.groups]
    assert sum(len(n) for n in parts) == len(every)
    assert sorted(x for n in parts for x in n.pitch.tolist()) == sorted(every.pitch.tolist())


def test_report_lines(song):
    p = plan(song, ["bass=organ"], gm=True, instruments=["grand_piano", "church_organ"],
             default="church_organ")
    lines = p.report_lines()
    assert len(lines) == 6
    assert lines[0].split() == ["track", "0", "Piano", "acoustic_grand_piano", "(0)", "4",
                                "notes", "->", "grand_piano", "(--gm,", "program", "0)"]
    assert lines[1].endswith("-> organ (--track 'bass=organ')")
    assert lines[2].endswith("5 notes -> skipped (5 drum notes)")
    assert " drums " in lines[2]
    assert lines[3].endswith("-> church_organ (default timbre; --gm: the model has no "
                             "instrument for program 60)")
    assert "1 note  ->" in lines[5]
    # columns line up: every line has its "->" at the same place
    assert len({line.index("->") for line in lines}) == 1


def test_timbres_are_checked_before_rendering_when_the_space_is_known(song):
    with pytest.raises(UsageError) as err:
        plan(song, ["bass=pianno"], dim=2)
    message = str(err.value)
    assert message.startswith("--track 'bass=pianno': timbre 'pianno': ")
    assert "did you mean" in message and "\n" not in message
    with pytest.raises(UsageError, match=r"--track '1=xy:1,2,3': .*exactly 2 numbers"):
        plan(song, ["1=xy:1,2,3"], dim=2)
    with pytest.raises(TimbreError, match=r"default timbre \(for tracks no rule or --gm "
                                          r"decides\): timbre 'banjo'"):
        plan(song, default="banjo", dim=2)
    # without the space's size the rule text is kept as it is
    assert plan(song, ["bass=pianno"]).timbre_of(1) == "pianno"
    ok = plan(song, ["bass=piano@0s,organ@1s", "0=xy:0.1,0.2"], gm=True, dim=2)
    assert ok.timbre_of(1) == "piano@0s,organ@1s"


def test_bad_rules_and_files_fail_before_anything(song, tmp_path):
    with pytest.raises(UsageError, match=r"--track '9=organ': there is no track 9; the file "
                                         r"has 6 tracks, 0-5"):
        plan(song, ["9=organ"], gm=True)
    with pytest.raises(UsageError, match=r"--track 'kit=organ': name 'kit' matches only drum"):
        plan(song, ["kit=organ"])
    with pytest.raises(MidiError, match="no such MIDI file"):
        plan(tmp_path / "missing.mid", ["bass=organ"])
    drums_only = write_song(tmp_path / "drums.mid", [("Kit", 0, True, 3)])
    with pytest.raises(MidiError, match=r"nothing to play \(only drum notes"):
        plan(drums_only, gm=True)
    with pytest.raises(UsageError, match="lists no instruments"):
        plan(song, instruments=[])


def test_bytes_and_parsed_sources(song):
    by_bytes = plan(song.read_bytes(), gm=True)
    assert by_bytes.groups == plan(song, gm=True).groups
    parsed = plan(pretty_midi.PrettyMIDI(str(song)), gm=True)
    assert parsed.groups == by_bytes.groups and parsed.tracks[0].channel is None
