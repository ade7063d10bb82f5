"""Audio features and files: STFT, Slaney mel filterbank, µ-law, reading and writing.

Conventions (Mel2Mel paper): 16 kHz mono; Hann window of 1024 samples, hop 128 (8 ms),
centred frames (reflect padding), so a waveform of ``N`` samples has ``N // 128 + 1``
frames; 80 area-normalised Slaney mel filters from 0 Hz to 8 kHz applied to the *linear*
STFT magnitude; magnitudes clipped below at 1e-5 (-100 dB) so logs are finite; µ-law
with 256 levels for the WaveNet vocoder.

Everything is written on ``torch.stft`` so no torchaudio/librosa is needed at run time;
``tests/audio/test_spectral.py`` checks the filterbank and spectrogram against librosa. The
inverse of the filterbank (mel → linear magnitude) is :mod:`neuralsynth.audio.mel_inversion`.
"""

from __future__ import annotations

import functools
import math
import os
from pathlib import Path

import numpy as np
import torch

# The conventions live in constants.py (importable without torch); they are imported
# here too so that ``spectral.SAMPLE_RATE`` and friends read naturally at call sites.
from neuralsynth.audio.constants import (  # noqa: F401  (re-exported on purpose)
    F_MAX,
    F_MIN,
    HOP_LENGTH,
    MAG_FLOOR,
    MU,
    N_FFT,
    N_MELS,
    SAMPLE_RATE,
)
from neuralsynth.errors import AudioError
from neuralsynth.fileio import atomic_path

# Slaney's mel scale (Auditory Toolbox): linear below 1 kHz, logarithmic above.
_F_SP = 200.0 / 3.0                     # Hz per mel on the linear part
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP      # 15 mel
_LOG_STEP = math.log(6.4) / 27.0        # mel step of the log part


