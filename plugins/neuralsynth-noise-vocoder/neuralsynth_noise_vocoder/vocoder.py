"""The ``noise_excitation`` vocoder: the mel's magnitude with random phase.

    mel [T, 80] ─ mel_to_linear ─► |X| [T, 513] ─ × e^{iφ}, φ ~ U(0, 2π) ─ istft ─► wave [T·128]

Each STFT bin keeps the spectral envelope the model predicted and gets a random phase,
so the sound is the envelope excited by noise: breathy, pitch-blurred, but fast (one
inverse STFT, no iterations) and a faithful picture of the loudness and spectral balance
of a prediction. It exists mainly as a worked example of a third-party component.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

from neuralsynth.plugin import (
    HOP_LENGTH,
    N_FFT,
    N_MELS,
    SAMPLE_RATE,
    UsageError,
    Vocoder,
    ensure_valid,
    istft,
    mel_to_linear,
    param,
)


def _overlap_gain(n_fft: int, hop_length: int) -> float:
    """Amplitude lost when overlap-adding frames whose phases are independent.

    A frame's power m·σ² (m = mean of w², the analysis window) is spread evenly over the
    whole frame by a random phase. The inverse STFT windows each frame again and divides
    by S = Σ w² over the n_fft / hop overlapping windows (S = m · n_fft / hop); for
    independent frames powers add, so the output power is m·σ²·S / S² = σ² · hop / n_fft.
    """
    return math.sqrt(n_fft / hop_length)


class NoiseExcitation(Vocoder):
    """Random-phase inverse STFT of the mel's non-negative linear magnitude.

    ``synthesize(mel)``: float32 ``[T, 80]`` linear mel → float32 ``[T * 128]``.
    The same mel and seed always give the same waveform.
    """

    @dataclasses.dataclass
    class Config:
        seed: int = param(0, "seed of the random phases; the same seed and mel give the "
                             "same audio.")
        gain: float = param(1.0, "linear gain applied to the waveform (1.0 keeps the "
                                 "loudness the spectrogram implies).")
        nnls_iter: int = param(32, "maximum Newton steps per frame of the mel → linear "
                                   "magnitude inversion (0 = clipped pseudo-inverse only).")

        def check(self) -> list[tuple[str, str]]:
            # Reported by `neuralsynth check` with the recipe line, and by ensure_valid.
            problems = []
            if self.gain < 0:
                problems.append(("gain", f"must be >= 0, got {self.gain}"))
            if self.nnls_iter < 0:
                problems.append(("nnls_iter", f"must be >= 0, got {self.nnls_iter}"))
            return problems

    def __init__(self, config, *, n_mels: int = 80, sample_rate: int = 16000,
                 hop_length: int = 128):
        super().__init__(config, n_mels=n_mels, sample_rate=sample_rate,
                         hop_length=hop_length)
        # The inversion uses neuralsynth's own filterbank and STFT, so only its
        # conventions can be served.
        expected = (N_MELS, SAMPLE_RATE, HOP_LENGTH)
        if (n_mels, sample_rate, hop_length) != expected:
            raise UsageError(f"noise_excitation supports n_mels={expected[0]}, sample_rate="
                             f"{expected[1]}, hop_length={expected[2]} only; got "
                             f"{n_mels}, {sample_rate}, {hop_length}")
        ensure_valid("vocoder", config)
        self._compensation = _overlap_gain(N_FFT, HOP_LENGTH)

    def synthesize(self, mel: np.ndarray) -> np.ndarray:
        mel_t = torch.as_tensor(np.asarray(mel, dtype=np.float32))
        if mel_t.ndim != 2 or mel_t.shape[1] != self.n_mels:
            raise ValueError(f"expected mel [T, {self.n_mels}], got {tuple(mel_t.shape)}")
        n_frames = mel_t.shape[0]
        magnitude = mel_to_linear(mel_t, n_iter=self.config.nnls_iter)    # [T, 513]
        generator = torch.Generator().manual_seed(int(self.config.seed))
        phase = torch.rand(magnitude.shape, generator=generator) * (2.0 * math.pi)
        # DC and Nyquist bins of a real signal have no phase freedom.
        phase[:, 0] = 0.0
        phase[:, -1] = 0.0
        spec = torch.polar(magnitude.float(), phase)
        wave = istft(spec, length=n_frames * self.hop_length)
        wave = wave * (self._compensation * self.config.gain)
        return wave.numpy().astype(np.float32, copy=False)
