"""How a piece of any length is cut into windows for the model and the vocoder.

The model's BiLSTM and the vocoders were run over the whole piece at once, so memory grew
with its length (an hour took 11 GB). A render now walks the piece in windows; each
window is responsible for ``core`` frames and sees more on both sides::

    model   |<- context ->|<- overlap ->|====== core ======|<- overlap ->|<- context ->|
    vocoder               |<- overlap ->|====== core ======|<- overlap ->|
    output                 \\ fade in  /                     \\ fade out /

The BiLSTM reads ``context`` frames beyond what is vocoded, in both directions, so the
vocoded frames have (almost) the state a whole-piece run gives them; the vocoder makes
``overlap`` frames beyond the core on both sides, and neighbouring windows cross-fade
over those ``2 × overlap`` frames, so no join is a cut. docs/rendering.md gives the
measured agreement with whole-piece rendering.
"""

from __future__ import annotations

import dataclasses

from neuralsynth.audio.constants import HOP_LENGTH, SAMPLE_RATE

_FRAMES_PER_SECOND = SAMPLE_RATE / HOP_LENGTH

#: Frames a window is responsible for (2 min). The model's memory grows by about 1.4 MB
#: and Griffin-Lim's by about 3 MB per second of window: 4-min windows peaked at 1.44 GB
#: with Griffin-Lim, 2-min ones stay near 1 GB. The model then reads 27 % more frames
#: than the piece has (the context), which costs the fast vocoders about 10 % of speed.
CORE_FRAMES = int(round(120.0 * _FRAMES_PER_SECOND))
#: Frames vocoded on each side of the core and cross-faded with the neighbour (0.5 s).
OVERLAP_FRAMES = int(round(0.5 * _FRAMES_PER_SECOND))
#: Frames the model reads beyond the vocoded ones on each side (16 s): the BiLSTM's state
#: forgets where it started within this span. Measured on a 150 s piano piece against a
#: whole-piece run (log-mel bins within 40 dB of the peak): 4 s left 1 % of bins over
#: 0.65 dB and single bins 2-8 dB off, 8 s 0.29 dB and 1.4 dB, 16 s 0.025 dB and 0.09 dB.
CONTEXT_FRAMES = int(round(16.0 * _FRAMES_PER_SECOND))


@dataclasses.dataclass(frozen=True)
class Window:
    """Frame ranges ``[start, stop)`` of one window, in frames of the whole piece."""

    core: tuple[int, int]
    vocoded: tuple[int, int]
    model: tuple[int, int]

    @property
    def n_vocoded(self) -> int:
        return self.vocoded[1] - self.vocoded[0]


def plan_windows(n_frames: int, *, core: int = CORE_FRAMES, overlap: int = OVERLAP_FRAMES,
                 context: int = CONTEXT_FRAMES) -> list[Window]:
    """The windows that cover ``n_frames`` frames, in order. A piece no longer than one
    core is a single window spanning it all (no overlap, no context: the whole-piece
    render exactly)."""
    if n_frames <= 0:
        return []
    if core <= 2 * overlap:
        raise ValueError(f"core ({core}) must be longer than twice the overlap ({overlap})")
    windows = []
    for a in range(0, n_frames, core):
        b = min(n_frames, a + core)
        v0, v1 = max(0, a - overlap), min(n_frames, b + overlap)
        m0, m1 = max(0, v0 - context), min(n_frames, v1 + context)
        windows.append(Window((a, b), (v0, v1), (m0, m1)))
    return windows


__all__ = ["CONTEXT_FRAMES", "CORE_FRAMES", "OVERLAP_FRAMES", "Window", "plan_windows"]
