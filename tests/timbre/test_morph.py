"""Timbre morph paths: parsing, the per-frame embedding trajectory, and morphing renders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from click.testing import CliRunner

from neuralsynth.cli.main import cli
from neuralsynth.errors import TimbreError
from neuralsynth.inference.load import load_trained_model
from neuralsynth.timbre.path import Keyframe, TimbrePath, interpolate
from neuralsynth.timbre.point import Timbre
from neuralsynth.timbre.spec import parse_timbre
from tests.model_factory import INSTRUMENTS

HOP, SR = 128, 16000
FRAME = HOP / SR            # seconds per frame


def parse(spec: str, dim: int = 2) -> TimbrePath:
    parsed = parse_timbre(spec, INSTRUMENTS, dim)
    assert isinstance(parsed, TimbrePath)
    return parsed


@pytest.fixture(scope="module")
def model(untrained_ckpt):
    """The untrained checkpoint's model: its FiLM table is random, so rows are distinct."""
    return load_trained_model(untrained_ckpt).model.eval()


@pytest.fixture(scope="module")
def table(model) -> torch.Tensor:
    table = model.instrument_embeddings().detach()
    assert table.shape == (3, 2)
    assert torch.cdist(table, table).fill_diagonal_(1.0).min() > 1e-3   # distinct rows
    return table


# -- parsing ------------------------------------------------------------------------------
def test_issue_example():
    path = parse("piano@0s,organ@8s")
    assert not path.is_static
    assert path.times == (0.0, 8.0)
    assert [k.timbre.mix() for k in path.keyframes] == [{"grand_piano": 1.0},
                                                        {"church_organ": 1.0}]
    assert path.describe() == "grand_piano@0s -> church_organ@8s"


@pytest.mark.parametrize("time, seconds", [
    ("8s", 8.0), ("8", 8.0), ("2.5s", 2.5), (".5s", 0.5), ("8 S", 8.0), ("0", 0.0),
    ("500ms", 0.5), ("10MS", 0.01), ("1:30", 90.0), ("1:30.5", 90.5), ("0:05", 5.0),
    ("12:00", 720.0),
])
def test_time_formats(time, seconds):
    assert parse(f"organ@{time}").times == pytest.approx((seconds,))


def test_spaces_around_keyframes_and_marks():
    path = parse("  piano @ 0s ,  organ @ 1:00 ")
    assert path.times == (0.0, 60.0)
    assert path.describe() == "grand_piano@0s -> church_organ@60s"


def test_mix_keyframes_use_plus_and_parse_like_static_mixes():
    path = parse("piano:0.3+organ:0.7@4s,piano+trumpet@6s,organ:1+organ:3@7s")
    assert path.keyframes[0].timbre.weights == parse_timbre("piano:0.3,organ:0.7",
                                                            INSTRUMENTS, 2).weights
    assert path.keyframes[0].timbre.weights == pytest.approx((0.3, 0.7, 0.0))
    assert path.keyframes[1].timbre.weights == pytest.approx((0.5, 0.0, 0.5))
    assert path.keyframes[2].timbre.weights == pytest.approx((0.0, 1.0, 0.0))
    assert path.describe().startswith("(grand_piano 30% + church_organ 70%)@4s -> ")


def test_coordinate_keyframes_use_semicolons():
    path = parse("xy:0.5;-1.2@0,organ@1s")
    assert path.keyframes[0].timbre.coordinates == (0.5, -1.2)
    assert path.keyframes[0].timbre.weights is None
    assert path.describe() == "xy:0.5;-1.2@0s -> church_organ@1s"
    assert parse("XY: 1 ; 2 ; 3@0", dim=3).keyframes[0].timbre.coordinates == (1.0, 2.0, 3.0)


def test_static_specs_stay_static():
    for spec in ("piano", "piano:0.3,organ:0.7", "xy:0.5,-1.2"):
        parsed = parse_timbre(spec, INSTRUMENTS, 2)
        assert isinstance(parsed, Timbre) and parsed.is_static


