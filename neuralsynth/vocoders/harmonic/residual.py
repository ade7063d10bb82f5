"""The residual: mel energy no partial explains (attacks, breath, bow and hammer noise),
played as noise with that spectral envelope.

Per frame, ``max(mel − model mel, 0)`` is spread back over the STFT bins as a flat
noise density per band (each bin shares its bands in proportion to their filter weights:
a partition of unity, so flat noise comes back flat), given random phases and
overlap-added with the Hann window of the features. The exact non-negative mel
inversion would cost more than all the rest of the vocoder on residuals, which are not
the mel of any spectrum, and noise needs no more than its envelope.

:class:`NoiseStream` does this chunk by chunk: the last ``N_FFT − hop`` samples of a
chunk's overlap-add wait for the next chunk, so the stream is seamless and memory stays
one chunk.
"""

from __future__ import annotations

import numpy as np
import torch

from neuralsynth.audio.constants import HOP_LENGTH, N_FFT

_OVERLAP = N_FFT - HOP_LENGTH
_W2 = float(np.sum((0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)) ** 2))
#: Frames of random phase add incoherently. A frame of flat magnitude ``m`` is noise of
#: variance m²/N; windowed and overlap-added, E = Σw²/hop frames give variance E m²/N;
#: the Hann STFT of that noise has E|X|² = E m²/N · Σw², and |X| is Rayleigh distributed,
#: mean sqrt(π)/2 of its rms. Dividing by this makes the mel of the noise the mel asked
#: for (checked by tests/vocoders/test_harmonic.py).
_NOISE_GAIN = float(np.sqrt(_W2 / HOP_LENGTH * _W2 / N_FFT) * np.sqrt(np.pi) / 2.0)


def band_share() -> np.ndarray:
    """``[80, 513]`` float64: each STFT bin's split over the mel bands that cover it, in
    proportion to their filter weights (columns sum to 1 where any band covers the bin).
    ``per_band @ band_share()`` spreads per-band values back over the bins."""
    from neuralsynth.audio.spectral import mel_filterbank

    fb = mel_filterbank(dtype=torch.float64).numpy()
    return fb / np.maximum(fb.sum(axis=0, keepdims=True), 1e-30)


def _spread_matrix() -> np.ndarray:
    """``[80, 513]``: band value → STFT magnitude of flat noise with that mel value."""
    from neuralsynth.audio.spectral import mel_filterbank

    fb = mel_filterbank(dtype=torch.float64).numpy()                 # [80, 513]
    # A flat magnitude x gives band m the value x * sum(fb[m]); divide that back out.
    return (band_share() / fb.sum(axis=1, keepdims=True)).astype(np.float32)


class NoiseStream:
    """Noise with a given mel envelope, one chunk of frames at a time.

    ``push(residual [n, 80])`` → the next ``n * hop`` samples (float32). Frame ``k`` of the
    stream is centred on sample ``k * hop``, as the features' frames are.
    """

    def __init__(self, seed: int = 0):
        self._gen = torch.Generator().manual_seed(int(seed))
        self._window = torch.hann_window(N_FFT, periodic=True) / _NOISE_GAIN
        # The overlap-add buffer starts N_FFT/2 samples before sample 0 (the first frame's
        # window does); those samples are dropped.
        self._pending = np.zeros(_OVERLAP)
        self._spread = _spread_matrix()
        self._skip = N_FFT // 2
        #: Samples handed out so far (the next push's output starts here).
        self.emitted = 0

    def push(self, residual: np.ndarray) -> np.ndarray:
        n = residual.shape[0]
        buf = np.zeros(_OVERLAP + n * HOP_LENGTH)
        buf[:_OVERLAP] = self._pending
        if n:
            mag = torch.from_numpy(np.asarray(residual, np.float32) @ self._spread)
            phase = torch.rand(mag.shape, generator=self._gen) * (2 * np.pi)
            frames = torch.fft.irfft(torch.polar(mag, phase), n=N_FFT)
            frames = (frames * self._window).numpy()
            for j in range(N_FFT // HOP_LENGTH):
                # Frame k covers buf[k*hop : k*hop + N_FFT]; add its j-th hop-long part.
                part = frames[:, j * HOP_LENGTH:(j + 1) * HOP_LENGTH]
                view = buf[j * HOP_LENGTH:j * HOP_LENGTH + n * HOP_LENGTH]
                view.reshape(n, HOP_LENGTH)[:] += part
        self._pending = buf[n * HOP_LENGTH:].copy()
        skip = min(self._skip, n * HOP_LENGTH)
        self._skip -= skip
        out = buf[skip:n * HOP_LENGTH].astype(np.float32)
        self.emitted += out.shape[0]
        return out

    def finish(self, n_samples: int) -> np.ndarray:
        """The last ``n_samples`` (at most ``N_FFT / 2``) still held back."""
        out = self._pending[:max(0, n_samples)].astype(np.float32)
        self.emitted += out.shape[0]
        return out
