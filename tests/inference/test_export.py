"""`neuralsynth export` and `neuralsynth info`: slim model files that render like their
checkpoint (exactly in float32, within float16 rounding with --half), and bad inputs."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from click.testing import CliRunner

from neuralsynth.checkpoint import load_checkpoint
from neuralsynth.cli.main import cli
from neuralsynth.errors import CheckpointError, UsageError
from neuralsynth.inference.export import EXPORT_KEY, export_model
from neuralsynth.inference.info import model_info
from neuralsynth.inference.load import load_trained_model
from neuralsynth.inference.render import render_midi
from neuralsynth.training.run_state import RESUME_KEYS
from tests.midi_factory import random_melody, write_midi
from tests.model_factory import make_checkpoint

FAST_GL = {"name": "griffin_lim", "n_iter": 4}
PAPER_INSTRUMENTS = ["grand_piano", "electric_piano", "vibraphone", "church_organ",
                     "acoustic_guitar", "pizzicato_strings", "orchestral_harp",
                     "string_ensemble", "trumpet", "synth_lead"]


@pytest.fixture(scope="module")
def exported(trained_checkpoint, tmp_path_factory) -> dict[str, Path]:
    """The trained checkpoint exported in float32 and float16."""
    root = tmp_path_factory.mktemp("exported")
    return {"fp32": export_model(trained_checkpoint, root / "fp32.pt").out_path,
            "fp16": export_model(trained_checkpoint, root / "fp16.pt", half=True).out_path}


@pytest.fixture(scope="module")
def midi(tmp_path_factory) -> Path:
    return write_midi(tmp_path_factory.mktemp("midi") / "m.mid",
                      random_melody(7, seconds=1.5, polyphony=2))


def features(model, midi_path: Path) -> torch.Tensor:
    from neuralsynth.midi.read import load_notes

    notes = load_notes(midi_path)
    x = model.encoder.encode(notes, model.encoder.frames_for(notes.duration + 0.5))
    return torch.from_numpy(np.asarray(x, dtype=np.float32)).unsqueeze(0)


def log_mels(path: Path, x: torch.Tensor) -> torch.Tensor:
    """Log mel of ``x`` for each instrument and an even mix: ``[3, T, 80]``."""
    model = load_trained_model(path).model
    n = model.n_instruments
    weights = torch.tensor([[1.0] + [0.0] * (n - 1), [0.0] * (n - 1) + [1.0], [1.0 / n] * n])
    with torch.inference_mode():
        t = model.embed(weights)                                    # [3, D]
        return model(x.expand(3, -1, -1), t)


def tensor_bytes(state: dict) -> int:
    return sum(v.numel() * v.element_size() for v in state.values())


# -- contents ---------------------------------------------------------------------------
def test_export_keeps_what_rendering_needs_and_provenance(trained_checkpoint, exported):
    src = load_checkpoint(trained_checkpoint)
    for kind, dtype in (("fp32", torch.float32), ("fp16", torch.float16)):
        data = load_checkpoint(exported[kind])
        assert not any(k in data for k in RESUME_KEYS)
        assert data["instruments"] == src["instruments"] == ["grand_piano", "church_organ"]
        assert data["recipe"] == src["recipe"]
        assert data["step"] == src["step"] and data["best_val_loss"] == src["best_val_loss"]
        assert {v.dtype for v in data["model_state"].values()} == {dtype}
        meta = data[EXPORT_KEY]
        assert meta["source"] == trained_checkpoint.name            # no directories
        assert meta["source_step"] == src["step"]
        assert meta["val_loss"] == pytest.approx(src["best_val_loss"])
        assert meta["dtype"] == str(dtype).removeprefix("torch.")
        assert meta["name"] == src["recipe"]["name"]
        assert meta["neuralsynth_version"] == data["neuralsynth_version"]
        age = dt.datetime.now(dt.timezone.utc) - dt.datetime.fromisoformat(meta["date"])
        assert dt.timedelta(0) <= age < dt.timedelta(hours=1)


def test_export_drops_training_state(trained_checkpoint, tmp_path):
    last = trained_checkpoint.parent / "last.pt"
    assert set(RESUME_KEYS) <= set(load_checkpoint(last))
    result = export_model(last, tmp_path / "slim.pt")
    data = load_checkpoint(result.out_path)
    assert not any(k in data for k in RESUME_KEYS)
    # Adam keeps two moments per weight: the weights alone are under half the file.
    assert result.size_bytes < 0.5 * last.stat().st_size
    assert result.source_size_bytes == last.stat().st_size


def test_half_halves_the_weights(trained_checkpoint, exported):
    s32 = load_checkpoint(exported["fp32"])["model_state"]
    s16 = load_checkpoint(exported["fp16"])["model_state"]
    assert tensor_bytes(s16) * 2 == tensor_bytes(s32)
    # The files differ by the weights saved, up to torch's 64-byte record alignment.
    saved = exported["fp32"].stat().st_size - exported["fp16"].stat().st_size
    assert abs(saved - tensor_bytes(s32) // 2) <= 64 * len(s32) + 256


def test_paper_size_model_halves_on_disk_and_fits_in_a_few_mb(tmp_path):
    src = make_checkpoint(tmp_path / "big.pt", instruments=PAPER_INSTRUMENTS, hidden_size=256)
    full = export_model(src, tmp_path / "f32.pt")
    half = export_model(src, tmp_path / "f16.pt", half=True)
    assert 0.48 < half.size_bytes / full.size_bytes < 0.52
    assert half.size_bytes < 3_000_000 and half.n_parameters > 1_000_000


def test_name_option(trained_checkpoint, tmp_path):
    result = export_model(trained_checkpoint, tmp_path / "n.pt", name="  demo-2inst ")
    assert result.name == "demo-2inst"
    assert load_checkpoint(result.out_path)[EXPORT_KEY]["name"] == "demo-2inst"
    assert model_info(result.out_path).name == "demo-2inst"


def test_reexport_keeps_the_original_source(trained_checkpoint, exported, tmp_path):
    again = export_model(exported["fp32"], tmp_path / "again.pt", half=True)
    meta = load_checkpoint(again.out_path)[EXPORT_KEY]
    assert meta["source"] == trained_checkpoint.name and meta["dtype"] == "float16"
    a = load_checkpoint(again.out_path)["model_state"]
    b = load_checkpoint(exported["fp16"])["model_state"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# -- loading and rendering ------------------------------------------------------------
def test_fp32_export_predicts_exactly_the_same_mel(trained_checkpoint, exported, midi):
    x = features(load_trained_model(trained_checkpoint).model, midi)
    assert torch.equal(log_mels(exported["fp32"], x), log_mels(trained_checkpoint, x))


def test_fp16_export_loads_as_float32_with_rounded_weights(trained_checkpoint, exported):
    original = load_trained_model(trained_checkpoint).model.state_dict()
    loaded = load_trained_model(exported["fp16"]).model
    assert {p.dtype for p in loaded.parameters()} == {torch.float32}
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, original[key].half().float()), key


def test_fp16_export_predicts_nearly_the_same_mel(trained_checkpoint, exported, midi):
    x = features(load_trained_model(trained_checkpoint).model, midi)
    ref, half = log_mels(trained_checkpoint, x), log_mels(exported["fp16"], x)
    err = (half - ref).abs()
    # float16 keeps 11 significant bits (relative rounding 2^-11 ~ 5e-4 per weight);
    # measured here: mean ~1e-3, max ~3e-3.
    assert float(err.max()) < 1e-2 and float(err.mean()) < 2e-3
    assert not torch.equal(half, ref)                   # the weights really were rounded


def test_rendered_audio_of_fp32_export_is_identical(trained_checkpoint, exported, midi,
                                                    tmp_path):
    for name, path in (("orig", trained_checkpoint), ("slim", exported["fp32"])):
        render_midi(midi, tmp_path / f"{name}.wav", model_path=path, vocoder=FAST_GL,
                    timbre="piano:0.3,organ:0.7", device="cpu")
    a, _ = sf.read(str(tmp_path / "orig.wav"), dtype="float32")
    b, _ = sf.read(str(tmp_path / "slim.wav"), dtype="float32")
    assert np.array_equal(a, b) and np.abs(a).max() > 0


def test_refuses_weights_beyond_float16(tmp_path):
    src = make_checkpoint(tmp_path / "c.pt")
    data = load_checkpoint(src)
    key = next(k for k, v in data["model_state"].items() if v.is_floating_point())
    data["model_state"][key] = data["model_state"][key].clone().fill_(1e6)
    torch.save(data, src)
    with pytest.raises(CheckpointError, match="--no-half"):
        export_model(src, tmp_path / "h.pt", half=True)
    assert not (tmp_path / "h.pt").exists()
    assert export_model(src, tmp_path / "f.pt").dtype == "float32"


# -- CLI ----------------------------------------------------------------------------------
def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_cli_export_and_info(trained_checkpoint, tmp_path):
    out = tmp_path / "m.pt"
    result = invoke("export", trained_checkpoint, "-o", out, "--half", "--name", "tiny")
    assert result.exit_code == 0, result.output
    assert str(out) in result.stdout and "float16" in result.stdout
    assert "grand_piano, church_organ" in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]

    info = invoke("info", out)
    assert info.exit_code == 0, info.output
    text = info.stdout
    assert "exported model" in text and "name:        tiny" in text and "float16" in text
    assert f"from {trained_checkpoint.name}" in text
    src = load_checkpoint(trained_checkpoint)
    assert f"step {src['step']}, validation loss {src['best_val_loss']:.5f}" in text
    table = load_trained_model(out).model.instrument_embeddings()
    for name, row in zip(["grand_piano", "church_organ"], table.tolist()):
        assert [name, f"{row[0]:.3f},{row[1]:.3f}"] in [ln.split() for ln in text.splitlines()]


def test_cli_info_on_a_training_checkpoint(trained_checkpoint):
    result = invoke("info", trained_checkpoint.parent / "last.pt")
    assert result.exit_code == 0, result.output
    assert "training checkpoint (resumable)" in result.stdout
    assert "2-d space; 2 instruments" in result.stdout


def test_cli_help_has_examples():
    for cmd in ("export", "info"):
        result = invoke(cmd, "--help")
        assert result.exit_code == 0 and "Examples:" in result.output


def _not_a_dict(path: Path) -> Path:
    torch.save(torch.zeros(3), path)
    return path


@pytest.mark.parametrize("make_source, extra, code, needle", [
    (lambda d: d / "missing.pt", [], 1, "not found"),
    (lambda d: (d / "junk.pt").write_bytes(os.urandom(300)) and d / "junk.pt", [], 1,
     "not a valid checkpoint"),
    (lambda d: _not_a_dict(d / "tensor.pt"), [], 1, "not a neuralsynth checkpoint"),
    (lambda d: d, [], 1, "is a directory"),
    ("trained", ["--name", " "], 2, "--name"),
])
def test_cli_bad_inputs(tmp_path, trained_checkpoint, make_source, extra, code, needle):
    src_dir = tmp_path / "src"
    src_dir.mkdir()
    source = trained_checkpoint if make_source == "trained" else make_source(src_dir)
    out_dir = tmp_path / "out"
    result = invoke("export", source, "-o", out_dir / "m.pt", *extra)
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], lines
    assert "Traceback" not in result.output and result.stdout == ""
    assert not out_dir.exists() or list(out_dir.iterdir()) == []


@pytest.mark.parametrize("name, needle", [("m.wav", "must end in .pt or .pth"),
                                          ("same", "is the checkpoint being exported")])
def test_cli_bad_outputs(tmp_path, trained_checkpoint, name, needle):
    src = tmp_path / "c.pt"
    src.write_bytes(trained_checkpoint.read_bytes())
    out = src if name == "same" else tmp_path / name
    result = invoke("export", src, "-o", out)
    assert result.exit_code == 2, result.output
    assert needle in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert src.read_bytes() == trained_checkpoint.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pt"]


def test_failed_export_leaves_an_existing_output_alone(tmp_path, exported):
    out = tmp_path / "m.pt"
    out.write_bytes(exported["fp16"].read_bytes())
    result = invoke("export", tmp_path / "missing.pt", "-o", out)
    assert result.exit_code == 1
    assert out.read_bytes() == exported["fp16"].read_bytes()


def test_library_errors_are_user_errors(tmp_path):
    with pytest.raises(UsageError):
        export_model(tmp_path / "a.pt", tmp_path / "b.txt")
    with pytest.raises(CheckpointError):
        export_model(tmp_path / "a.pt", tmp_path / "b.pt")


def test_cli_info_bad_input(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x80\x02 not a model")
    for target, needle in ((junk, "not a valid checkpoint"), (tmp_path / "no.pt", "not found")):
        result = invoke("info", target)
        assert result.exit_code == 1 and result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], lines
