"""STFT, mel filterbank, µ-law and audio file I/O (neuralsynth.audio)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from neuralsynth import audio
from neuralsynth.errors import AudioError

SR = audio.SAMPLE_RATE


def _sine(freq: float, seconds: float = 0.5, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(SR * seconds)) / SR
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _music_like(seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(SR * seconds)) / SR
    x = 0.4 * np.sin(2 * np.pi * 220 * t) * np.exp(-2 * t) + 0.2 * np.sin(2 * np.pi * 1760 * t)
    return (x + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


# ------------------------------------------------------------------ filterbank
def test_filterbank_shape_and_nonnegative():
    fb = audio.mel_filterbank()
    assert fb.shape == (80, 513)
    assert fb.dtype == torch.float32
    assert float(fb.min()) >= 0.0
    assert bool((fb.sum(dim=1) > 0).all()), "every filter must cover at least one bin"
    # nothing above f_max = 8 kHz (the Nyquist bin is exactly 8 kHz and is an edge)
    assert float(fb[:, -1].abs().max()) == 0.0


def test_filterbank_is_area_normalised():
    """Each triangle, integrated over Hz, has area 1 (Slaney normalisation)."""
    fb = audio.mel_filterbank().double().numpy()
    bin_hz = SR / audio.N_FFT
    edges = audio.mel_to_hz(np.linspace(audio.hz_to_mel(0.0), audio.hz_to_mel(8000.0), 82))
    # Exact property: peak height is 2 / (upper edge - lower edge)
    heights = 2.0 / (edges[2:] - edges[:-2])
    assert np.all(fb.max(axis=1) <= heights + 1e-12)
    # Sampled every bin_hz, the area is 1 up to at most one sample's worth (h * bin_hz),
    # and very close to 1 for the wide high-frequency filters.
    area = fb.sum(axis=1) * bin_hz
    assert np.all(np.abs(area - 1.0) <= heights * bin_hz)
    np.testing.assert_allclose(area[-20:], 1.0, atol=5e-3)
    # Unnormalised (peak-1) triangles would instead grow with frequency: area-normalised
    # ones get lower as they widen.
    assert fb[-1].max() < fb[10].max() / 5


def test_slaney_scale_linear_below_1khz_log_above():
    hz = np.array([0.0, 500.0, 1000.0, 2000.0, 4000.0])
    mel = audio.hz_to_mel(hz)
    np.testing.assert_allclose(mel[:3], hz[:3] * 3 / 200)
    # equal ratios above 1 kHz give equal mel steps
    assert mel[4] - mel[3] == pytest.approx(mel[3] - mel[2])
    np.testing.assert_allclose(audio.mel_to_hz(mel), hz, atol=1e-9)


def test_sine_peaks_in_the_right_mel_bin():
    mel = audio.mel_spectrogram(_sine(1000.0, 1.0))
    fb = audio.mel_filterbank()
    k = 1000 * audio.N_FFT // SR                  # 1 kHz = FFT bin 64
    expected = int(fb[:, k].argmax())
    peaks = mel[5:-5].argmax(dim=1)
    assert bool((peaks == expected).all()), (peaks.unique(), expected)
    # and that filter's centre is near 1 kHz
    edges = audio.mel_to_hz(np.linspace(0, audio.hz_to_mel(8000.0), 82))
    assert abs(edges[expected + 1] - 1000.0) < 40


# ------------------------------------------------------------------ STFT / mel
@pytest.mark.parametrize("n", [0, 1, 100, 512, 513, 1000, 16000, 65536])
def test_frame_count(n):
    assert audio.n_frames(n) == n // 128 + 1
    mel = audio.mel_spectrogram(np.zeros(n, dtype=np.float32))
    assert mel.shape == (n // 128 + 1, 80)


def test_mel_spectrogram_batch_dtype_and_floor():
    x = np.stack([_sine(440.0), np.zeros(8000, dtype=np.float32)])
    mel = audio.mel_spectrogram(x)
    assert mel.shape == (2, 8000 // 128 + 1, 80)
    assert mel.dtype == torch.float32
    assert float(mel[1].max()) == pytest.approx(audio.MAG_FLOOR)    # silence → the floor
    assert float(mel.min()) >= np.float32(audio.MAG_FLOOR)
    single = audio.mel_spectrogram(torch.from_numpy(x[0]))
    torch.testing.assert_close(single, mel[0])


def test_stft_is_centred_and_linear_magnitude():
    # A sine of amplitude a has Hann-window peak magnitude a * N/4 = a * 256.
    mag = audio.stft_magnitude(_sine(1000.0, 1.0, amp=0.5))
    assert mag.shape == (16000 // 128 + 1, 513)
    assert float(mag[10:-10, 64].mean()) == pytest.approx(0.5 * 256, rel=1e-3)


def test_istft_inverts_stft():
    x = _music_like(0.5)
    y = audio.istft(audio.stft(x), length=len(x))
    assert y.shape == (len(x),)
    np.testing.assert_allclose(y.numpy(), x, atol=1e-5)


# ------------------------------------------------------------------ mel → linear
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
    lin = audio.mel_to_linear(mel)
    assert lin.shape == (mel.shape[0], 513) and lin.dtype == torch.float32
    assert float(lin.min()) >= 0.0
    assert _mel_error(lin, mel) < 1e-4
    # n_iter is the Newton budget: none gives the clipped pseudo-inverse, far off; one step
    # is still well short of the converged answer.
    assert _mel_error(audio.mel_to_linear(mel, n_iter=0), mel) > 0.03
    assert _mel_error(audio.mel_to_linear(mel, n_iter=1), mel) > 10 * _mel_error(lin, mel)


def test_mel_to_linear_reproduces_a_fluidsynth_render():
    mel = audio.mel_spectrogram(_fluidsynth_render())
    lin = audio.mel_to_linear(mel, n_iter=16)          # the Griffin-Lim vocoder's default
    assert float(lin.min()) >= 0.0
    assert _mel_error(lin, mel) < 1e-4


def test_mel_to_linear_picks_the_smallest_spectrum():
    """Of all non-negative spectra with this mel (the true one among them), the ridge
    term selects the one of least energy: never more than the true magnitude's."""
    x = _music_like(1.0)
    mel = audio.mel_spectrogram(x)
    assert float(mel.min()) > 10 * audio.MAG_FLOOR     # no clipping: the true one fits exactly
    lin = audio.mel_to_linear(mel)
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
    ridge = audio._NNLS_RIDGE * (fb ** 2).sum(axis=1).mean()        # λ as documented
    augmented = np.vstack([fb, np.sqrt(ridge) * np.eye(fb.shape[1])])
    for mel in (lognormal, spikes):
        lin = audio.mel_to_linear(mel)
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
    lin = audio.mel_to_linear(mel)
    assert lin.shape == (2, mel.shape[1], 513)
    assert float(lin.min()) >= 0.0
    # frames are solved independently: a batch gives what each item gives alone
    torch.testing.assert_close(lin[1], audio.mel_to_linear(torch.from_numpy(mel[1])))
    assert audio.mel_to_linear(torch.zeros(0, 80)).shape == (0, 513)
    assert float(audio.mel_to_linear(torch.zeros(3, 80)).abs().max()) == 0.0
    silence = audio.mel_to_linear(torch.full((3, 80), audio.MAG_FLOOR))
    assert float(silence.min()) >= 0.0 and float(silence.max()) < 1e-3
    with pytest.raises(ValueError, match="80 mel bins"):
        audio.mel_to_linear(torch.zeros(4, 64))


