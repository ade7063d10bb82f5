"""Log-spectral distance on a 2048-point STFT: the measure that sees harmonic smearing.

The log-CQT correlation (:mod:`.cqt`) has semitone bins, wide enough above 1 kHz that a
harmonic smeared into a band of noise and a clean partial land in the same bin. A
2048-point STFT (7.8 Hz bins at 16 kHz) resolves the partials, so this distance is where
a vocoder that smears harmonics pays::

    LSD = mean over frames of sqrt( mean over bins of (20 log10 |X| − 20 log10 |Y|)² )

in dB, magnitudes floored at 1e-5 (−100 dB) as everywhere in neuralsynth, Hann window
2048, hop 512. Lower is better; 0 for identical signals.
"""

from __future__ import annotations

import numpy as np
import torch

LSD_N_FFT = 2048
LSD_HOP = 512
FLOOR = 1e-5


def _log_magnitude(wave: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(np.ascontiguousarray(wave, np.float32))
    if x.shape[0] < LSD_N_FFT // 2 + 1:
        x = torch.nn.functional.pad(x, (0, LSD_N_FFT // 2 + 1 - x.shape[0]))
    spec = torch.stft(x, LSD_N_FFT, LSD_HOP, window=torch.hann_window(LSD_N_FFT), center=True,
                      return_complex=True).abs().numpy()
    return 20.0 * np.log10(np.maximum(spec, FLOOR))


def log_spectral_distance(synth: np.ndarray, original: np.ndarray) -> float:
    """LSD in dB between two mono signals, cut to the shorter one (see the module doc)."""
    n = min(len(synth), len(original))
    a = _log_magnitude(np.asarray(synth, np.float32)[:n])
    b = _log_magnitude(np.asarray(original, np.float32)[:n])
    return float(np.mean(np.sqrt(np.mean((a - b) ** 2, axis=0))))


__all__ = ["log_spectral_distance"]
