"""What the explorer accepts, and the one error type its handlers raise.

Every limit exists so that one request cannot take the machine: uploads are bounded in
bytes before they are read, pieces in seconds before they are rendered, and renders run
in a bounded pool (:mod:`.pool`).
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Limits:
    """Bounds on requests. Sizes in bytes, lengths in seconds."""

    max_midi_bytes: int = 1_000_000          # a MIDI file of an hour is ~200 kB
    max_audio_bytes: int = 40_000_000        # 4 min of 44.1 kHz 16-bit stereo WAV
    max_piece_seconds: float = 600.0         # longest piece rendered
    max_recording_seconds: float = 180.0     # longest recording fitted
    workers: int = 1                         # renders and fits at once
    queue: int = 8                           # more waiting than this: 503

    @property
    def max_request_bytes(self) -> int:
        """Largest request body (a recording, its MIDI and the form fields)."""
        return self.max_audio_bytes + self.max_midi_bytes + 64_000


class ApiError(Exception):
    """An error answered as JSON ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = int(status)
        self.message = " ".join(str(message).split())


__all__ = ["ApiError", "Limits"]
