"""The alternative to additive phase: score-informed magnitudes through Griffin-Lim.

The additive signal's STFT gives a magnitude with the notes' harmonic lines and a phase
that is consistent from frame to frame. Here each mel band of that magnitude is scaled
to the target mel's level (the partials keep their shape, the band its energy) and fast
Griffin-Lim runs from the additive phase. docs/vocoder.md compares the two; additive
phase is the default because it scored better (and runs in chunks, where this pass needs
the whole signal at once).
"""

from __future__ import annotations

import numpy as np
import torch

from neuralsynth.audio import spectral as audio
from neuralsynth.vocoders.harmonic.residual import band_share


def griffin_lim_from(wave: np.ndarray, mel: np.ndarray, n_iter: int) -> np.ndarray:
    """Griffin-Lim from the phase of ``wave [T * hop]``, magnitudes matched band by band
    to ``mel [T, 80]``; returns float32 ``[T * hop]``."""
    from neuralsynth.vocoders.griffin_lim import GriffinLim

    n = mel.shape[0]
    spec = audio.stft(torch.from_numpy(np.asarray(wave, np.float32)))[:n]     # [T, 513]
    mag = spec.abs().double()
    fb = audio.mel_filterbank(dtype=torch.float64)                            # [80, 513]
    have = mag @ fb.T
    gain = torch.from_numpy(np.asarray(mel, np.float64)) / have.clamp_min(1e-12)
    mag = mag * (gain.clamp(0.0, 1e3) @ torch.from_numpy(band_share()))
    gl = GriffinLim(GriffinLim.Config(n_iter=int(n_iter)))
    with torch.no_grad():
        y = gl.reconstruct(mag.float(), n * audio.HOP_LENGTH, phase=spec.angle().float())
    return y.numpy().astype(np.float32)
