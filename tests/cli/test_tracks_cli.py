"""``neuralsynth tracks``: the table, --json, -q/-v, the --gm/--track timbre column, and
one-line errors with the right exit codes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pretty_midi
import pytest
from click.testing import CliRunner

from neuralsynth.assets import example_paths
from neuralsynth.cli.main import cli
from neuralsynth.inference.load import default_model_path


def invoke(*args):
    return CliRunner().invoke(cli, ["tracks", *map(str, args)])


def assert_one_line_error(result, code: int, *needles: str) -> str:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


@pytest.fixture
def song(tmp_path) -> Path:
    pm = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    for name, program, drum, keys in [("Lead Sax", 65, False, (67, 79)),
                                      ("Kit", 0, True, (36, 38, 42)),
                                      ("", 33, False, (28,))]:
        inst = pretty_midi.Instrument(program, is_drum=drum, name=name)
        for k, key in enumerate(keys):
            inst.notes.append(pretty_midi.Note(90, key, 0.5 * k, 0.5 * k + 0.4))
        pm.instruments.append(inst)
    path = tmp_path / "song.mid"
    pm.write(str(path))
    return path


@pytest.fixture(scope="module")
def quartet() -> Path:
    return next(p for p in example_paths() if p.stem == "quartet")


def test_table_and_footer(song):
    result = invoke(song)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["#", "name", "program", "ch", "notes", "range", "drum"]
    assert lines[1].split() == ["0", "Lead", "Sax", "65", "alto_sax", "1", "2", "G4–G5",
                                "no"]
    assert lines[2].split() == ["1", "Kit", "-", "10", "3", "-", "yes"]
    assert lines[3].split() == ["2", "-", "33", "electric_bass_finger", "3", "1", "E1",
                                "no"]
    assert lines[4] == ("3 tracks, 3 pitched notes, 3 drum notes (skipped when "
                        "rendering); 1.4 s")
    assert len(lines) == 5
    # aligned: the notes column is right-aligned under its header on every row
    end = lines[0].index("notes") + len("notes")
    for row, count in zip(lines[1:4], ("2", "3", "1")):
        assert row[end - 1] == count and row[end] == " ", row


def test_quartet_example(quartet):
    result = invoke(quartet)
    assert result.exit_code == 0, result.output
    rows = result.stdout.splitlines()[1:-1]
    assert [r.split()[1] for r in rows] == ["Piano", "Strings", "Bass", "Trumpet", "Drums"]
    assert result.stdout.splitlines()[-1].startswith(
        "5 tracks, 161 pitched notes, 123 drum notes (skipped when rendering)")


def test_quiet_and_verbose(song, tmp_path):
    # -q prints nothing: the exit code says whether the file (and the rules) are fine
    quiet = invoke(song, "-q")
    assert (quiet.exit_code, quiet.output) == (0, "")
    assert (invoke(song, "--quiet", "--json").output) == ""
    assert_one_line_error(invoke(tmp_path / "nope.mid", "-q"), 1, "no such MIDI file")
    assert_one_line_error(invoke(song, "-q", "--track", "9=organ"), 2, "no track 9")
    verbose = invoke(song, "--verbose")
    assert verbose.exit_code == 0
    header = verbose.stdout.splitlines()[0]
    assert header.split()[-2:] == ["time", "(s)"]
    assert verbose.stdout.splitlines()[1].split()[-1] == "0.0-0.9"
    assert_one_line_error(invoke(song, "-q", "-v"), 2,
                          "-q/--quiet and -v/--verbose cannot be used together")


def test_json(song):
    result = invoke(song, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["n_tracks"], data["pitched_notes"], data["drum_notes"]) == (3, 3, 3)
    assert data["duration"] == pytest.approx(1.4, abs=0.01)
    first = data["tracks"][0]
    assert {k: first[k] for k in ("index", "name", "program", "program_name", "channel",
                                  "n_notes", "lowest", "highest", "is_drum",
                                  "pitch_range")} == {
        "index": 0, "name": "Lead Sax", "program": 65, "program_name": "alto_sax",
        "channel": 0, "n_notes": 2, "lowest": 67, "highest": 79, "is_drum": False,
        "pitch_range": "G4–G5"}
    assert data["tracks"][1]["channel"] == 9 and data["tracks"][1]["is_drum"]
    assert "groups" not in data


@pytest.mark.skipif(default_model_path() is None, reason="no bundled default model")
def test_gm_and_track_column_with_the_bundled_model(song):
    result = invoke(song, "--gm", "--model", "default")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[-2:] == ["timbre", "from"]
    assert lines[1].split()[-2:] == ["trumpet:0.5,synth_lead:0.5", "gm"]
    assert lines[2].split()[-2:] == ["-", "skipped"]
    assert lines[3].split()[-2:] == ["pizzicato_strings:0.6,acoustic_guitar:0.4", "gm"]
    assert lines[-1].startswith("rendered as 2 timbre groups")

    result = invoke(song, "--gm", "--track", "lead sax=organ", "--model", "default", "-v")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert re.search(r"  organ +--track 'lead sax=organ'$", lines[1]), lines[1]
    # -v says why --gm chose a timbre: the GM table's reason
    assert lines[3].endswith("--gm, program 33: plucked low strings: a double bass's "
                             "pizzicato with a guitar's pluck")

    result = invoke(song, "--track", "2=vibes", "--timbre", "harp", "--model", "default",
                    "--json")
    data = json.loads(result.stdout)
    assert [(t["timbre"], t["origin"]) for t in data["tracks"]] == [
        ("harp", "default"), (None, "skipped"), ("vibes", "rule")]
    assert data["groups"] == [{"timbre": "harp", "tracks": [0], "origin": "default"},
                              {"timbre": "vibes", "tracks": [2], "origin": "rule"}]
    # a timbre the model does not know is caught here, naming the rule
    assert_one_line_error(invoke(song, "--track", "2=banjo", "--model", "default"), 2,
                          "--track '2=banjo': timbre 'banjo'")


def test_rule_errors_come_before_loading_a_model(song, tmp_path):
    missing_model = tmp_path / "no-such-model.pt"
    assert_one_line_error(invoke(song, "--track", "5=organ", "--model", missing_model), 2,
                          "--track '5=organ': there is no track 5; the file has 3 tracks")
    assert_one_line_error(invoke(song, "--track", "kit=organ", "--model", missing_model), 2,
                          "matches only drum tracks")
    assert_one_line_error(invoke(song, "--track", "organ", "--model", missing_model), 2,
                          "no '='")


def test_usage_errors(song):
    assert_one_line_error(invoke(song, "--timbre", "organ"), 2,
                          "--timbre only applies with --gm or --track")
    assert_one_line_error(invoke(song, "--model", "default"), 2,
                          "--model only applies with --gm or --track")


def test_bad_files_exit_1_with_one_line(tmp_path):
    assert_one_line_error(invoke(tmp_path / "nope.mid"), 1, "no such MIDI file")
    text = tmp_path / "notes.mid"
    text.write_text("not midi")
    assert_one_line_error(invoke(text), 1, "not a MIDI file")
    truncated = tmp_path / "cut.mid"
    truncated.write_bytes(b"MThd\x00\x00\x00\x06\x00\x01")
    assert_one_line_error(invoke(truncated), 1, str(truncated))


def test_help_has_examples():
    result = invoke("--help")
    assert result.exit_code == 0
    assert "Examples:" in result.output and "neuralsynth tracks song.mid --gm" in result.output


def test_installed_command(quartet):
    exe = Path(sys.executable).parent / "neuralsynth"
    exe = str(exe) if exe.exists() else shutil.which("neuralsynth")
    if exe is None:
        pytest.skip("the neuralsynth console script is not installed")
    proc = subprocess.run([exe, "tracks", str(quartet)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 7            # header, 5 tracks, footer
    proc = subprocess.run([exe, "tracks", str(quartet) + ".missing"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: ") and len(proc.stderr.splitlines()) == 1
