"""STFT, mel filterbank, µ-law and audio file I/O (neuralsynth.audio)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from neuralsynth.audio import spectral as audio
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
