"""The default model: `render` without --model, $NEURALSYNTH_DEFAULT_MODEL, and the model
file shipped in the package (neuralsynth/assets/models/default.pt) once the lead adds it."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from neuralsynth.cli.main import cli
from neuralsynth.errors import UsageError
from neuralsynth.inference.export import export_model
from neuralsynth.inference.load import (
    DEFAULT_MODEL_ENV,
    default_model_path,
    load_trained_model,
)
from neuralsynth.inference.render import render_midi
from tests.midi_factory import random_melody, write_midi

BUNDLED = Path(str(importlib.resources.files("neuralsynth") / "assets" / "models" / "default.pt"))
FAST = ["--vocoder-opt", "n_iter=4", "--tail", "0.25", "--device", "cpu"]


@pytest.fixture(scope="module")
def shipped_like(trained_checkpoint, tmp_path_factory) -> Path:
    """The trained checkpoint exported the way the default model is shipped (--half)."""
    out = tmp_path_factory.mktemp("default") / "default.pt"
    return export_model(trained_checkpoint, out, half=True, name="fixture").out_path


@pytest.fixture(scope="module")
def midi(tmp_path_factory) -> Path:
    return write_midi(tmp_path_factory.mktemp("midi") / "m.mid",
                      random_melody(11, seconds=1.0, polyphony=2))


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def one_error_line(result, code: int, *needles: str) -> str:
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


# -- $NEURALSYNTH_DEFAULT_MODEL -----------------------------------------------------------
def test_render_without_model_uses_the_environment_default(monkeypatch, shipped_like, midi,
                                                           tmp_path):
    monkeypatch.setenv(DEFAULT_MODEL_ENV, str(shipped_like))
    assert default_model_path() == shipped_like
    out = tmp_path / "x.wav"
    result = invoke("render", midi, "-o", out, "--timbre", "piano:0.3,organ:0.7", *FAST)
    assert result.exit_code == 0, result.output
    assert f"model: {shipped_like} (the default" in result.stdout
    assert "grand_piano 30% + church_organ 70%" in result.stdout
    # The same file named explicitly renders the same samples.
    explicit = invoke("render", midi, "-o", tmp_path / "y.wav", "--model", shipped_like,
                      "--timbre", "piano:0.3,organ:0.7", *FAST)
    assert explicit.exit_code == 0 and "the default" not in explicit.stdout
    a, sr = sf.read(str(out), dtype="float32")
    b, _ = sf.read(str(tmp_path / "y.wav"), dtype="float32")
    assert sr == 16000 and np.array_equal(a, b) and np.abs(a).max() > 0


def test_library_render_uses_the_environment_default(monkeypatch, shipped_like, midi,
                                                     tmp_path):
    monkeypatch.setenv(DEFAULT_MODEL_ENV, str(shipped_like))
    result = render_midi(midi, tmp_path / "lib.wav", vocoder={"name": "griffin_lim",
                                                              "n_iter": 2})
    assert result.out_path.is_file() and result.timbre == "grand_piano"


@pytest.mark.parametrize("target, needle", [("missing.pt", "default model not found"),
                                            ("", "default model a directory")])
def test_environment_default_that_is_not_a_file(monkeypatch, midi, tmp_path, target, needle):
    bad = tmp_path / target if target else tmp_path
    monkeypatch.setenv(DEFAULT_MODEL_ENV, str(bad))
    with pytest.raises(UsageError, match=needle):
        default_model_path()
    out = tmp_path / "out" / "x.wav"
    line = one_error_line(invoke("render", midi, "-o", out), 2, DEFAULT_MODEL_ENV, str(bad),
                          needle)
    assert "unset it" in line
    assert not out.parent.exists()


def test_environment_default_that_is_not_a_model(monkeypatch, midi, tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a model at all")
    monkeypatch.setenv(DEFAULT_MODEL_ENV, str(junk))
    out = tmp_path / "x.wav"
    one_error_line(invoke("render", midi, "-o", out), 1, str(junk), "not a valid checkpoint")
    assert not out.exists()


def test_none_disables_the_default_and_empty_means_unset(monkeypatch, midi, tmp_path):
    monkeypatch.setenv(DEFAULT_MODEL_ENV, "none")
    assert default_model_path() is None
    one_error_line(invoke("render", midi, "-o", tmp_path / "x.wav"), 2,
                   "no --model given", DEFAULT_MODEL_ENV)
    assert not (tmp_path / "x.wav").exists()
    monkeypatch.setenv(DEFAULT_MODEL_ENV, "  ")
    assert default_model_path() == (BUNDLED if BUNDLED.is_file() else None)


def test_render_help_names_the_default_model(monkeypatch, shipped_like):
    def squeezed(text: str) -> str:      # --help wraps long paths, also at their hyphens
        return "".join(text.split())

    monkeypatch.setenv(DEFAULT_MODEL_ENV, str(shipped_like))
    text = squeezed(invoke("render", "--help").output)
    assert squeezed(f"Now: {shipped_like} (${DEFAULT_MODEL_ENV})") in text
    monkeypatch.setenv(DEFAULT_MODEL_ENV, "none")
    text = squeezed(invoke("render", "--help").output)
    assert squeezed(f"Now: none ({DEFAULT_MODEL_ENV}=none)") in text


def test_info_without_argument_describes_the_default(monkeypatch, shipped_like):
    monkeypatch.setenv(DEFAULT_MODEL_ENV, str(shipped_like))
    result = invoke("info")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{shipped_like}: exported model")
    assert "name:        fixture" in result.stdout
    monkeypatch.setenv(DEFAULT_MODEL_ENV, "none")
    one_error_line(invoke("info"), 2, "no MODEL given")


# -- the model shipped in the package -----------------------------------------------------
@pytest.mark.skipif(not BUNDLED.is_file(),
                    reason="neuralsynth/assets/models/default.pt is not in the package yet "
                           "(the lead adds the trained model with `neuralsynth export`)")
def test_bundled_default_model(monkeypatch, midi, tmp_path):
    monkeypatch.delenv(DEFAULT_MODEL_ENV, raising=False)
    assert default_model_path() == BUNDLED
    assert BUNDLED.stat().st_size < 8_000_000
    loaded = load_trained_model(BUNDLED)
    assert len(loaded.instruments) == 10
    assert {"grand_piano", "church_organ"} <= set(loaded.instruments)
    assert loaded.model.embedding_dim == 2
    assert tuple(loaded.model.instrument_embeddings().shape) == (10, 2)
    # The example command, on a short file.
    result = invoke("render", midi, "-o", tmp_path / "x.wav", "--timbre",
                    "piano:0.3,organ:0.7", *FAST)
    assert result.exit_code == 0, result.output
    wave, _ = sf.read(str(tmp_path / "x.wav"), dtype="float32")
    assert np.all(np.isfinite(wave)) and np.abs(wave).max() > 1e-3