# ------------------------------------------------------------------ µ-law
def test_mu_law_range_and_round_trip_bound():
    x = np.linspace(-1.0, 1.0, 20001)
    q = audio.mu_law_encode(x)
    assert q.dtype == np.int64
    assert q.min() == 0 and q.max() == 255
    assert np.all(np.diff(q) >= 0), "encoding is monotone"
    y = audio.mu_law_decode(q)
    # Half a quantisation step in the companded domain: |x - y| <= ((1+mu)^(1/mu) - 1)(|x| + 1/mu)
    mu = 255
    bound = ((1 + mu) ** (1 / mu) - 1) * (np.abs(x) + 1 / mu) + 1e-6
    assert np.all(np.abs(x - y) <= bound)
    assert np.abs(x - y).max() > 0.01                  # near ±1 the steps are coarse...
    assert np.abs(x - y)[np.abs(x) < 0.01].max() < 1e-3   # ...and fine near 0


def test_mu_law_torch_matches_numpy_and_clips():
    x = np.array([-2.0, -1.0, -0.3, 0.0, 0.01, 0.5, 1.0, 3.0])
    qt = audio.mu_law_encode(torch.from_numpy(x))
    assert qt.dtype == torch.int64
    np.testing.assert_array_equal(qt.numpy(), audio.mu_law_encode(x))
    assert int(qt[0]) == 0 and int(qt[-1]) == 255
    np.testing.assert_allclose(audio.mu_law_decode(qt).numpy(), audio.mu_law_decode(qt.numpy()),
                               atol=1e-6)
    assert audio.mu_law_decode(np.array([0, 255])).tolist() == pytest.approx([-1.0, 1.0])


