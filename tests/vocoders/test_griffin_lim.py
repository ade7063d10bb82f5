"""Griffin-Lim vocoder: shapes, determinism, convergence on a real signal, momentum."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuralsynth.audio import spectral as audio
from neuralsynth.audio.mel_inversion import mel_to_linear
from neuralsynth.errors import RecipeError
from neuralsynth.vocoders import VOCODERS
from neuralsynth.vocoders.griffin_lim import GriffinLim, _FrameSTFT


def harmonic_chirp(seconds: float, sr: int = audio.SAMPLE_RATE) -> np.ndarray:
    """Five harmonics of a 200 → 800 Hz exponential chirp with a 3 Hz tremolo."""
    t = np.arange(int(seconds * sr)) / sr
    f0 = 200.0 * 4.0 ** (t / seconds)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    x = sum(0.2 / k * np.sin(k * phase) for k in range(1, 6))
    return (x * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2)).astype(np.float32)


@pytest.fixture(scope="module")
def chirp():
    x = harmonic_chirp(1.0)
    return x, audio.mel_spectrogram(x).numpy()


def vocoder(**kw) -> GriffinLim:
    return GriffinLim(GriffinLim.Config(**kw))


def log_mel_error(x: np.ndarray, y: np.ndarray) -> float:
    a = torch.log(audio.mel_spectrogram(x))
    b = torch.log(audio.mel_spectrogram(y[:len(x)]))
    return float(((a - b) ** 2).mean())


def spectral_convergence(voc: GriffinLim, mel: np.ndarray, y: np.ndarray) -> float:
    """‖|STFT(y)| − target‖ / ‖target‖ with the magnitude GL was asked to match."""
    target = mel_to_linear(torch.from_numpy(mel), n_iter=voc.config.nnls_iter)
    got = audio.stft_magnitude(torch.from_numpy(y[:(mel.shape[0] - 1) * audio.HOP_LENGTH]))
    return float((got - target).norm() / target.norm())


def test_registered_with_defaults():
    voc = VOCODERS.build({"name": "griffin_lim"}, n_mels=80)
    assert isinstance(voc, GriffinLim)
    assert (voc.config.n_iter, voc.config.momentum, voc.config.power) == (32, 0.99, 1.0)


@pytest.mark.parametrize("n_frames", [0, 1, 2, 3, 5, 40])
def test_output_length_dtype_and_range(n_frames):
    rng = np.random.default_rng(0)
    mel = rng.random((n_frames, 80)).astype(np.float32) * 0.1
    y = vocoder(n_iter=4).synthesize(mel)
    assert y.dtype == np.float32
    assert y.shape == (n_frames * audio.HOP_LENGTH,)
    assert np.isfinite(y).all() and np.abs(y).max(initial=0.0) <= 1.0


def test_deterministic_for_a_seed(chirp):
    _, mel = chirp
    a = vocoder(n_iter=8, seed=3).synthesize(mel)
    b = vocoder(n_iter=8, seed=3).synthesize(mel)
    c = vocoder(n_iter=8, seed=4).synthesize(mel)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_iterations_improve_on_random_phase(chirp):
    x, mel = chirp
    random_phase = vocoder(n_iter=0)
    gl = vocoder(n_iter=32)
    y0, y32 = random_phase.synthesize(mel), gl.synthesize(mel)
    assert spectral_convergence(gl, mel, y32) < 0.5 * spectral_convergence(gl, mel, y0)
    assert log_mel_error(x, y32) < 0.8 * log_mel_error(x, y0)
    # The level of the signal is recovered, not just its shape.
    rms_x, rms_y = np.sqrt(np.mean(x ** 2)), np.sqrt(np.mean(y32[:len(x)] ** 2))
    assert 0.7 < rms_y / rms_x < 1.4


def test_momentum_beats_plain_griffin_lim_at_equal_iterations(chirp):
    _, mel = chirp
    fast, plain = vocoder(n_iter=16, momentum=0.99), vocoder(n_iter=16, momentum=0.0)
    sc_fast = spectral_convergence(fast, mel, fast.synthesize(mel))
    sc_plain = spectral_convergence(plain, mel, plain.synthesize(mel))
    assert sc_fast < 0.95 * sc_plain


def test_frame_stft_matches_the_audio_module():
    x = torch.from_numpy(harmonic_chirp(0.3))
    n = audio.n_frames(len(x))
    stft = _FrameSTFT(n)
    spec = audio.stft(x)
    torch.testing.assert_close(stft.forward(x), spec)
    for length in ((n - 1) * audio.HOP_LENGTH, n * audio.HOP_LENGTH):
        torch.testing.assert_close(stft.inverse(spec, length), audio.istft(spec, length))


def test_peak_safe_for_loud_and_broken_input():
    mel = np.full((20, 80), 1e4, dtype=np.float32)
    mel[3, 5] = np.nan
    mel[4, 6] = np.inf
    mel[5, 7] = -1.0
    y = vocoder(n_iter=4).synthesize(mel)
    assert np.isfinite(y).all()
    assert np.abs(y).max() <= 1.0
    assert np.abs(y).max() == 1.0          # loud enough to be clipped


def test_power_sharpens_the_magnitude(chirp):
    _, mel = chirp
    plain = vocoder(n_iter=4).synthesize(mel)
    sharp = vocoder(n_iter=4, power=1.5).synthesize(mel)
    assert np.isfinite(sharp).all()
    assert not np.allclose(plain, sharp)


@pytest.mark.parametrize("key, value", [("n_iter", -1), ("momentum", 1.0), ("power", 0.0),
                                        ("nnls_iter", -2)])
def test_bad_config_raises_recipe_error(key, value):
    with pytest.raises(RecipeError, match=f"vocoder.{key}"):
        VOCODERS.build({"name": "griffin_lim", key: value})


def test_wrong_mel_shape_is_rejected():
    with pytest.raises(ValueError, match=r"\[T, 80\]"):
        vocoder().synthesize(np.zeros((10, 64), dtype=np.float32))
