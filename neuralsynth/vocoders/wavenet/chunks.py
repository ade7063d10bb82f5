"""Splitting a long render into parallel streams, and joining them without clicks.

A WaveNet is autoregressive, so one signal is one long sequential loop. To use several
cores (and to batch streams, which is what makes the engines fast), a render of ``T``
frames is cut into ``n`` equal chunks, each generated as its own stream:

- chunk ``k`` owns frames ``[a_k, b_k)``;
- its stream starts ``warmup`` frames early (at least the receptive field), so by the
  time it reaches ``a_k`` every dilated-conv queue holds samples it generated under the
  right conditioning, as if it had been running all along (the first chunk starts at
  the true beginning, from silence, as in training);
- it runs ``overlap`` frames past ``b_k``; over those frames the output fades from
  chunk ``k`` to chunk ``k + 1`` with a raised-cosine ramp. Both streams follow the same
  mel there, so the join has no step and no gap; without the fade, the two independent
  waveforms would meet with a jump (a click).

All streams run in lockstep for the longest window; shorter ones are padded with the
mel's floor (silence) and the padding is dropped.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np


@dataclasses.dataclass(frozen=True)
class Chunk:
    """Frames a stream owns ``[own_start, own_end)`` and generates ``[start, end)``."""

    own_start: int
    own_end: int
    start: int
    end: int


def plan_chunks(n_frames: int, n_streams: int, *, warmup: int, overlap: int,
                min_frames: int = 1) -> list[Chunk]:
    """At most ``n_streams`` chunks of at least ``min_frames`` owned frames each."""
    if n_frames <= 0:
        return []
    n = max(1, min(n_streams, n_frames // max(1, min_frames)))
    size = math.ceil(n_frames / n)
    chunks = []
    for a in range(0, n_frames, size):
        b = min(a + size, n_frames)
        chunks.append(Chunk(a, b, max(0, a - warmup), min(n_frames, b + overlap)))
    return chunks


def fade_in(n: int) -> np.ndarray:
    """Raised-cosine ramp of ``n`` samples from 0 (exclusive) towards 1 (exclusive)."""
    x = (np.arange(n, dtype=np.float64) + 0.5) / max(n, 1)
    return (0.5 - 0.5 * np.cos(np.pi * x)).astype(np.float32)


def join_chunks(waves: list[np.ndarray], chunks: list[Chunk], hop: int) -> np.ndarray:
    """Overlap-add the streams into one signal of ``chunks[-1].own_end * hop`` samples.

    ``waves[k]`` holds samples of frames ``[start_k, end_k)`` of chunk ``k``. Where chunk
    ``k`` runs past its own end into chunk ``k + 1``, the two are cross-faded.
    """
    if not chunks:
        return np.zeros(0, np.float32)
    out = np.zeros(chunks[-1].own_end * hop, np.float32)
    for k, (w, c) in enumerate(zip(waves, chunks)):
        if w.shape[0] != (c.end - c.start) * hop:
            raise ValueError(f"chunk {k}: expected {(c.end - c.start) * hop} samples, "
                             f"got {w.shape[0]}")
        s = (c.own_start - c.start) * hop
        e = s + (c.own_end - c.own_start) * hop
        own = w[s:e].copy()
        if k > 0:
            prev_c = chunks[k - 1]
            n_fade = (prev_c.end - prev_c.own_end) * hop   # overlap into this chunk
            if n_fade:
                ramp = fade_in(n_fade)
                tail = waves[k - 1][-n_fade:]
                own[:n_fade] = tail * (1.0 - ramp) + own[:n_fade] * ramp
        out[c.own_start * hop:c.own_end * hop] = own
    return out
