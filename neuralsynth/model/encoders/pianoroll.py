"""Piano-roll encoder: the Mel2Mel input (onset roll then frame roll, 88 keys each)."""

from __future__ import annotations

import dataclasses

import numpy as np

from neuralsynth.components.params import ensure_valid, param
from neuralsynth.midi.notes import Notes
from neuralsynth.model.encoders.base import Encoder

LOWEST_KEY = 21          # A0
HIGHEST_KEY = 108        # C8
N_KEYS = HIGHEST_KEY - LOWEST_KEY + 1


class PianoRoll(Encoder):
    """Notes → float32 ``[n_frames, 88 * (onsets + frames)]``.

    Column ``k`` of each 88-wide roll is MIDI key ``21 + k``; the onset roll (if enabled)
    comes first, then the frame roll. A cell holds ``velocity / 127`` of the loudest note
    there, 0 elsewhere. A note starting at ``s`` seconds and ending at ``e`` seconds
    has its onset at frame ``round(s * sample_rate / hop_length)`` and covers frames
    ``round(s·r) .. round(e·r) - 1`` of the frame roll (``r`` = frames per second), at
    least its onset frame, so very short notes are never lost. ``round`` is Python's
    (half to even). Keys outside 21..108 are ignored.
    """

    @dataclasses.dataclass
    class Config:
        onsets: bool = param(True, "include the onset roll (velocity/127 at each note's "
                                   "first frame), 88 dims")
        frames: bool = param(True, "include the frame roll (velocity/127 while a note "
                                   "sounds), 88 dims")

        def check(self) -> list[tuple[str, str]]:
            if not (self.onsets or self.frames):
                return [("frames", "pianoroll needs at least one of 'onsets' and 'frames' "
                                   "set to true")]
            return []

    def __init__(self, config: Config, *, sample_rate: int = 16000, hop_length: int = 128):
        super().__init__(config, sample_rate=sample_rate, hop_length=hop_length)
        ensure_valid("encoder", config)

    @property
    def output_dim(self) -> int:
        return N_KEYS * (int(self.config.onsets) + int(self.config.frames))

    def encode(self, notes: Notes, n_frames: int) -> np.ndarray:
        """Piano roll ``[n_frames, output_dim]`` (float32) of ``notes``."""
        return self.encode_window(notes, 0, n_frames)

    def encode_window(self, notes: Notes, first_frame: int, n_frames: int) -> np.ndarray:
        """Piano roll of frames ``first_frame .. first_frame + n_frames - 1`` of the piece:
        times are rounded to the piece's frames, so a window is exactly that slice of
        the whole piece's roll."""
        n_frames = int(n_frames)
        onset_roll = np.zeros((n_frames, N_KEYS), dtype=np.float32)
        frame_roll = np.zeros((n_frames, N_KEYS), dtype=np.float32)
        if len(notes) and n_frames > 0:
            rate = self.sample_rate / self.hop_length
            # np.rint rounds half to even, exactly like Python's round().
            first = np.rint(notes.start * rate).astype(np.int64) - int(first_frame)
            last = np.rint(np.maximum(notes.end, 0.0) * rate).astype(np.int64) \
                - int(first_frame)
            last = np.maximum(last, first + 1)              # at least one frame cell
            keep = ((notes.pitch >= LOWEST_KEY) & (notes.pitch <= HIGHEST_KEY)
                    & (first < n_frames) & (last > 0))
            keys = notes.pitch[keep].astype(np.int64) - LOWEST_KEY
            values = notes.velocity[keep].astype(np.float32) / 127.0
            for f0, f1, k, v in zip(first[keep].tolist(), last[keep].tolist(),
                                    keys.tolist(), values.tolist()):
                # Overlapping notes on one key keep the louder value. A note that began
                # before the window sounds from its first frame without an onset.
                if f0 >= 0 and v > onset_roll[f0, k]:
                    onset_roll[f0, k] = v
                cells = frame_roll[max(f0, 0):min(f1, n_frames), k]
                np.maximum(cells, v, out=cells)
        parts = []
        if self.config.onsets:
            parts.append(onset_roll)
        if self.config.frames:
            parts.append(frame_roll)
        return np.concatenate(parts, axis=1)