def _error(spec: str, dim: int = 2) -> str:
    with pytest.raises(TimbreError) as info:
        parse_timbre(spec, INSTRUMENTS, dim)
    message = str(info.value)
    assert "\n" not in message
    assert info.value.exit_code == 2
    assert f"timbre '{spec.strip()}'" in message      # the spec is quoted
    return message


@pytest.mark.parametrize("spec, needles", [
    ("piano@0s,,organ@1s", ("empty keyframe",)),
    ("piano@0s,", ("empty keyframe",)),
    ("piano@0s,organ", ("keyframe 'organ' has no time", "TIMBRE@TIME")),
    ("piano:0.3,organ:0.7@3s", ("keyframe 'piano:0.3' has no time", "mixes use '+'")),
    ("xy:0.5,-1.2@3s", ("has no time", "coordinates use ';'")),
    ("piano@", ("keyframe 'piano@' has no time after '@'",)),
    ("piano@0s@1s", ("more than one '@'",)),
    ("@3s", ("keyframe '@3s' has no timbre",)),
    ("piano@x", ("bad time 'x'", "'500ms'", "'1:30'")),
    ("piano@8sec", ("bad time '8sec'",)),
    ("piano@1e3", ("bad time '1e3'",)),
    ("piano@1:5", ("bad time '1:5'",)),
    ("piano@1:75", ("'1:75'", "below 60")),
    ("piano@-1s", ("negative",)),
    ("piano@2s,organ@1s", ("strictly increase", "'organ@1s'")),
    ("piano@1s,organ@1000ms", ("strictly increase", "'organ@1000ms'")),
    ("piano@0,organ@1:00,trumpet@59", ("strictly increase", "'trumpet@59'")),
    ("pian@0s,organ@1s", ("unknown instrument 'pian'", "did you mean 'piano'?")),
    ("piano@0s,violin@1s", ("'violin'", "grand_piano")),
    ("xy:1;2;3@0,organ@1", ("exactly 2 numbers", "got 3")),
    ("xy:1;@0", ("empty coordinate between semicolons",)),
    ("xy:1;b@0", ("coordinate 'b'",)),
    ("piano:-1+organ@0", ("negative",)),
    ("piano:0+organ:0@0", ("all weights are zero",)),
    ("piano:abc+organ@0", ("'abc'", "not a number")),
    ("piano++organ@0", ("empty entry between '+' signs",)),
])
def test_errors(spec, needles):
    message = _error(spec)
    for needle in needles:
        assert needle in message, (needle, message)


def test_leading_at_sign_still_points_to_the_coordinate_syntax():
    assert "raw coordinates are written 'xy:0.5,1'" in _error("@0.5,1")


def test_path_needs_increasing_keyframes():
    organ = parse_timbre("organ", INSTRUMENTS, 2)
    with pytest.raises(ValueError):
        TimbrePath(spec="x", keyframes=())
    with pytest.raises(ValueError):
        TimbrePath(spec="x", keyframes=(Keyframe(1.0, organ), Keyframe(1.0, organ)))


# -- trajectory -----------------------------------------------------------------------------
def test_trajectory_shape_dtype_device(model, table):
    traj = parse("piano@0s,organ@0.5s").trajectory(model, 123)
    assert traj.shape == (123, 2)
    assert traj.dtype == table.dtype and traj.device == table.device
    assert parse("piano@0s,organ@0.5s").trajectory(model, 0).shape == (0, 2)


def test_trajectory_hits_keyframes_and_midpoints(model, table):
    # Frames 0, 100 and 200 fall on the keyframes (8 ms per frame).
    path = parse("piano@0s,organ@0.8s,trumpet@1.6s")
    traj = path.trajectory(model, 251).detach()
    piano, organ, trumpet = table
    assert torch.allclose(traj[0], piano, atol=1e-6)
    assert torch.allclose(traj[100], organ, atol=1e-6)
    assert torch.allclose(traj[200], trumpet, atol=1e-6)
    assert torch.allclose(traj[50], 0.5 * piano + 0.5 * organ, atol=1e-6)
    assert torch.allclose(traj[25], 0.75 * piano + 0.25 * organ, atol=1e-6)
    assert torch.allclose(traj[150], 0.5 * organ + 0.5 * trumpet, atol=1e-6)
    # After the last keyframe the timbre holds still.
    assert torch.allclose(traj[200:], trumpet.expand(51, 2), atol=1e-6)


