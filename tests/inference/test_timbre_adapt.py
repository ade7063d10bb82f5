"""--adapt film: a fitted timbre with its own FiLM offsets. The offsets are linear in the
mixing weights, leave every other instrument exactly as it was, and bring a sound the
space has no point for much closer than the point alone."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch
from click.testing import CliRunner

import neuralsynth as ns
from neuralsynth.cli.main import cli
from neuralsynth.errors import NeuralsynthError
from neuralsynth.inference.add_instrument import save_with_instrument
from neuralsynth.inference.info import format_info, model_info
from neuralsynth.inference.timbre_fit import fit_timbre
from neuralsynth.model.conditioners.film import FiLM
from tests.midi_factory import random_melody, write_midi


def _film(offsets: bool) -> FiLM:
    torch.manual_seed(0)
    cond = FiLM(FiLM.Config(embedding_dim=2, instrument_offsets=offsets), n_instruments=3,
                channels={"pre": 4, "post": 5})
    with torch.no_grad():
        for p in cond.parameters():
            p.normal_()
    return cond


def test_offsets_are_linear_in_the_weights_and_zero_rows_change_nothing():
    plain, own = _film(False), _film(True)
    with torch.no_grad():
        for name, p in plain.named_parameters():
            own.get_parameter(name).copy_(p)
        for table in [*own.offset_gamma.values(), *own.offset_beta.values()]:
            table[:2] = 0.0                        # only instrument 2 has its own offsets
    h = torch.randn(1, 6, 5)
    eye = torch.eye(3)
    for i in (0, 1):                               # instruments without offsets: as before
        assert torch.allclose(own("post", h, own.embed(eye[i:i + 1])),
                              plain("post", h, plain.embed(eye[i:i + 1])))
    point = torch.tensor([[0.3, -0.7]])            # a bare point: no instrument's offsets
    assert own.point(point).shape == (1, 5)
    assert torch.allclose(own("post", h, own.point(point)), plain("post", h, point))
    assert torch.allclose(own("post", h, point), plain("post", h, point))
    # Instrument 2 differs from its point, and a mix is the mix of the modulations.
    two = own("post", h, own.embed(eye[2:3]))
    assert not torch.allclose(two, plain("post", h, plain.embed(eye[2:3])))
    mix = own("post", h, own.embed(torch.tensor([[0.25, 0.0, 0.75]])))
    assert torch.allclose(mix, 0.25 * own("post", h, own.embed(eye[0:1])) + 0.75 * two,
                          atol=1e-5)
    with pytest.raises(ValueError, match="W=2 or 5"):
        own("post", h, torch.zeros(1, 3))


@pytest.fixture(scope="module")
def synth():
    return ns.load_model(device="cpu")


@pytest.fixture(scope="module")
def stranger(tmp_path_factory):
    """8 s of a melody by an instrument outside the space: the bundled model with its
    post-LSTM FiLM shifted, so no point of the space reproduces it."""
    folder = tmp_path_factory.mktemp("adapt")
    midi = write_midi(folder / "m.mid", random_melody(11, seconds=8.0))
    other = ns.load_model(device="cpu")
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        bias = other.model.conditioner.beta["post"].bias
        bias += 0.6 * torch.randn(bias.shape, generator=gen)
    audio = other.render(midi, "trumpet", vocoder="harmonic", loudness=None).samples
    sf.write(folder / "stranger.wav", audio, 16000)
    return folder / "stranger.wav", midi


def test_adapting_fits_a_sound_outside_the_space(synth, stranger, tmp_path):
    wav, midi = stranger
    fit = fit_timbre(synth, [(wav, midi)], steps=5, adapt="film", adapt_steps=25)
    assert set(fit.film) == {"gamma.pre", "gamma.post", "beta.pre", "beta.post"}
    assert fit.point_loss is not None and fit.loss < 0.6 * fit.point_loss
    out = save_with_instrument(synth.path, "stranger", fit.embedding, tmp_path / "s.pt",
                               film=fit.film)
    grown = ns.load_model(out, device="cpu")
    assert grown.instruments[-1] == "stranger"
    # Every trained instrument, a mix of two and a bare point predict exactly as before.
    for spec in ("trumpet", "organ:0.3,piano:0.7", "xy:0.5,-0.5"):
        assert np.array_equal(grown.mel(midi, spec, tail=0.2), synth.mel(midi, spec, tail=0.2))
    # The new instrument is not its bare point, and mixes and morphs with it work.
    coords = "xy:" + ",".join(f"{v:.6f}" for v in fit.embedding.tolist())
    own, bare = grown.mel(midi, "stranger", tail=0.2), grown.mel(midi, coords, tail=0.2)
    assert np.abs(np.log(own + 1e-5) - np.log(bare + 1e-5)).mean() > 0.05
    assert grown.render(midi, "stranger:0.5,trumpet:0.5", tail=0.2).samples.size > 0
    assert grown.render(midi, "stranger@0s,trumpet@4s", tail=0.2).samples.size > 0
    info = model_info(out)
    assert info.adapted == ["stranger"]
    assert any(line.strip().startswith("stranger") and "own FiLM offsets" in line
               for line in format_info(info))
    # A later instrument without offsets gets a zero row; the adapted one keeps its own.
    again = save_with_instrument(out, "plain_one", torch.tensor([0.1, 0.2]),
                                 tmp_path / "t.pt")
    assert model_info(again).adapted == ["stranger"]
    both = ns.load_model(again, device="cpu")
    assert np.array_equal(both.mel(midi, "stranger", tail=0.2), own)


def test_adapt_is_refused_up_front_for_a_model_without_film_sites(tmp_path, stranger):
    from neuralsynth.checkpoint import load_checkpoint, save_checkpoint
    from neuralsynth.inference.load import default_model_path

    wav, midi = stranger
    data = load_checkpoint(default_model_path())
    data["recipe"]["model"]["conditioner"] = {**data["recipe"]["model"].get(
        "conditioner", {"name": "film"}), "sites": []}
    data["model_state"] = {k: v for k, v in data["model_state"].items()
                           if not k.startswith(("conditioner.gamma", "conditioner.beta"))}
    payload = {k: v for k, v in data.items() if k not in ("format", "neuralsynth_version")}
    flat = ns.load_model(save_checkpoint(tmp_path / "flat.pt", payload), device="cpu")
    with pytest.raises(NeuralsynthError, match="no active site"):
        fit_timbre(flat, [(wav, midi)], adapt="film")
    with pytest.raises(NeuralsynthError, match="unknown adaptation 'lora'"):
        fit_timbre(flat, [(wav, midi)], adapt="lora")


def test_cli_adapt_film(stranger, tmp_path):
    wav, midi = stranger
    out, report = tmp_path / "a.pt", tmp_path / "a.json"
    result = CliRunner().invoke(cli, ["timbre", "fit", str(wav), "--midi", str(midi),
                                      "--adapt", "film", "--adapt-steps", "5", "--steps",
                                      "2", "-o", str(out), "--json", str(report)])
    assert result.exit_code == 0, result.output
    assert "FiLM adapted: loss" in result.stdout
    record = json.loads(report.read_text())
    assert record["adapt"] == "film" and record["loss"] <= record["point_loss"]
    info = CliRunner().invoke(cli, ["info", str(out)])
    assert "stranger" in info.stdout and "(own FiLM offsets)" in info.stdout
    refused = CliRunner().invoke(cli, ["timbre", "fit", str(wav), "--midi", str(midi),
                                       "--adapt-steps", "5", "-o", str(tmp_path / "b.pt")])
    assert refused.exit_code == 2
    assert refused.stderr.strip() == "error: --adapt-steps is for --adapt film"


def test_a_recipe_can_train_instrument_offsets():
    from neuralsynth.model.mel2mel import Mel2Mel

    model = Mel2Mel.from_spec({"conditioner": {"name": "film", "instrument_offsets": True},
                               "sequence": {"name": "bilstm", "hidden_size": 8}},
                              n_instruments=3)
    assert model.timbre_width == 2 + 3
    x = torch.rand(2, 12, model.in_dim)
    t = model.embed(torch.eye(3)[[0, 2]])                     # as the trainer builds it
    model(x, t).pow(2).mean().backward()
    grad = model.conditioner.offset_beta["post"].grad
    assert grad is not None and grad[[0, 2]].abs().sum() > 0 and grad[1].abs().sum() == 0