# ------------------------------------------------------------------ files
def test_write_read_round_trip(tmp_path):
    x = _music_like(0.5)
    for suffix in (".wav", ".flac"):
        path = audio.write_audio(tmp_path / f"a{suffix}", x)
        y = audio.read_audio(path)
        assert y.dtype == np.float32 and y.shape == x.shape
        np.testing.assert_allclose(y, x, atol=1.0 / 32768 + 1e-7)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.flac", "a.wav"], "no temp files left"


def test_write_clips_and_rejects_bad_input(tmp_path):
    path = audio.write_audio(tmp_path / "loud.wav", np.array([2.0, -2.0, 0.0], dtype=np.float32))
    np.testing.assert_allclose(audio.read_audio(path), [1.0, -1.0, 0.0], atol=1e-4)
    with pytest.raises(AudioError, match="unsupported audio format"):
        audio.write_audio(tmp_path / "a.mp3", np.zeros(10, dtype=np.float32))
    with pytest.raises(AudioError, match="NaN"):
        audio.write_audio(tmp_path / "nan.wav", np.array([0.0, np.nan], dtype=np.float32))
    assert not (tmp_path / "nan.wav").exists()


def test_read_mixes_to_mono_and_resamples(tmp_path):
    left = _sine(440.0, 1.0, amp=0.4)
    stereo = np.stack([left, np.zeros_like(left)], axis=1)
    sf.write(tmp_path / "st.wav", stereo, SR, subtype="FLOAT")
    np.testing.assert_allclose(audio.read_audio(tmp_path / "st.wav"), left / 2, atol=1e-7)

    t = np.arange(44100) / 44100
    sf.write(tmp_path / "cd.wav", (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32),
             44100, subtype="FLOAT")
    y = audio.read_audio(tmp_path / "cd.wav")
    assert abs(len(y) - SR) <= 1
    mel = audio.mel_spectrogram(y)
    assert int(mel[20].argmax()) == int(audio.mel_filterbank()[:, 64].argmax())


def test_read_errors(tmp_path):
    with pytest.raises(AudioError, match="no such audio file"):
        audio.read_audio(tmp_path / "missing.wav")
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioError, match="empty"):
        audio.read_audio(tmp_path / "empty.wav")
    (tmp_path / "junk.wav").write_bytes(np.random.default_rng(0).bytes(2000))
    with pytest.raises(AudioError, match="cannot read audio") as info:
        audio.read_audio(tmp_path / "junk.wav")
    assert "junk.wav" in str(info.value) and "\n" not in str(info.value)
    sf.write(tmp_path / "nosamples.wav", np.zeros(0, dtype=np.float32), SR)
    with pytest.raises(AudioError, match="no samples"):
        audio.read_audio(tmp_path / "nosamples.wav")
    with pytest.raises(AudioError, match="directory"):
        audio.read_audio(tmp_path)


# ------------------------------------------------------------------ against librosa
def test_matches_librosa():
    librosa = pytest.importorskip("librosa")
    ref_fb = librosa.filters.mel(sr=SR, n_fft=1024, n_mels=80, fmin=0.0, fmax=8000.0,
                                 htk=False, norm="slaney")
    fb = audio.mel_filterbank().numpy()
    assert np.abs(fb - ref_fb).max() <= 1e-5 * ref_fb.max()

    x = _music_like(1.0)
    ref = librosa.feature.melspectrogram(y=x, sr=SR, n_fft=1024, hop_length=128,
                                         win_length=1024, window="hann", center=True,
                                         pad_mode="reflect", power=1.0, n_mels=80, fmin=0.0,
                                         fmax=8000.0, htk=False, norm="slaney").T
    ref = np.maximum(ref, audio.MAG_FLOOR)
    ours = audio.mel_spectrogram(x).numpy()
    assert ours.shape == ref.shape
    assert np.abs(ours - ref).max() <= 1e-5 * ref.max()
