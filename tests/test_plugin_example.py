"""The example plugin distribution, installed for real and found through its entry point."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from neuralsynth.audio import spectral as audio
from neuralsynth.errors import RecipeError, UsageError
from neuralsynth.vocoders.base import VOCODERS
from tests.midi_factory import random_melody, write_midi
from tests.model_factory import make_checkpoint

PLUGIN_SRC = Path(__file__).resolve().parents[1] / "plugins" / "neuralsynth-noise-vocoder"
EXE = Path(sys.executable).parent / "neuralsynth"


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory) -> Path:
    """The plugin pip-installed into a private directory (use it on PYTHONPATH)."""
    # Build from a copy so setuptools' build/ and egg-info never land in the source tree.
    src = tmp_path_factory.mktemp("src") / PLUGIN_SRC.name
    shutil.copytree(PLUGIN_SRC, src, ignore=shutil.ignore_patterns("build", "*.egg-info",
                                                                    "__pycache__"))
    target = tmp_path_factory.mktemp("site")
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps",
                           "--no-build-isolation", "--no-index", "--quiet", "--target",
                           str(target), str(src)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (target / "neuralsynth_noise_vocoder" / "vocoder.py").exists()
    return target


@pytest.fixture
def registered(plugin_dir):
    """The plugin visible in this process too (entry points are read from sys.path)."""
    sys.path.insert(0, str(plugin_dir))
    VOCODERS.refresh()
    try:
        yield
    finally:
        sys.path.remove(str(plugin_dir))
        for name in [m for m in sys.modules if m.startswith("neuralsynth_noise_vocoder")]:
            del sys.modules[name]
        VOCODERS.refresh()


def run(args: list[str], plugin_dir: Path) -> subprocess.CompletedProcess:
    # One OpenMP thread: the tiny model gains nothing from more, and threads stall when
    # the cores are shared with other test processes.
    env = {**os.environ, "PYTHONPATH": str(plugin_dir), "OMP_NUM_THREADS": "1"}
    return subprocess.run([str(EXE), *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=180)


def test_components_lists_the_plugin_with_its_provider(plugin_dir):
    proc = run(["components", "vocoder"], plugin_dir)
    assert proc.returncode == 0, proc.stderr
    line = next((ln for ln in proc.stdout.splitlines() if "noise_excitation" in ln), None)
    assert line is not None, proc.stdout
    assert "neuralsynth-noise-vocoder" in line and "0.1.0" in line
    # Its Config help is shown like a built-in's.
    assert "seed of the random phases" in proc.stdout
    assert "griffin_lim" in proc.stdout          # built-ins are still there


def test_not_visible_without_the_install(tmp_path):
    proc = subprocess.run([str(EXE), "components", "vocoder"], capture_output=True,
                          text=True, timeout=180)
    assert proc.returncode == 0
    assert "noise_excitation" not in proc.stdout


def test_render_with_the_plugin_vocoder(plugin_dir, tmp_path):
    from neuralsynth.midi.read import load_notes

    ckpt = make_checkpoint(tmp_path / "model.pt")
    midi = write_midi(tmp_path / "in.mid", random_melody(5, seconds=1.0, polyphony=1))
    out = tmp_path / "plugin.wav"
    proc = run(["render", midi, "-o", out, "--model", ckpt, "--vocoder", "noise_excitation",
                "--vocoder-opt", "seed=3", "--tail", "0.5", "--device", "cpu"], plugin_dir)
    assert proc.returncode == 0, proc.stderr
    assert "vocoder noise_excitation" in proc.stdout
    n_frames = int(round((load_notes(midi).duration + 0.5) * 16000 / 128)) + 1
    wave, sr = sf.read(str(out), dtype="float32")
    assert sr == 16000 and wave.shape == (n_frames * 128,)
    assert np.abs(wave).max() > 1e-3


def _build(**params):
    return VOCODERS.build({"name": "noise_excitation", **params}, n_mels=80,
                          sample_rate=16000, hop_length=128)


def _tone(freq: float, seconds: float = 1.0, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * 16000)) / 16000
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_noise_excitation_keeps_length_and_loudness(registered):
    # Broadband noise: the random-phase overlap-add gain compensation is what keeps the
    # level; without it the output would be sqrt(1024 / 128) ≈ 2.8 times too quiet.
    noise = (0.1 * np.random.default_rng(0).standard_normal(16000)).astype(np.float32)
    mel = audio.mel_spectrogram(noise).numpy()                        # [T, 80]
    wave = _build().synthesize(mel)
    assert wave.dtype == np.float32 and wave.shape == (mel.shape[0] * 128,)
    rms_in, rms_out = np.sqrt(np.mean(noise ** 2)), np.sqrt(np.mean(wave ** 2))
    assert rms_out == pytest.approx(rms_in, rel=0.2)


@pytest.mark.parametrize("freq", [220.0, 1760.0])
def test_noise_excitation_puts_energy_in_the_right_band(registered, freq):
    mel = audio.mel_spectrogram(_tone(freq)).numpy()
    mel_out = audio.mel_spectrogram(_build().synthesize(mel)).numpy()[10:-10]
    band_in = int(np.argmax(mel[10:-10].mean(0)))
    band_out = int(np.argmax(mel_out.mean(0)))
    assert abs(band_out - band_in) <= 1, (band_in, band_out)


def test_noise_excitation_seed_and_gain(registered):
    mel = audio.mel_spectrogram(_tone(440.0, 0.5)).numpy()
    a = _build(seed=1).synthesize(mel)
    assert np.array_equal(a, _build(seed=1).synthesize(mel))         # reproducible
    assert not np.allclose(a, _build(seed=2).synthesize(mel), atol=1e-4)
    assert np.allclose(_build(seed=1, gain=0.5).synthesize(mel), 0.5 * a, atol=1e-6)


def test_noise_excitation_rejects_bad_settings(registered):
    with pytest.raises(RecipeError, match=r"vocoder\.gain: must be >= 0"):
        _build(gain=-1.0)
    with pytest.raises(UsageError, match="n_mels=80"):
        VOCODERS.build({"name": "noise_excitation"}, n_mels=128, sample_rate=16000,
                       hop_length=128)
