"""Mel → linear magnitude inversion (neuralsynth.audio.mel_inversion)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from neuralsynth.audio import mel_inversion
from neuralsynth.audio import spectral as audio
from neuralsynth.audio.mel_inversion import mel_to_linear

SR = audio.SAMPLE_RATE


def _music_like(seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(SR * seconds)) / SR
    x = 0.4 * np.sin(2 * np.pi * 220 * t) * np.exp(-2 * t) + 0.2 * np.sin(2 * np.pi * 1760 * t)
    return (x + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


_SOUNDFONT = Path("/usr/share/sounds/sf3/MuseScore_General_Lite.sf3")


def _harmonic(f0: float, seconds: float = 1.0, n: int = 12) -> np.ndarray:
    """Decaying harmonic tone: at 440 Hz its harmonics are wider apart than the low mel
    bands, so many bands hold only leakage (the hard case for the inversion)."""
    t = np.arange(int(SR * seconds)) / SR
    x = sum(np.sin(2 * np.pi * f0 * k * t + k) / k for k in range(1, n + 1) if f0 * k < SR / 2)
    return (0.2 * x * np.exp(-1.5 * t)).astype(np.float32)


def _fluidsynth_render(seconds: float = 2.0) -> np.ndarray:
    """A few piano and string notes rendered by FluidSynth at 16 kHz (mono)."""
    fluidsynth = pytest.importorskip("fluidsynth")
    if not _SOUNDFONT.exists():
        pytest.skip(f"{_SOUNDFONT} not installed")
    synth = fluidsynth.Synth(samplerate=float(SR))
    try:
        font = synth.sfload(str(_SOUNDFONT))
        synth.program_select(0, font, 0, 0)        # grand piano
        synth.program_select(1, font, 0, 48)       # string ensemble
        chunks = []
        for i, (ch, key) in enumerate([(0, 48), (1, 64), (0, 67), (1, 55), (0, 72), (0, 40)]):
            synth.noteon(ch, key, 100)
            if i >= 2:
                synth.noteoff(ch, key - 12 if ch == 0 else key)
            chunks.append(np.asarray(synth.get_samples(int(SR * seconds / 6)), np.float32))
    finally:
        synth.delete()
    x = np.concatenate(chunks).reshape(-1, 2).mean(axis=1)
    return (0.8 * x / np.abs(x).max()).astype(np.float32)


def _mel_error(lin: torch.Tensor, mel: torch.Tensor) -> float:
    """Largest deviation of the mel of ``lin`` from ``mel``, relative to mel's maximum."""
    return float((lin @ audio.mel_filterbank().T - mel).abs().max() / mel.max())


@pytest.mark.parametrize("signal", ["music", "harmonic_110", "harmonic_440", "chord", "noise"])
def test_mel_to_linear_reproduces_the_mel_of_real_signals(signal):
    x = {"music": lambda: _music_like(1.0),
         "harmonic_110": lambda: _harmonic(110.0),
         "harmonic_440": lambda: _harmonic(440.0),
         "chord": lambda: _harmonic(261.6) + _harmonic(329.6) + _harmonic(392.0),
         "noise": lambda: 0.05 * np.random.default_rng(1).standard_normal(SR).astype(np.float32),
         }[signal]()
    mel = audio.mel_spectrogram(x)
    lin = mel_to_linear(mel)
    assert lin.shape == (mel.shape[0], 513) and lin.dtype == torch.float32
    assert float(lin.min()) >= 0.0
    assert _mel_error(lin, mel) < 1e-4
    # n_iter is the Newton budget: none gives the clipped pseudo-inverse, far off; one step
    # is still well short of the converged answer.
    assert _mel_error(mel_to_linear(mel, n_iter=0), mel) > 0.03
    assert _mel_error(mel_to_linear(mel, n_iter=1), mel) > 10 * _mel_error(lin, mel)


def test_mel_to_linear_reproduces_a_fluidsynth_render():
    mel = audio.mel_spectrogram(_fluidsynth_render())
    lin = mel_to_linear(mel, n_iter=16)          # the Griffin-Lim vocoder's default
    assert float(lin.min()) >= 0.0
    assert _mel_error(lin, mel) < 1e-4


def test_mel_to_linear_picks_the_smallest_spectrum():
    """Of all non-negative spectra with this mel (the true one among them), the ridge
    term selects the one of least energy: never more than the true magnitude's."""
    x = _music_like(1.0)
    mel = audio.mel_spectrogram(x)
    assert float(mel.min()) > 10 * audio.MAG_FLOOR     # no clipping: the true one fits exactly
    lin = mel_to_linear(mel)
    true = audio.stft_magnitude(x)
    ratio = lin.norm(dim=1) / true.norm(dim=1)
    assert float(ratio.max()) <= 1.0 + 1e-4
    assert float(ratio.min()) > 0.5                    # ...but not a degenerate one


def test_mel_to_linear_is_the_least_squares_fit_of_unrealisable_mels():
    """Mels no spectrum produces (a model's prediction can be one): the result is the
    ridge-regularised NNLS minimiser, checked against an independent active-set solver,
    and its residual is within 2% of the plain least-squares optimum."""
    scipy_optimize = pytest.importorskip("scipy.optimize")
    gen = torch.Generator().manual_seed(0)
    lognormal = torch.exp(2.0 * torch.randn(12, 80, generator=gen))
    spikes = torch.full((12, 80), audio.MAG_FLOOR)
    spikes.scatter_(1, torch.randint(0, 80, (12, 4), generator=gen),
                    10.0 * torch.rand(12, 4, generator=gen))
    fb = audio.mel_filterbank().double().numpy()
    ridge = mel_inversion._NNLS_RIDGE * (fb ** 2).sum(axis=1).mean()        # λ as documented
    augmented = np.vstack([fb, np.sqrt(ridge) * np.eye(fb.shape[1])])
    for mel in (lognormal, spikes):
        lin = mel_to_linear(mel)
        assert float(lin.min()) >= 0.0
        for frame, x in zip(mel.double().numpy(), lin.double().numpy()):
            best = scipy_optimize.nnls(fb, frame)[1]
            assert best > 1e-3 * np.linalg.norm(frame)               # really unrealisable
            assert np.linalg.norm(fb @ x - frame) <= 1.02 * best
            target = np.concatenate([frame, np.zeros(fb.shape[1])])
            reference = scipy_optimize.nnls(augmented, target, maxiter=5000)[0]
            assert np.linalg.norm(x - reference) <= 1e-4 * np.linalg.norm(reference)


def test_mel_to_linear_batches_and_edge_cases():
    mel = audio.mel_spectrogram(np.stack([_music_like(0.3, 1), _harmonic(440.0, 0.3)])).numpy()
    lin = mel_to_linear(mel)
    assert lin.shape == (2, mel.shape[1], 513)
    assert float(lin.min()) >= 0.0
    # frames are solved independently: a batch gives what each item gives alone
    torch.testing.assert_close(lin[1], mel_to_linear(torch.from_numpy(mel[1])))
    assert mel_to_linear(torch.zeros(0, 80)).shape == (0, 513)
    assert float(mel_to_linear(torch.zeros(3, 80)).abs().max()) == 0.0
    silence = mel_to_linear(torch.full((3, 80), audio.MAG_FLOOR))
    assert float(silence.min()) >= 0.0 and float(silence.max()) < 1e-3
    with pytest.raises(ValueError, match="80 mel bins"):
        mel_to_linear(torch.zeros(4, 64))
