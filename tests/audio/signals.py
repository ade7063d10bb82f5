"""Test signals and helpers shared by the audio tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def music(seconds: float = 3.0, sr: int = 16000, level: float = 0.1,
          seed: int = 0) -> np.ndarray:
    """A piano-like test signal: notes with sharp attacks, decaying harmonics (slightly
    stretched, as a real string's are) and a little noise; float32 ``[n]``, peak ~level."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    x = np.zeros(n)
    for start in np.arange(0.0, seconds, 0.5):
        f0 = 110.0 * 2 ** (rng.integers(0, 36) / 12)
        age = t - start
        on = age >= 0
        for h in range(1, 9):
            f = f0 * h * np.sqrt(1 + 2e-4 * h * h)
            if f >= sr / 2:
                break
            x[on] += np.exp(-age[on] * (1.5 + h)) * np.sin(2 * np.pi * f * age[on]) / h
    x += 0.003 * rng.standard_normal(n)
    return (level * x / np.max(np.abs(x))).astype(np.float32)


def sine(freq: float, seconds: float, sr: int, amp: float) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def folder_listing(path: Path) -> list[str]:
    """Everything under ``path`` (hidden files included), for "nothing left behind"."""
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))
