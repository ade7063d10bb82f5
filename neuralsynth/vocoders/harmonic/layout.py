"""Which notes sound where, and one chunk's notes laid out as flat arrays for numba.

The fit and the oscillators are numba loops over frames; each frame needs the notes
sounding in it, their envelope knots and their partials. A :class:`ChunkLayout` holds
them for one chunk of frames as concatenated arrays with per-note offsets ("slots"),
and a frame → slots index (CSR: ``slots[ptr[t]:ptr[t + 1]]``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from neuralsynth.audio.constants import SAMPLE_RATE
from neuralsynth.vocoders.harmonic.partials import MAX_WIDTH, note_basis, piano_inharmonicity
from neuralsynth.vocoders.score import Score

#: Frames a note is fitted before its onset frame: the analysis window (±4 frames) sees
#: an attack that early, and the coverage factor reads those frames correctly.
LEAD_FRAMES = 3


@dataclasses.dataclass
class NoteSpans:
    """Every note of a score in global frames and samples: ``[N]`` arrays."""

    first: np.ndarray     # first fitted frame
    stop: np.ndarray      # one past the last fitted frame
    onset: np.ndarray     # onset sample
    pitch: np.ndarray
    inharm: np.ndarray    # inharmonicity B


def note_spans(score: Score, release: float, inharmonicity: float) -> NoteSpans:
    """Notes sound from :data:`LEAD_FRAMES` before their onset until ``release`` seconds
    after their note-off, or until the same key is struck again (the string or pipe
    restarts), within the score's frames."""
    n = score.notes
    rate = score.frame_rate
    stop_t = n.end + float(release)
    order = np.lexsort((n.start, n.pitch))
    again = n.pitch[order[1:]] == n.pitch[order[:-1]]
    prev, nxt = order[:-1][again], order[1:][again]
    stop_t[prev] = np.minimum(stop_t[prev], np.maximum(n.start[nxt], n.start[prev]))
    first = np.maximum(0, np.floor(n.start * rate).astype(np.int64) - LEAD_FRAMES)
    stop = np.minimum(score.n_frames, np.ceil(stop_t * rate).astype(np.int64) + 1)
    inharm = np.array([inharmonicity * piano_inharmonicity(int(p)) for p in n.pitch])
    return NoteSpans(first=first, stop=np.maximum(stop, first),
                     onset=np.round(n.start * SAMPLE_RATE).astype(np.int64),
                     pitch=n.pitch.astype(np.int64), inharm=inharm)


@dataclasses.dataclass
class ChunkLayout:
    """The notes sounding in chunk frames ``[c0, c0 + n_fit)`` (see the module doc).

    Slot ``s`` is note ``live[s]``: it sounds in chunk frames ``s_start[s] ..
    s_end[s] - 1``, has ``s_nknots[s]`` knots (rows ``s_knot0[s] ..`` of ``k_*``) and
    ``s_npart[s]`` partials (rows ``s_part0[s] ..`` of ``p_*``); its knot values per frame
    live at ``s_c0[s] + (t - s_start[s]) * s_nknots[s]`` of a flat array of ``n_values``.
    ``s_carry0[s] >= 0`` points into ``carry`` at the values of the frame before ``c0``.
    """

    c0: int
    n_fit: int
    live: np.ndarray
    onset: np.ndarray
    pitch: np.ndarray
    s_start: np.ndarray
    s_end: np.ndarray
    s_nknots: np.ndarray
    s_npart: np.ndarray
    s_knot0: np.ndarray
    s_part0: np.ndarray
    s_c0: np.ndarray
    s_carry0: np.ndarray
    carry: np.ndarray
    ptr: np.ndarray
    slots: np.ndarray
    k_lo: np.ndarray
    k_width: np.ndarray
    k_resp: np.ndarray
    k_peak: np.ndarray
    p_freq: np.ndarray
    p_knot: np.ndarray
    p_weight: np.ndarray
    n_values: int
    max_part: int         # most partials sounding in one frame

    def carry_out(self, knots: np.ndarray, spans: NoteSpans, c1: int) -> dict[int, np.ndarray]:
        """Knot values at frame ``c1 - 1`` of every note still sounding at ``c1``."""
        out = {}
        last = c1 - 1 - self.c0
        for s, note in enumerate(self.live):
            if self.s_start[s] <= last < self.s_end[s] and spans.stop[note] > c1:
                row = self.s_c0[s] + (last - self.s_start[s]) * self.s_nknots[s]
                out[int(note)] = knots[row:row + self.s_nknots[s]].copy()
        return out