# --------------------------------------------------------------------------- mel scale
def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """Slaney mel value of frequencies in Hz (float64)."""
    hz = np.asarray(hz, dtype=np.float64)
    mel = hz / _F_SP
    log_part = _MIN_LOG_MEL + np.log(np.maximum(hz, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOG_STEP
    return np.where(hz >= _MIN_LOG_HZ, log_part, mel)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`hz_to_mel` (float64)."""
    mel = np.asarray(mel, dtype=np.float64)
    hz = mel * _F_SP
    log_part = _MIN_LOG_HZ * np.exp(_LOG_STEP * (np.maximum(mel, _MIN_LOG_MEL) - _MIN_LOG_MEL))
    return np.where(mel >= _MIN_LOG_MEL, log_part, hz)


@functools.lru_cache(maxsize=8)
def _filterbank_np(n_mels: int, n_fft: int, sample_rate: int, f_min: float,
                   f_max: float) -> np.ndarray:
    fft_freqs = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)
    # n_mels + 2 edge frequencies equally spaced in mel: filter i spans edges i..i+2.
    edges = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))
    widths = np.diff(edges)
    rising = (fft_freqs[None, :] - edges[:-2, None]) / widths[:-1, None]
    falling = (edges[2:, None] - fft_freqs[None, :]) / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    # Area normalisation: a triangle of base (hi - lo) and height 2 / (hi - lo) has unit
    # area in Hz, so each filter measures a band's average energy density rather than
    # favouring the wide high-frequency bands.
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights


def mel_filterbank(n_mels: int = N_MELS, n_fft: int = N_FFT, sample_rate: int = SAMPLE_RATE,
                   f_min: float = F_MIN, f_max: float = F_MAX, *,
                   dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Slaney, area-normalised triangular filters: ``[n_mels, n_fft // 2 + 1]`` of ``dtype``.

    ``mel = linear_magnitude @ mel_filterbank().T``. The filters are computed in float64;
    ``dtype=torch.float64`` returns them unrounded (the mel inversion needs that precision).
    """
    if not 0.0 <= f_min < f_max <= sample_rate / 2.0:
        raise ValueError(f"need 0 <= f_min < f_max <= {sample_rate / 2}, got {f_min}, {f_max}")
    fb = _filterbank_np(int(n_mels), int(n_fft), int(sample_rate), float(f_min), float(f_max))
    # copy=True even for float64, so callers never alias (and mutate) the cached array.
    return torch.from_numpy(fb).to(dtype=dtype, copy=True)


# --------------------------------------------------------------------------- STFT
def n_frames(n_samples: int) -> int:
    """Frames of a centred STFT of ``n_samples`` samples: ``n_samples // 128 + 1``."""
    return int(n_samples) // HOP_LENGTH + 1


def _as_tensor(wave: np.ndarray | torch.Tensor) -> torch.Tensor:
    if isinstance(wave, torch.Tensor):
        t = wave
    else:
        t = torch.from_numpy(np.ascontiguousarray(wave))
    if not torch.is_floating_point(t):
        raise TypeError(f"expected a floating-point waveform, got {t.dtype}")
    if t.dtype == torch.float16 or t.dtype == torch.bfloat16:
        t = t.float()
    if t.dim() not in (1, 2):
        raise ValueError(f"expected a waveform [N] or [B, N], got shape {tuple(t.shape)}")
    return t


@functools.lru_cache(maxsize=8)
def _hann(n_fft: int, dtype: torch.dtype, device: str) -> torch.Tensor:
    # Periodic Hann (the FFT convention, as scipy's get_window('hann') and librosa use).
    return torch.hann_window(n_fft, periodic=True, dtype=dtype, device=torch.device(device))


def stft(wave: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Complex STFT, time first: ``[N]`` → ``[T, 513]``, ``[B, N]`` → ``[B, T, 513]``.

    Centred frames with reflect padding, ``T = N // 128 + 1``. Signals too short to
    reflect (``N <= 512``) are zero-padded instead, which keeps the same frame count.
    """
    x = _as_tensor(wave)
    pad_mode = "reflect" if x.shape[-1] > N_FFT // 2 else "constant"
    spec = torch.stft(x, n_fft=N_FFT, hop_length=HOP_LENGTH, win_length=N_FFT,
                      window=_hann(N_FFT, x.dtype, str(x.device)), center=True,
                      pad_mode=pad_mode, return_complex=True)
    return spec.transpose(-1, -2)


def stft_magnitude(wave: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Linear STFT magnitude ``[..., T, 513]`` (see :func:`stft`)."""
    return stft(wave).abs()


def istft(spec: torch.Tensor, length: int | None = None) -> torch.Tensor:
    """Inverse of :func:`stft`: complex ``[..., T, 513]`` → waveform ``[..., length]``.

    A real tensor is taken as a magnitude with zero phase. ``length`` defaults to
    ``(T - 1) * 128``, the longest signal with ``T`` centred frames.
    """
    if not torch.is_complex(spec):
        spec = torch.complex(spec.float(), torch.zeros_like(spec, dtype=torch.float32))
    if spec.shape[-1] != N_FFT // 2 + 1:
        raise ValueError(f"expected {N_FFT // 2 + 1} frequency bins in the last dimension, "
                         f"got shape {tuple(spec.shape)}")
    frames = spec.shape[-2]
    if length is None:
        length = (frames - 1) * HOP_LENGTH
    real_dtype = spec.real.dtype
    return torch.istft(spec.transpose(-1, -2), n_fft=N_FFT, hop_length=HOP_LENGTH,
                       win_length=N_FFT, window=_hann(N_FFT, real_dtype, str(spec.device)),
                       center=True, length=int(length))


def mel_spectrogram(wave: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Linear-magnitude mel spectrogram, clipped below at :data:`MAG_FLOOR`.

    ``wave`` ``[N]`` or ``[B, N]`` (numpy or torch) → float32 ``[T, 80]`` or
    ``[B, T, 80]`` with ``T = N // 128 + 1``, on the input's device.
    """
    x = _as_tensor(wave).float()
    fb = mel_filterbank().to(x.device)
    mel = stft_magnitude(x) @ fb.T
    return mel.clamp_min(MAG_FLOOR)


# --------------------------------------------------------------------------- µ-law
def mu_law_encode(x: np.ndarray | torch.Tensor, mu: int = MU) -> np.ndarray | torch.Tensor:
    """Companded, quantised audio: floats in [-1, 1] → int64 classes in ``[0, mu]``.

    Values outside [-1, 1] are clipped. Returns the same array type as the input.
    """
    if isinstance(x, torch.Tensor):
        x = x.clamp(-1.0, 1.0)
        y = torch.sign(x) * torch.log1p(mu * x.abs()) / math.log1p(mu)
        return torch.floor((y + 1.0) / 2.0 * mu + 0.5).long()
    x = np.clip(np.asarray(x, dtype=np.float64), -1.0, 1.0)
    y = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
    return np.floor((y + 1.0) / 2.0 * mu + 0.5).astype(np.int64)


def mu_law_decode(q: np.ndarray | torch.Tensor, mu: int = MU) -> np.ndarray | torch.Tensor:
    """Inverse of :func:`mu_law_encode`: classes ``[0, mu]`` → float32 in [-1, 1]."""
    if isinstance(q, torch.Tensor):
        y = 2.0 * q.float() / mu - 1.0
        return torch.sign(y) * torch.expm1(y.abs() * math.log1p(mu)) / mu
    y = 2.0 * np.asarray(q, dtype=np.float64) / mu - 1.0
    return (np.sign(y) * np.expm1(np.abs(y) * np.log1p(mu)) / mu).astype(np.float32)


# --------------------------------------------------------------------------- files
_WRITE_FORMATS = {".wav": "WAV", ".flac": "FLAC"}


def read_audio(path: str | os.PathLike, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Read an audio file as float32 mono ``[N]`` at ``sample_rate``.

    Channels are averaged; other sample rates are resampled with soxr. Raises
    :class:`AudioError` for missing, unreadable or empty files.
    """
    import soundfile as sf

    p = Path(path)
    if not p.exists():
        raise AudioError(f"{p}: no such audio file")
    if p.is_dir():
        raise AudioError(f"{p}: is a directory, not an audio file")
    if p.stat().st_size == 0:
        raise AudioError(f"{p}: audio file is empty (0 bytes)")
    try:
        data, sr = sf.read(str(p), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError, TypeError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise AudioError(f"{p}: cannot read audio ({reason})") from None
    if data.shape[0] == 0:
        raise AudioError(f"{p}: audio file has no samples")
    wave = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    if sr != sample_rate:
        import soxr

        wave = soxr.resample(wave, sr, sample_rate)
    return np.ascontiguousarray(wave, dtype=np.float32)


def write_audio(path: str | os.PathLike, wave: np.ndarray | torch.Tensor,
                sample_rate: int = SAMPLE_RATE, *, subtype: str = "PCM_16") -> Path:
    """Write mono ``wave`` ``[N]`` atomically as .wav or .flac; returns the path.

    Samples are clipped to [-1, 1] first so integer formats cannot wrap around.
    """
    import soundfile as sf

    p = Path(path)
    fmt = _WRITE_FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise AudioError(f"{p}: unsupported audio format '{p.suffix}' (use .wav or .flac)")
    if isinstance(wave, torch.Tensor):
        wave = wave.detach().cpu().numpy()
    data = np.asarray(wave, dtype=np.float32)
    if data.ndim != 1:
        raise AudioError(f"{p}: expected a mono waveform [N], got shape {data.shape}")
    if not np.all(np.isfinite(data)):
        raise AudioError(f"{p}: waveform contains NaN or infinite samples")
    data = np.clip(data, -1.0, 1.0)
    try:
        with atomic_path(p) as tmp:
            sf.write(str(tmp), data, int(sample_rate), format=fmt, subtype=subtype)
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        raise AudioError(f"{p}: cannot write audio ({' '.join(str(exc).split())})") from None
    return p
