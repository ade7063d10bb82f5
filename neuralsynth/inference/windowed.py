"""Render a piece window by window: the model and the vocoder in bounded memory.

:func:`~neuralsynth.inference.windows.plan_windows` cuts the piece; for each window this
module runs the model over the window's frames (with context) for every part, vocodes the
part with its own notes, sums the parts and cross-fades the window into its neighbours.
Memory is that of one window, whatever the length of the piece; a window in which no note
sounds is not computed at all (an hour of silence costs nothing but its zeros).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Iterator

import numpy as np
import torch

from neuralsynth.audio.constants import HOP_LENGTH, SAMPLE_RATE
from neuralsynth.errors import NeuralsynthError, PluginError
from neuralsynth.inference.windows import Window, plan_windows
from neuralsynth.midi.notes import Notes
from neuralsynth.vocoders.score import Score

#: Seconds a note may still be heard after its note-off (the longest SoundFont releases
#: and their reverb): a window with no note sounding within this span is silence.
RING_SECONDS = 4.0


@dataclasses.dataclass
class Part:
    """Notes rendered with one timbre (a track, or tracks sharing a timbre): ``notes``
    (:class:`~neuralsynth.midi.notes.Notes`, seconds from the start of the piece),
    ``timbre`` a parsed :class:`~neuralsynth.timbre.point.Timbre` or
    :class:`~neuralsynth.timbre.path.TimbrePath`, ``label`` how reports name it."""

    notes: Notes
    timbre: Any
    label: str = ""


class WindowedRender:
    """The audio of ``parts`` over ``n_frames`` frames: float32 blocks at 16 kHz.

    ``blocks()`` yields the waveform in order, ``n_frames * 128`` samples in all, one
    block per window. ``timings`` accumulates seconds spent in ``encode``, ``model`` and
    ``vocoder``; ``windows`` and ``skipped`` count the windows and the silent ones.
    """

    def __init__(self, model, device: torch.device, parts: list[Part], n_frames: int,
                 vocoder, vocoder_name: str, *, windows: list[Window] | None = None,
                 progress: bool = False):
        self.model = model
        self.device = device
        self.parts = parts
        self.n_frames = int(n_frames)
        self.vocoder = vocoder
        self.vocoder_name = vocoder_name
        self.plan = windows if windows is not None else plan_windows(self.n_frames)
        self.progress = progress
        # One bar for the whole piece: a vocoder's own bar only when there is one window.
        vocoder.progress = bool(progress) and len(self.plan) == 1
        self.timings = {"encode": 0.0, "model": 0.0, "vocoder": 0.0}
        self.windows = len(self.plan)
        self.skipped = 0
        self._scores = [Score(p.notes, self.n_frames, HOP_LENGTH, SAMPLE_RATE) for p in parts]
        with torch.inference_mode():
            self._static = [p.timbre.embedding(model).unsqueeze(0) if p.timbre.is_static
                            else None for p in parts]

    def blocks(self) -> Iterator[np.ndarray]:
        bar = None
        if self.progress and len(self.plan) > 1:
            from tqdm import tqdm

            bar = tqdm(total=self.n_frames * HOP_LENGTH / SAMPLE_RATE, unit="s",
                       desc="rendering", leave=False, dynamic_ncols=True,
                       bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s "
                                  "of audio [{elapsed}<{remaining}]")
        fade = _Crossfade(self.plan, coherent=bool(getattr(self.vocoder,
                                                          "coherent_windows", False)))
        # Model and vocoder run one after the other: both use the two cores (torch's
        # threads; the vocoders' own), and running the model a window ahead in a second
        # thread was slower (48x real time against 52x with `harmonic`, 10 min).
        try:
            for k, window in enumerate(self.plan):
                mels = self._window_mels(window)
                yield fade.join(k, self._vocode(window, mels))
                if bar is not None:
                    bar.update((window.core[1] - window.core[0]) * HOP_LENGTH / SAMPLE_RATE)
        finally:
            if bar is not None:
                bar.close()

    # -- one window -------------------------------------------------------------------
    def _window_mels(self, window: Window) -> list[tuple[int, np.ndarray]]:
        """``(part index, mel [v1 - v0, n_mels])`` for every part heard in the window."""
        v0, v1 = window.vocoded
        return [(i, self._mel(i, part, window)) for i, part in enumerate(self.parts)
                if _sounds(part.notes, v0, v1)]

    def _vocode(self, window: Window, mels: list[tuple[int, np.ndarray]]) -> np.ndarray:
        v0, v1 = window.vocoded
        total = np.zeros(window.n_vocoded * HOP_LENGTH, np.float32)
        for i, mel in mels:
            part = self.parts[i]
            t0 = time.perf_counter()
            wave = self.vocoder.vocode(mel, self._scores[i].excerpt(v0, v1 - v0))
            wave = fit_length(wave, total.shape[0], HOP_LENGTH, self.vocoder_name)
            self.timings["vocoder"] += time.perf_counter() - t0
            if not np.all(np.isfinite(wave)):
                raise NeuralsynthError(f"vocoder '{self.vocoder_name}' produced non-finite "
                                       f"samples{_for(part)}")
            total += wave
        if not mels:
            self.skipped += 1
        return total

    def _mel(self, i: int, part: Part, window: Window) -> np.ndarray:
        """Linear mel ``[v1 - v0, n_mels]`` of the window's vocoded frames."""
        m0, m1 = window.model
        v0, v1 = window.vocoded
        t0 = time.perf_counter()
        encoder = self.model.encoder
        features = encoder.encode_window(_overlapping(part.notes, m0, m1), m0, m1 - m0)
        x = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32))
        x = x.to(self.device).unsqueeze(0)                             # [1, n, in_dim]
        self.timings["encode"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        with torch.inference_mode():
            t = self._static[i]
            if t is None:
                t = part.timbre.trajectory(self.model, m1 - m0, m0).unsqueeze(0)
            log_mel = self.model(x, t)[0, v0 - m0:v1 - m0]               # [v1 - v0, n_mels]
            mel = torch.exp(log_mel).float().cpu().numpy()
        self.timings["model"] += time.perf_counter() - t0
        if not np.all(np.isfinite(mel)):
            raise NeuralsynthError(f"the model's output is not finite{_for(part)}")
        return mel


def _for(part: Part) -> str:
    return f" for {part.label}" if part.label else ""


def _frame_time(frame: int) -> float:
    return frame * HOP_LENGTH / SAMPLE_RATE


def _sounds(notes: Notes, v0: int, v1: int) -> bool:
    """Whether a note may be heard in frames ``[v0, v1)``."""
    if not len(notes):
        return False
    live = (notes.start < _frame_time(v1) + 0.1) & (notes.end + RING_SECONDS > _frame_time(v0))
    return bool(np.any(live))


def _overlapping(notes: Notes, m0: int, m1: int) -> Notes:
    """The notes that may touch frames ``[m0, m1)`` (a frame of slack for rounding)."""
    slack = 2.0 / (SAMPLE_RATE / HOP_LENGTH)
    keep = (notes.start < _frame_time(m1) + slack) & (notes.end > _frame_time(m0) - slack)
    return notes.select(keep)


class _Crossfade:
    """Joins the windows' audio: each window fades in over its overlap with the previous
    one and out over its overlap with the next; the held tail of window k is mixed with
    the head of window k + 1."""

    def __init__(self, plan: list[Window], *, coherent: bool):
        self.plan = plan
        self.coherent = coherent
        self.tail = np.zeros(0, np.float32)

    def join(self, k: int, audio: np.ndarray) -> np.ndarray:
        v0 = self.plan[k].vocoded[0]
        head = 0
        if k > 0:
            head = (self.plan[k - 1].vocoded[1] - v0) * HOP_LENGTH   # overlap with k - 1
        keep = audio.shape[0]
        if k + 1 < len(self.plan):
            keep = (self.plan[k + 1].vocoded[0] - v0) * HOP_LENGTH   # start of k + 1
        out = audio[:keep].copy()
        if head:
            fade_in, fade_out = self._weights(head)
            out[:head] = out[:head] * fade_in + self.tail * fade_out
        self.tail = audio[keep:]
        return out

    def _weights(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        x = (np.arange(n, dtype=np.float64) + 0.5) / n * (np.pi / 2)
        if self.coherent:
            # The same waveform on both sides: amplitudes that sum to one.
            return (np.sin(x) ** 2).astype(np.float32), (np.cos(x) ** 2).astype(np.float32)
        # Unrelated phases: powers that sum to one, so the level does not dip.
        return np.sin(x).astype(np.float32), np.cos(x).astype(np.float32)


def fit_length(wave, n_samples: int, hop_length: int, name: str) -> np.ndarray:
    """Trim or zero-pad the vocoder output to exactly ``n_samples``.

    The vocoder contract is ``T * hop_length`` samples; an inverse STFT may legitimately
    be off by part of a hop, but anything further is a broken vocoder.
    """
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim != 1:
        raise PluginError(f"vocoder '{name}' returned an array of shape {wave.shape}; "
                          f"expected a 1-D waveform")
    if abs(wave.shape[0] - n_samples) >= hop_length:
        raise PluginError(f"vocoder '{name}' returned {wave.shape[0]} samples for "
                          f"{n_samples // hop_length} frames; expected {n_samples}")
    if wave.shape[0] > n_samples:
        return wave[:n_samples]
    return np.pad(wave, (0, n_samples - wave.shape[0]))


__all__ = ["Part", "RING_SECONDS", "WindowedRender", "fit_length"]