def test_trajectory_is_constant_before_the_first_keyframe(model, table):
    traj = parse("piano@400ms,organ@0:00.8").trajectory(model, 150).detach()
    assert torch.allclose(traj[:51], table[0].expand(51, 2), atol=1e-6)
    assert torch.allclose(traj[75], 0.5 * table[0] + 0.5 * table[1], atol=1e-6)
    assert torch.allclose(traj[100:], table[1].expand(50, 2), atol=1e-6)


def test_trajectory_matches_numpy_interpolation_everywhere(model, table):
    path = parse("trumpet@0.1s,piano:0.3+organ:0.7@0.55s,xy:1.5;-0.5@0.9s,organ@1.3s")
    n = 200
    traj = path.trajectory(model, n).detach().numpy()
    keys = np.stack([table[2].numpy(), model.embed(torch.tensor([0.3, 0.7, 0.0])).detach().numpy(),
                     np.array([1.5, -0.5], dtype=np.float32), table[1].numpy()])
    at = np.arange(n) * FRAME
    expected = np.stack([np.interp(at, path.times, keys[:, d]) for d in range(2)], axis=1)
    np.testing.assert_allclose(traj, expected, atol=1e-5)


def test_mix_keyframe_embedding_is_models_embed(model):
    path = parse("piano:0.3+organ:0.7@0,trumpet@1")
    first = path.trajectory(model, 1)[0]
    assert torch.allclose(first, model.embed(torch.tensor([0.3, 0.7, 0.0])), atol=1e-6)


def test_midpoint_between_instruments_is_the_even_mix(model):
    """Embeddings are linear in the weights, so half way is the 50/50 mix's embedding."""
    traj = parse("piano@0s,organ@0.8s").trajectory(model, 101)
    mix = parse_timbre("piano:0.5,organ:0.5", INSTRUMENTS, 2).embedding(model)
    assert torch.allclose(traj[50], mix, atol=1e-6)


def test_single_keyframe_is_constant(model, table):
    traj = parse("organ@3s").trajectory(model, 40)
    assert torch.allclose(traj, table[1].expand(40, 2), atol=0)


def test_interpolate_follows_the_frame_rate_of_the_encoder(model, table):
    """A keyframe at 1 s lands on frame sample_rate / hop_length of the model's encoder."""
    assert model.encoder.hop_length / model.encoder.sample_rate == FRAME
    traj = parse("piano@0s,organ@1s").trajectory(model, 200).detach()
    assert torch.allclose(traj[125], table[1], atol=1e-6)
    assert torch.allclose(traj[124], 0.008 * table[0] + 0.992 * table[1], atol=1e-6)
    assert not torch.equal(traj[124], table[1])


def test_interpolate_function():
    times = torch.tensor([1.0, 3.0], dtype=torch.float64)
    values = torch.tensor([[0.0, 10.0], [4.0, 2.0]])
    out = interpolate(times, values, torch.tensor([0.0, 1.0, 2.0, 2.5, 3.0, 9.0],
                                                  dtype=torch.float64))
    assert out.dtype == torch.float32
    assert out.tolist() == [[0, 10], [0, 10], [2, 6], [3, 4], [4, 2], [4, 2]]


# -- rendering ------------------------------------------------------------------------------
def read(path: Path) -> np.ndarray:
    wave, sr = sf.read(str(path), dtype="float32")
    assert sr == SR and wave.ndim == 1
    return wave


