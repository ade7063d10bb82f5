"""Make score MIDI sound more like a performance: tempo, dynamics and timing variation.

Scores exported from notation (music21's corpus) play every note at one velocity, exactly
on the grid, at the notated (or a default 120 qpm) tempo. Performances, which the paper
trained on, vary all three. Training on bare scores teaches the model that velocity never
changes, so :func:`humanize` adds, per piece and reproducibly from a seed:

- a global tempo factor and a slow rubato (a smooth time warp, so order is kept);
- a dynamic level plus slow phrase swells, and a little per-note velocity jitter;
- small onset/offset jitter and a per-piece articulation (how legato notes are held).

Notes are ``[N, 4]`` float arrays of ``(start s, end s, pitch, velocity)``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

#: Shortest note kept after articulation and jitter, in seconds (shorter is inaudible).
MIN_DURATION = 0.04


@dataclasses.dataclass(frozen=True)
class Humanize:
    """How much variation :func:`humanize` adds (0 switches a kind off)."""

    tempo: float = 0.15          # global tempo factor drawn from 1 ± tempo
    rubato: float = 0.04         # local tempo wanders by ± this fraction
    velocity_range: tuple[int, int] = (45, 105)   # the piece's base dynamic level
    swell: float = 14.0          # amplitude of slow phrase dynamics, in velocity units
    velocity_jitter: float = 5.0  # per-note velocity standard deviation
    timing_jitter: float = 0.010  # per-note onset standard deviation, seconds
    legato: tuple[float, float] = (0.80, 1.0)    # share of the notated length held

    def check(self) -> None:
        """Raise ValueError for settings that cannot make a valid performance."""
        if not 0 <= self.tempo < 1:
            raise ValueError(f"tempo variation must be in [0, 1), got {self.tempo}")
        if not 0 <= self.rubato < 0.5:
            raise ValueError(f"rubato must be in [0, 0.5), got {self.rubato}")
        lo, hi = self.velocity_range
        if not 1 <= lo <= hi <= 127:
            raise ValueError(f"velocity range must satisfy 1 <= low <= high <= 127, "
                             f"got {lo}..{hi}")
        if self.swell < 0 or self.velocity_jitter < 0 or self.timing_jitter < 0:
            raise ValueError("swell, velocity jitter and timing jitter must be >= 0")
        a, b = self.legato
        if not 0 < a <= b <= 1.5:
            raise ValueError(f"legato range must satisfy 0 < low <= high <= 1.5, got {a}..{b}")


def _time_warp(times: np.ndarray, rng: np.random.Generator, rubato: float,
               end: float) -> np.ndarray:
    """Map score seconds to performed seconds through a smooth, increasing warp.

    The local rate is piecewise linear between knots every 4 s, each knot 1 ± rubato;
    integrating a positive rate keeps every note in its order.
    """
    if rubato <= 0 or end <= 0:
        return times
    knots = np.arange(0.0, end + 8.0, 4.0)
    rate = 1.0 + rubato * rng.uniform(-1.0, 1.0, size=knots.shape)
    # cumulative integral of the piecewise-linear rate at the knots
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (rate[1:] + rate[:-1]) * np.diff(knots))])
    idx = np.clip(np.searchsorted(knots, times, side="right") - 1, 0, len(knots) - 2)
    dt = times - knots[idx]
    slope = (rate[idx + 1] - rate[idx]) / (knots[idx + 1] - knots[idx])
    return cum[idx] + rate[idx] * dt + 0.5 * slope * dt * dt


def _dynamics(starts: np.ndarray, rng: np.random.Generator, h: Humanize) -> np.ndarray:
    """Velocity of each note: base level + two slow swells + jitter, clipped to 1..127."""
    lo, hi = h.velocity_range
    level = rng.uniform(lo, hi)
    curve = np.zeros_like(starts)
    if h.swell > 0:
        for _ in range(2):
            period = rng.uniform(6.0, 24.0)
            phase = rng.uniform(0.0, 2 * np.pi)
            curve += 0.5 * h.swell * np.sin(2 * np.pi * starts / period + phase)
    jitter = rng.normal(0.0, h.velocity_jitter, size=starts.shape) if h.velocity_jitter else 0.0
    return np.clip(np.round(level + curve + jitter), 1, 127)


def humanize(notes: np.ndarray, seed: int, settings: Humanize = Humanize()) -> np.ndarray:
    """A performed version of ``notes [N, 4]`` (start, end, pitch, velocity) → ``[N, 4]``.

    Deterministic for a given ``seed``. Notes come back sorted by start time, every note
    at least :data:`MIN_DURATION` long and starting at >= 0.
    """
    settings.check()
    notes = np.asarray(notes, dtype=np.float64).reshape(-1, 4)
    if notes.shape[0] == 0:
        return notes.copy()
    rng = np.random.default_rng(seed)
    starts, ends = notes[:, 0].copy(), notes[:, 1].copy()
    lengths = np.maximum(ends - starts, 0.0)
    # articulation is applied in score time, before the warp, like a player's touch
    ends = starts + lengths * rng.uniform(*settings.legato)

    factor = 1.0 / rng.uniform(1.0 - settings.tempo, 1.0 + settings.tempo) \
        if settings.tempo > 0 else 1.0
    end = float(max(ends.max(), starts.max()))
    starts = _time_warp(starts, rng, settings.rubato, end) * factor
    ends = _time_warp(ends, rng, settings.rubato, end) * factor

    if settings.timing_jitter > 0:
        limit = 3.0 * settings.timing_jitter
        shift = np.clip(rng.normal(0.0, settings.timing_jitter, size=starts.shape),
                        -limit, limit)
        starts = starts + shift
        ends = ends + shift + np.clip(
            rng.normal(0.0, settings.timing_jitter, size=ends.shape), -limit, limit)
    starts = np.maximum(starts, 0.0)
    ends = np.maximum(ends, starts + MIN_DURATION)
    velocity = _dynamics(starts, rng, settings)

    out = np.stack([starts, ends, notes[:, 2], velocity], axis=1)
    return out[np.argsort(out[:, 0], kind="stable")]


def merge_unisons(notes: np.ndarray) -> np.ndarray:
    """Resolve overlapping notes of one pitch, as one keyboard would have to play them.

    Voices in unison (common in chorales) become the same key on one channel; a second
    note-on while the first sounds would cut it and a stray note-off would end the
    second early. An earlier note is cut where the next one of that pitch starts, and
    notes starting together become one note with the louder velocity and later end.
    ``notes [N, 4]`` → ``[M, 4]`` sorted by start, ``M <= N``.
    """
    notes = np.asarray(notes, dtype=np.float64).reshape(-1, 4)
    kept: list[np.ndarray] = []
    for pitch in np.unique(notes[:, 2]):
        group = notes[notes[:, 2] == pitch]
        group = group[np.lexsort((-group[:, 1], group[:, 0]))]
        current = group[0].copy()
        for note in group[1:]:
            if note[0] - current[0] < 1e-4:          # struck together: one note
                current[1] = max(current[1], note[1])
                current[3] = max(current[3], note[3])
                continue
            if current[1] > note[0]:                  # still sounding: release it here
                current[1] = note[0]
            kept.append(current)
            current = note.copy()
        kept.append(current)
    out = np.array(kept) if kept else notes[:0].copy()
    return out[np.argsort(out[:, 0], kind="stable")]
