"""render_midi and `neuralsynth render`: lengths, timbre, vocoder choice, outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from click.testing import CliRunner

from neuralsynth.cli.main import cli
from neuralsynth.errors import UsageError
from neuralsynth.inference.load import default_model_path, default_timbre, load_trained_model
from neuralsynth.inference.render import render_midi
from neuralsynth.vocoders.select import vocoder_spec
from tests.midi_factory import random_melody, write_midi
from tests.model_factory import INSTRUMENTS, make_checkpoint

HOP, SR = 128, 16000
# Few Griffin-Lim iterations keep each render well under a second.
FAST_GL = {"name": "griffin_lim", "n_iter": 4}


@pytest.fixture(scope="module")
def midi(tmp_path_factory) -> Path:
    return write_midi(tmp_path_factory.mktemp("midi") / "melody.mid",
                      random_melody(3, seconds=1.5, polyphony=2))


def frames_for(seconds: float) -> int:
    return int(round(seconds * SR / HOP)) + 1


def read(path: Path) -> np.ndarray:
    wave, sr = sf.read(str(path), dtype="float32")
    assert sr == SR and wave.ndim == 1
    return wave


# -- length ---------------------------------------------------------------------------
@pytest.mark.parametrize("tail", [0.0, 0.37, 1.0])
def test_length_is_n_frames_times_hop(tmp_path, untrained_ckpt, midi, tail):
    from neuralsynth.midi.read import load_notes

    duration = load_notes(midi).duration
    out = tmp_path / "out.wav"
    result = render_midi(midi, out, model_path=untrained_ckpt, vocoder=FAST_GL, tail_seconds=tail)
    n_frames = frames_for(duration + tail)
    assert result.n_samples == n_frames * HOP
    assert result.seconds == pytest.approx(n_frames * HOP / SR)
    assert result.out_path == out
    wave = read(out)
    assert wave.shape == (n_frames * HOP,)
    assert np.abs(wave).max() > 1e-3          # something was rendered
    assert set(result.timings) >= {"load", "encode", "model", "vocoder", "write", "total"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav"]   # no temp files


def test_longer_tail_adds_exactly_its_frames(tmp_path, untrained_ckpt, midi):
    a = render_midi(midi, tmp_path / "a.wav", model_path=untrained_ckpt, vocoder=FAST_GL,
                    tail_seconds=0.0)
    b = render_midi(midi, tmp_path / "b.wav", model_path=untrained_ckpt, vocoder=FAST_GL,
                    tail_seconds=0.5)
    assert b.n_samples - a.n_samples == pytest.approx(0.5 * SR, abs=HOP)


def test_drum_tracks_do_not_extend_the_render(tmp_path, untrained_ckpt):
    notes = [(60, 0.0, 0.5, 90), (64, 0.25, 1.0, 90)]
    plain = write_midi(tmp_path / "plain.mid", notes)
    drums = write_midi(tmp_path / "drums.mid", notes, drum_notes=[(36, 0.0, 3.0, 100)])
    a = render_midi(plain, tmp_path / "a.wav", model_path=untrained_ckpt, vocoder=FAST_GL)
    b = render_midi(drums, tmp_path / "b.wav", model_path=untrained_ckpt, vocoder=FAST_GL)
    assert a.n_samples == b.n_samples == frames_for(1.0 + 1.0) * HOP
    assert np.array_equal(read(tmp_path / "a.wav"), read(tmp_path / "b.wav"))


# -- timbre ----------------------------------------------------------------------------
def test_default_timbre_is_piano_else_the_first_instrument():
    assert default_timbre(["church_organ", "grand_piano"]) == "grand_piano"
    assert default_timbre(["church_organ", "acoustic_grand_piano"]) == "acoustic_grand_piano"
    assert default_timbre(["trumpet", "church_organ"]) == "trumpet"


def test_default_timbre_renders_the_piano(tmp_path, untrained_ckpt, midi):
    render_midi(midi, tmp_path / "default.wav", model_path=untrained_ckpt, vocoder=FAST_GL)
    render_midi(midi, tmp_path / "piano.wav", model_path=untrained_ckpt, vocoder=FAST_GL,
                timbre="piano")
    assert np.array_equal(read(tmp_path / "default.wav"), read(tmp_path / "piano.wav"))


def test_render_is_deterministic(tmp_path, untrained_ckpt, midi):
    for name in ("x.wav", "y.wav"):
        render_midi(midi, tmp_path / name, model_path=untrained_ckpt, vocoder=FAST_GL,
                    timbre="piano:0.2,organ:0.8")
    assert (tmp_path / "x.wav").read_bytes() == (tmp_path / "y.wav").read_bytes()


def test_mixes_change_the_output(tmp_path, untrained_ckpt, midi):
    waves = {}
    for spec in ("piano", "organ", "piano:0.5,organ:0.5", "piano:0.1,organ:0.9"):
        out = tmp_path / f"{len(waves)}.wav"
        result = render_midi(midi, out, model_path=untrained_ckpt, vocoder=FAST_GL, timbre=spec)
        waves[spec] = read(out)
        assert result.timbre  # described for the CLI
    specs = list(waves)
    for i, a in enumerate(specs):
        for b in specs[i + 1:]:
            assert waves[a].shape == waves[b].shape
            assert not np.allclose(waves[a], waves[b], atol=1e-4), (a, b)


def test_coordinates_of_a_mix_render_the_mix(tmp_path, untrained_ckpt, midi):
    """Raw coordinates equal to a mix's embedding give the mix's audio, bit for bit."""
    from neuralsynth.timbre.spec import parse_timbre

    model = load_trained_model(untrained_ckpt).model
    emb = parse_timbre("piano:0.3,organ:0.7", INSTRUMENTS, 2).embedding(model)
    coords = "xy:" + ",".join(repr(float(v)) for v in emb.tolist())
    render_midi(midi, tmp_path / "mix.wav", model_path=untrained_ckpt, vocoder=FAST_GL,
                timbre="piano:0.3,organ:0.7")
    render_midi(midi, tmp_path / "xy.wav", model_path=untrained_ckpt, vocoder=FAST_GL,
                timbre=coords)
    render_midi(midi, tmp_path / "far.wav", model_path=untrained_ckpt, vocoder=FAST_GL,
                timbre="xy:5,-5")
    assert np.array_equal(read(tmp_path / "mix.wav"), read(tmp_path / "xy.wav"))
    assert not np.allclose(read(tmp_path / "mix.wav"), read(tmp_path / "far.wav"), atol=1e-4)


def test_trained_model_mixes_move_from_one_instrument_to_the_other(trained_checkpoint,
                                                                     small_midis, tmp_path):
    """With a trained model, shifting weight from piano to organ moves the rendered mel
    steadily away from the piano render and towards the organ render."""
    from neuralsynth.audio import spectral as audio

    log_mels = {}
    for w in (1.0, 0.8, 0.5, 0.0):
        out = tmp_path / f"mix{w}.wav"
        render_midi(small_midis[3], out, model_path=trained_checkpoint, vocoder=FAST_GL,
                    timbre=f"piano:{w},organ:{1 - w}")
        log_mels[w] = np.log(audio.mel_spectrogram(read(out)).numpy())

    def dist(a, b):
        return float(np.mean((log_mels[a] - log_mels[b]) ** 2))

    assert 0 < dist(1.0, 0.8) < dist(1.0, 0.5) < dist(1.0, 0.0)
    assert 0 < dist(0.0, 0.5) < dist(0.0, 0.8) < dist(0.0, 1.0)


# -- vocoder ----------------------------------------------------------------------------
def test_vocoder_options_change_the_output(tmp_path, untrained_ckpt, midi):
    a = tmp_path / "a.wav"
    b = tmp_path / "b.wav"
    c = tmp_path / "c.wav"
    render_midi(midi, a, model_path=untrained_ckpt, vocoder={**FAST_GL, "seed": 1})
    render_midi(midi, b, model_path=untrained_ckpt, vocoder={**FAST_GL, "seed": 2})
    render_midi(midi, c, model_path=untrained_ckpt, vocoder=FAST_GL, vocoder_options={"seed": 2})
    assert not np.allclose(read(a), read(b), atol=1e-4)
    assert np.array_equal(read(b), read(c))


def test_checkpoint_recipe_vocoder_is_the_default(tmp_path, midi):
    gl_ckpt = make_checkpoint(tmp_path / "gl.pt", vocoder={"name": "griffin_lim", "n_iter": 2,
                                                        "seed": 9})
    render_midi(midi, tmp_path / "default.wav", model_path=gl_ckpt)
    render_midi(midi, tmp_path / "explicit.wav", model_path=gl_ckpt,
                vocoder={"name": "griffin_lim", "n_iter": 2, "seed": 9})
    render_midi(midi, tmp_path / "other.wav", model_path=gl_ckpt,
                vocoder={"name": "griffin_lim", "n_iter": 2, "seed": 1})
    assert np.array_equal(read(tmp_path / "default.wav"), read(tmp_path / "explicit.wav"))
    assert not np.allclose(read(tmp_path / "default.wav"), read(tmp_path / "other.wav"),
                           atol=1e-4)


def test_vocoder_spec_resolution():
    class R:
        vocoder = {"name": "griffin_lim", "n_iter": 7}

    assert vocoder_spec(None, None) == {"name": "griffin_lim"}
    assert vocoder_spec(None, R()) == {"name": "griffin_lim", "n_iter": 7}
    # Naming the recipe's vocoder keeps its settings; options override them.
    assert vocoder_spec({"name": "griffin_lim"}, R(), {"seed": 3}) == \
        {"name": "griffin_lim", "n_iter": 7, "seed": 3}
    assert vocoder_spec({"name": "other"}, R()) == {"name": "other"}
    with pytest.raises(UsageError):
        vocoder_spec(None, R(), {"name": "x"})


def test_flac_output(tmp_path, untrained_ckpt, midi):
    result = render_midi(midi, tmp_path / "out.flac", model_path=untrained_ckpt, vocoder=FAST_GL,
                         tail_seconds=0.25)
    info = sf.info(str(tmp_path / "out.flac"))
    assert info.format == "FLAC" and info.frames == result.n_samples


def test_no_default_model(tmp_path, midi, monkeypatch):
    monkeypatch.setenv("NEURALSYNTH_DEFAULT_MODEL", "none")   # ignore a bundled model
    assert default_model_path() is None
    with pytest.raises(UsageError, match="no bundled default model"):
        render_midi(midi, tmp_path / "o.wav")
    assert not (tmp_path / "o.wav").exists()


@pytest.mark.parametrize("tail", [-1.0, float("nan"), float("inf")])
def test_bad_tail(tmp_path, untrained_ckpt, midi, tail):
    with pytest.raises(UsageError, match="tail"):
        render_midi(midi, tmp_path / "o.wav", model_path=untrained_ckpt, tail_seconds=tail)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_cuda_without_gpu_is_a_usage_error(tmp_path, untrained_ckpt, midi):
    with pytest.raises(UsageError, match="no CUDA GPU"):
        render_midi(midi, tmp_path / "o.wav", model_path=untrained_ckpt, device="cuda")


# -- CLI --------------------------------------------------------------------------------
def test_cli_render_writes_file_and_reports(tmp_path, untrained_ckpt, midi):
    out = tmp_path / "sub" / "cli.wav"
    result = CliRunner().invoke(cli, ["render", str(midi), "-o", str(out),
                                      "--model", str(untrained_ckpt),
                                      "--timbre", "piano:0.3,organ:0.7", "--vocoder",
                                      "griffin_lim", "--vocoder-opt", "n_iter=4",
                                      "--vocoder-opt", "seed=2", "--tail", "0.5",
                                      "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert str(out) in result.stdout
    assert "grand_piano 30% + church_organ 70%" in result.stdout
    assert "vocoder griffin_lim" in result.stdout
    from neuralsynth.midi.read import load_notes

    n = frames_for(load_notes(midi).duration + 0.5) * HOP
    assert f"{n} samples" in result.stdout
    assert read(out).shape == (n,)
    # The options reached the vocoder: same render through the library is identical.
    render_midi(midi, tmp_path / "lib.wav", model_path=untrained_ckpt, timbre="piano:0.3,organ:0.7",
                vocoder={"name": "griffin_lim", "n_iter": 4, "seed": 2}, tail_seconds=0.5)
    assert np.array_equal(read(out), read(tmp_path / "lib.wav"))


def test_cli_help_documents_the_timbre_syntax():
    result = CliRunner().invoke(cli, ["render", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for needle in ("piano:0.3,organ:0.7", "xy:0.5,-1.2", "--vocoder-opt", "--tail",
                   "Examples:"):
        assert needle in text


def test_cli_without_model_explains(tmp_path, midi, monkeypatch):
    monkeypatch.setenv("NEURALSYNTH_DEFAULT_MODEL", "none")   # ignore a bundled model
    result = CliRunner().invoke(cli, ["render", str(midi), "-o", str(tmp_path / "o.wav")])
    assert result.exit_code == 2
    assert "no --model given and no bundled default model is installed" in result.stderr


@pytest.mark.parametrize("opt, needle", [("n_iter", "key=value"), ("=3", "key=value"),
                                         ("name=x", "--vocoder")])
def test_cli_malformed_vocoder_opt(tmp_path, untrained_ckpt, midi, opt, needle):
    result = CliRunner().invoke(cli, ["render", str(midi), "-o", str(tmp_path / "o.wav"),
                                      "--model", str(untrained_ckpt), "--vocoder-opt", opt])
    assert result.exit_code == 2
    assert needle in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_vocoder_options_parse_like_recipe_overrides():
    from neuralsynth.cli.render import parse_vocoder_opts

    opts = parse_vocoder_opts(("momentum=1e-3", "n_iter=8", "power=1.5", "seed=0"))
    assert opts == {"momentum": 1e-3, "n_iter": 8, "power": 1.5, "seed": 0}
    assert isinstance(opts["momentum"], float)   # plain yaml.safe_load gives the str '1e-3'


# -- the notes reach score-informed vocoders ---------------------------------------------
def test_render_hands_the_pedalled_notes_to_a_score_vocoder(tmp_path, monkeypatch):
    from neuralsynth.vocoders.harmonic.vocoder import HarmonicVocoder
    from neuralsynth.vocoders.score import Score

    seen: list[tuple[int, Score]] = []
    real = HarmonicVocoder.synthesize

    def spy(self, mel, score=None):
        seen.append((mel.shape[0], score))
        return real(self, mel, score=score)

    monkeypatch.setattr(HarmonicVocoder, "synthesize", spy)
    path = write_midi(tmp_path / "ped.mid", [(60, 0.0, 0.2, 90), (64, 0.5, 0.7, 90)],
                      sustain=[(0.1, 1.5)])
    result = render_midi(path, tmp_path / "h.wav", vocoder={"name": "harmonic"})
    (n, score), = seen
    assert score.n_frames == n and n * 128 == result.n_samples
    assert list(score.notes.pitch) == [60, 64]
    # The pedal holds both notes until it is lifted at 1.5 s.
    assert np.allclose(score.notes.end, 1.5)
    y = read(tmp_path / "h.wav")
    assert np.all(np.isfinite(y)) and np.sqrt(np.mean(y ** 2)) > 1e-3


def test_cli_renders_with_the_harmonic_vocoder(tmp_path, midi):
    out = tmp_path / "h.flac"
    result = CliRunner().invoke(cli, ["render", str(midi), "-o", str(out), "--vocoder",
                                      "harmonic", "--vocoder-opt", "release=0.5"])
    assert result.exit_code == 0, result.output
    y = read(out)
    assert y.shape[0] > 16000 and np.sqrt(np.mean(y ** 2)) > 1e-3


def test_griffin_lim_gets_no_score(tmp_path, untrained_ckpt, midi, monkeypatch):
    from neuralsynth.vocoders.griffin_lim import GriffinLim

    calls = []
    real = GriffinLim.synthesize

    def spy(self, *args, **kwargs):
        calls.append(kwargs)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(GriffinLim, "synthesize", spy)
    render_midi(midi, tmp_path / "g.wav", model_path=untrained_ckpt)
    assert calls == [{}]