def chunk_layout(spans: NoteSpans, c0: int, n_fit: int,
                 carry: dict[int, np.ndarray]) -> ChunkLayout:
    """The :class:`ChunkLayout` of frames ``[c0, c0 + n_fit)``; ``carry`` maps a note to
    its knot values at frame ``c0 - 1`` (from the previous chunk)."""
    end = c0 + n_fit
    live = np.nonzero((spans.first < end) & (spans.stop > c0))[0]
    bases = [note_basis(int(spans.pitch[i]), float(spans.inharm[i])) for i in live]
    s_start = np.maximum(spans.first[live], c0) - c0
    s_end = np.minimum(spans.stop[live], end) - c0
    s_nknots = np.array([b.n_knots for b in bases], np.int64)
    s_npart = np.array([b.freq.shape[0] for b in bases], np.int64)
    sizes = (s_end - s_start) * s_nknots
    s_carry0 = np.full(live.shape[0], -1, np.int64)
    carried, pos = [], 0
    for s, note in enumerate(live):
        vals = carry.get(int(note))
        if vals is not None and s_start[s] == 0 and spans.first[note] < c0:
            s_carry0[s] = pos
            carried.append(vals)
            pos += vals.shape[0]
    counts = s_end - s_start
    pair_frame = np.repeat(s_start, counts) + _ranges(counts)
    pair_slot = np.repeat(np.arange(live.shape[0], dtype=np.int64), counts)
    order = np.argsort(pair_frame, kind="stable")
    per_frame = np.bincount(pair_frame, weights=s_npart[pair_slot], minlength=n_fit)

    def cat(name: str, empty_shape: tuple, dtype) -> np.ndarray:
        if not bases:
            return np.zeros(empty_shape, dtype)
        return np.ascontiguousarray(np.concatenate([getattr(b, name) for b in bases]))

    return ChunkLayout(
        c0=c0, n_fit=n_fit, live=live, onset=spans.onset[live], pitch=spans.pitch[live],
        s_start=s_start, s_end=s_end, s_nknots=s_nknots, s_npart=s_npart,
        s_knot0=_offsets(s_nknots), s_part0=_offsets(s_npart), s_c0=_offsets(sizes),
        s_carry0=s_carry0, carry=np.concatenate(carried) if carried else np.zeros(1),
        ptr=np.searchsorted(pair_frame[order], np.arange(n_fit + 1)).astype(np.int64),
        slots=pair_slot[order],
        k_lo=cat("lo", (0,), np.int64), k_width=cat("width", (0,), np.int64),
        k_resp=cat("resp", (0, MAX_WIDTH), np.float64), k_peak=cat("peak", (0,), np.int64),
        p_freq=cat("freq", (0,), np.float64), p_knot=cat("knot", (0, 2), np.int64),
        p_weight=cat("weight", (0, 2), np.float64), n_values=int(sizes.sum()),
        max_part=int(per_frame.max()) + 1 if per_frame.size else 1)


def _offsets(sizes: np.ndarray) -> np.ndarray:
    """Start of each block when blocks of ``sizes`` are concatenated."""
    return np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)


def _ranges(counts: np.ndarray) -> np.ndarray:
    """``concatenate([arange(c) for c in counts])`` without the Python loop."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    ends = np.cumsum(counts)
    return np.arange(total, dtype=np.int64) - np.repeat(ends - counts, counts)
