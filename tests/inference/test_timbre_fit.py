"""Fitting a timbre to a recording: the right instrument comes back, offsets are found,
the new instrument is saved and renders, bad input is refused in one line."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import soxr
import torch
from click.testing import CliRunner

import neuralsynth as ns
from neuralsynth.cli.main import cli
from neuralsynth.errors import AudioError, MidiError, UsageError
from neuralsynth.inference.add_instrument import save_with_instrument
from neuralsynth.inference.timbre_fit import fit_timbre
from tests.midi_factory import random_melody, write_midi


@pytest.fixture(scope="module")
def synth():
    return ns.load_model(device="cpu")


@pytest.fixture(scope="module")
def recording(synth, tmp_path_factory):
    """8 s of a melody played by the model as trumpet, written at 22.05 kHz in stereo
    (the fit resamples and mixes down), plus the same 0.25 s late."""
    folder = tmp_path_factory.mktemp("fit")
    midi = write_midi(folder / "m.mid", random_melody(7, seconds=8.0))
    audio = synth.render(midi, "trumpet", vocoder="harmonic", loudness=None).samples
    wide = soxr.resample(audio, 16000, 22050)
    sf.write(folder / "trumpet.wav", np.stack([wide, 0.5 * wide], 1), 22050)
    late = np.concatenate([np.zeros(int(0.25 * 22050), np.float32), wide])
    sf.write(folder / "late.wav", late, 22050)
    sf.write(folder / "quiet.wav", 0.1 * wide, 22050)                 # 20 dB down
    return folder, midi


def test_the_instrument_that_played_comes_back(synth, recording):
    folder, midi = recording
    fit = fit_timbre(synth, [(folder / "trumpet.wav", midi)], steps=10)
    assert fit.nearest[0][0] == "trumpet"
    assert fit.loss <= fit.start_loss
    assert abs(fit.offsets[0]) <= 0.0161
    late = fit_timbre(synth, [(folder / "late.wav", midi)], steps=0)
    assert late.offsets[0] == pytest.approx(0.25, abs=0.0161)
    assert late.nearest[0][0] == "trumpet"
    # A recording's level is not its timbre: 17.5 dB down (the stereo file mixes down to
    # 0.75 of the melody, the quiet one is 0.1 of it), the same instrument and point.
    quiet = fit_timbre(synth, [(folder / "quiet.wav", midi)], steps=10)
    assert quiet.nearest[0][0] == "trumpet"
    assert quiet.gain_db == pytest.approx(fit.gain_db - 20 * np.log10(0.75 / 0.1), abs=0.5)
    assert torch.allclose(quiet.embedding, fit.embedding, atol=0.05)


def test_the_fitted_instrument_is_saved_and_renders(synth, recording, tmp_path):
    folder, midi = recording
    point = torch.tensor([0.3, -1.1])
    out = save_with_instrument(synth.path, "my_horn", point, tmp_path / "horn.pt")
    grown = ns.load_model(out, device="cpu")
    assert grown.instruments == synth.instruments + ["my_horn"]
    table = grown.model.instrument_embeddings().detach()
    assert torch.allclose(table[-1], point.to(table.dtype), atol=1e-3)
    assert torch.equal(table[:-1], synth.model.instrument_embeddings().detach())
    a = grown.render(midi, "my_horn:0.5,organ:0.5", tail=0.2)
    assert a.info["timbre"] == "church_organ 50% + my_horn 50%"
    with pytest.raises(UsageError, match="is taken"):
        save_with_instrument(synth.path, "trumpet", point, tmp_path / "x.pt")
    assert not (tmp_path / "x.pt").exists()


def test_bad_recordings_are_refused(synth, recording, tmp_path):
    folder, midi = recording
    sf.write(tmp_path / "silent.wav", np.zeros(16000 * 8, np.float32), 16000)
    with pytest.raises(AudioError, match="silent"):
        fit_timbre(synth, [(tmp_path / "silent.wav", midi)])
    (tmp_path / "junk.wav").write_bytes(b"not audio at all")
    with pytest.raises(AudioError, match="cannot read audio"):
        fit_timbre(synth, [(tmp_path / "junk.wav", midi)])
    sf.write(tmp_path / "short.wav", np.full(16000 * 2, 0.1, np.float32), 16000)
    with pytest.raises(MidiError, match="cannot be a recording of"):
        fit_timbre(synth, [(tmp_path / "short.wav", midi)])


def test_cli_fit_writes_the_model_and_refuses_a_taken_name(recording, tmp_path):
    folder, midi = recording
    out = tmp_path / "new.pt"
    result = CliRunner().invoke(cli, ["timbre", "fit", str(folder / "trumpet.wav"),
                                      "--midi", str(midi), "--name", "horn2", "-o", str(out),
                                      "--steps", "3", "--json", str(tmp_path / "fit.json")])
    assert result.exit_code == 0, result.output
    assert "fitted 'horn2'" in result.stdout and "nearest: trumpet" in result.stdout
    assert out.exists() and (tmp_path / "fit.json").exists()
    refused = CliRunner().invoke(cli, ["timbre", "fit", str(folder / "trumpet.wav"),
                                       "--midi", str(midi), "--name", "organ",
                                       "-o", str(tmp_path / "no.pt")])
    assert refused.exit_code == 2
    assert refused.stderr.strip().splitlines() == [
        "error: instrument name 'organ' is taken: it names 'church_organ', one of the "
        "model's instruments; choose another --name"]
    assert not (tmp_path / "no.pt").exists()


def test_a_non_finite_loss_is_an_error(recording, monkeypatch):
    from neuralsynth.errors import NeuralsynthError

    folder, midi = recording
    synth = ns.load_model(device="cpu")            # its own copy: the forward is replaced
    real = synth.model.forward
    monkeypatch.setattr(synth.model, "forward",
                        lambda x, t: real(x, t) * float("nan"))
    with pytest.raises(NeuralsynthError, match="loss is not finite") as info:
        fit_timbre(synth, [(folder / "trumpet.wav", midi)], steps=2)
    assert "\n" not in str(info.value)
