"""The note list every encoder consumes: parallel arrays, one entry per note."""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass
class Notes:
    """Notes of a piece, drums excluded, sorted by start time.

    Arrays all have shape ``[N]``: ``start`` and ``end`` in seconds (float64),
    ``pitch`` as MIDI key numbers (int16), ``velocity`` 1..127 (int16),
    ``program`` the GM program the note was written for (int16).
    """

    start: np.ndarray
    end: np.ndarray
    pitch: np.ndarray
    velocity: np.ndarray
    program: np.ndarray

    def __len__(self) -> int:
        return int(self.start.shape[0])

    def select(self, keep: np.ndarray) -> "Notes":
        """The notes where boolean ``keep [N]`` is true, in the same order."""
        return Notes(start=self.start[keep], end=self.end[keep], pitch=self.pitch[keep],
                     velocity=self.velocity[keep], program=self.program[keep])

    def shifted(self, seconds: float) -> "Notes":
        """The same notes ``seconds`` later (earlier for a negative shift)."""
        return dataclasses.replace(self, start=self.start + seconds, end=self.end + seconds)

    @property
    def duration(self) -> float:
        """Seconds from time zero to the last note-off (0 for no notes)."""
        return float(self.end.max()) if len(self) else 0.0