def test_cli_renders_a_morph(tmp_path, trained_checkpoint, small_midis):
    from neuralsynth.midi.read import load_notes

    out = tmp_path / "morph.wav"
    result = CliRunner().invoke(cli, ["render", str(small_midis[1]), "--model",
                                      str(trained_checkpoint), "--timbre", "piano@0s,organ@2.5s",
                                      "--tail", "0.5", "--vocoder", "griffin_lim",
                                      "--vocoder-opt", "n_iter=4", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "timbre grand_piano@0s -> church_organ@2.5s" in result.output
    n_frames = int(round((load_notes(small_midis[1]).duration + 0.5) * SR / HOP)) + 1
    wave = read(out)
    assert wave.shape == (n_frames * HOP,)
    assert np.abs(wave).max() > 1e-3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["morph.wav"]


def test_trained_model_morph_moves_from_piano_to_organ(trained_checkpoint, small_midis):
    """Early frames of a piano→organ morph sound like the piano, late ones like the organ."""
    from neuralsynth.midi.read import load_notes

    loaded = load_trained_model(trained_checkpoint)
    model = loaded.model.eval()
    notes = load_notes(small_midis[3])
    n = model.encoder.frames_for(notes.duration + 0.25)
    x = torch.from_numpy(model.encoder.encode(notes, n)).unsqueeze(0)
    end = (n - 1) * model.encoder.hop_length / model.encoder.sample_rate
    morph = parse_timbre(f"piano@0s,organ@{end:.6f}s", loaded.instruments,
                         model.embedding_dim)
    piano, organ = (parse_timbre(s, loaded.instruments, model.embedding_dim)
                    for s in ("piano", "organ"))
    with torch.inference_mode():
        mel_m = model(x, morph.trajectory(model, n).unsqueeze(0))[0]
        mel_p = model(x, piano.embedding(model).unsqueeze(0))[0]
        mel_o = model(x, organ.embedding(model).unsqueeze(0))[0]
    assert mel_m.shape == mel_p.shape == (n, model.n_mels)

    def dist(a, b, frames):
        return float(((a[frames] - b[frames]) ** 2).mean())

    early, late = slice(0, n // 4), slice(n - n // 4, n)
    assert dist(mel_m, mel_p, early) < dist(mel_m, mel_o, early)
    assert dist(mel_m, mel_o, late) < dist(mel_m, mel_p, late)
    # The morph is neither endpoint: it differs from both somewhere.
    assert dist(mel_m, mel_p, slice(None)) > 0 and dist(mel_m, mel_o, slice(None)) > 0


def test_single_keyframe_renders_like_the_static_timbre(tmp_path, untrained_ckpt, small_midis):
    from neuralsynth.inference.render import render_midi

    gl = {"name": "griffin_lim", "n_iter": 4}
    render_midi(small_midis[0], tmp_path / "static.wav", model_path=untrained_ckpt,
                vocoder=gl, timbre="organ", tail_seconds=0.25)
    result = render_midi(small_midis[0], tmp_path / "path.wav", model_path=untrained_ckpt,
                         vocoder=gl, timbre="organ@3s", tail_seconds=0.25)
    assert result.timbre == "church_organ@3s"
    # Equal up to float rounding, i.e. at most one step of the 16-bit WAV samples.
    np.testing.assert_allclose(read(tmp_path / "path.wav"), read(tmp_path / "static.wav"),
                               atol=1.5 / 32768, rtol=0)


@pytest.mark.parametrize("spec, needles", [
    ("piano@0s,organ@soon", ("bad time 'soon'",)),
    ("piano@2s,organ@1s", ("strictly increase",)),
    ("pian@0s,organ@1s", ("did you mean 'piano'?",)),
    ("piano:0.3,organ:0.7@1s", ("has no time",)),
])
def test_cli_bad_morph_spec(tmp_path, untrained_ckpt, small_midis, spec, needles):
    out = tmp_path / "out" / "o.wav"
    result = CliRunner().invoke(cli, ["render", str(small_midis[0]), "-o", str(out),
                                      "--model", str(untrained_ckpt), "--timbre", spec])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert f"'{spec}'" in lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert result.stdout == ""
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_cli_help_documents_morphs():
    result = CliRunner().invoke(cli, ["render", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for needle in ("piano@0s,organ@8s", "TIMBRE@TIME", "500ms", "1:30", "docs/timbre.md"):
        assert needle in text, needle
