"""Notes heard in a recording (Basic Pitch's ONNX note model, our own windowing and
decoding), and ``timbre fit --transcribe`` that uses them instead of a MIDI file."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

import neuralsynth as ns
from neuralsynth.cli.main import cli
from neuralsynth.errors import NeuralsynthError
from neuralsynth.midi import transcribe
from neuralsynth.midi.read import load_notes
from neuralsynth.midi.transcribe import LOWEST_KEY, Transcriber, decode
from tests.midi_factory import random_melody, write_midi

needs_model = pytest.mark.skipif(
    importlib.util.find_spec("onnxruntime") is None
    or importlib.util.find_spec("basic_pitch") is None,
    reason="the transcribe extra (onnxruntime, basic-pitch) is not installed")


def test_decode_onsets_lengths_bridges_and_repeats():
    frames = 200
    onset, note = np.zeros((frames, 88), np.float32), np.zeros((frames, 88), np.float32)
    key = 60 - LOWEST_KEY
    onset[10, key], onset[11, key] = 0.7, 0.9       # one peak (frame 11), not two
    note[11:50, key] = 0.8
    note[30:32, key] = 0.1                          # a 2-frame dip is bridged
    onset[80, key] = 0.8                            # struck again: a second note ...
    note[80:120, key] = 0.6
    onset[100, key] = 0.95                          # ... cut by a third onset
    onset[150, key + 1] = 0.9                       # too short to be a note
    note[150:154, key + 1] = 0.9
    onset[160, key + 2] = 0.4                       # under the onset threshold
    note[160:190, key + 2] = 0.9
    notes = decode(onset, note, min_frames=10)
    frame = 256 / 22050
    assert notes.pitch.tolist() == [60, 60, 60]
    assert np.allclose(notes.start / frame, [11, 80, 100])
    assert np.allclose(notes.end / frame, [50, 100, 120])
    assert notes.velocity.tolist() == [102, 76, 76]


@pytest.fixture(scope="module")
def played(tmp_path_factory):
    """An 8-s melody played by the bundled model as trumpet, and its MIDI."""
    folder = tmp_path_factory.mktemp("heard")
    midi = write_midi(folder / "m.mid", random_melody(7, seconds=8.0))
    synth = ns.load_model(device="cpu")
    audio = synth.render(midi, "trumpet", vocoder="harmonic", loudness=None).samples
    sf.write(folder / "trumpet.wav", audio, 16000)
    return folder / "trumpet.wav", midi, audio


@needs_model
def test_the_notes_of_a_melody_are_heard(played):
    _, midi, audio = played
    truth, heard = load_notes(midi), Transcriber().notes(audio)
    hit = [bool(np.any((truth.pitch == p) & (np.abs(truth.start - s) < 0.08)))
           for s, p in zip(heard.start, heard.pitch)]
    found = [bool(np.any((heard.pitch == p) & (np.abs(heard.start - s) < 0.08)))
             for s, p in zip(truth.start, truth.pitch)]
    assert np.mean(found) >= 0.85 and np.mean(hit) >= 0.6, (np.mean(found), np.mean(hit))


@needs_model
def test_fit_with_transcribed_notes(played, tmp_path):
    wav, _, _ = played
    out, report = tmp_path / "t.pt", tmp_path / "t.json"
    result = CliRunner().invoke(cli, ["timbre", "fit", str(wav), "--transcribe", "--steps",
                                      "3", "--name", "heard", "-o", str(out), "--json",
                                      str(report), "-v"])
    assert result.exit_code == 0, result.output
    assert "nearest: trumpet" in result.stdout and "notes heard: trumpet.wav" in result.stdout
    assert ns.load_model(out, device="cpu").instruments[-1] == "heard"


def test_transcribe_input_errors(played, tmp_path, monkeypatch):
    wav, midi, _ = played
    both = CliRunner().invoke(cli, ["timbre", "fit", str(wav), "--transcribe", "--midi",
                                    str(midi), "-o", str(tmp_path / "x.pt")])
    assert both.exit_code == 2
    assert both.stderr.strip() == "error: give either --midi or --transcribe, not both"
    neither = CliRunner().invoke(cli, ["timbre", "fit", str(wav), "-o",
                                       str(tmp_path / "x.pt")])
    assert neither.exit_code == 2 and "(or --transcribe)" in neither.stderr
    # Without the note model: one line that says what to install, before any work.
    monkeypatch.setattr(transcribe.importlib.util, "find_spec", lambda name: None)
    missing = CliRunner().invoke(cli, ["timbre", "fit", str(wav), "--transcribe", "--name",
                                       "solo", "-o", str(tmp_path / "x.pt")])
    assert missing.exit_code != 0 and len(missing.stderr.strip().splitlines()) == 1
    assert "pip install" in missing.stderr
    with pytest.raises(NeuralsynthError, match="basic-pitch"):
        transcribe.model_path()
    assert not (tmp_path / "x.pt").exists()
