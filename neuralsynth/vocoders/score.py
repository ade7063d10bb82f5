"""The notes behind a mel spectrogram, on its frame grid: what a score-informed vocoder reads.

A speech vocoder only ever sees the mel. neuralsynth also knows the notes that made the
piano roll, so ``render`` and ``eval`` hand them to vocoders that declare
``uses_score = True`` (:class:`~neuralsynth.vocoders.base.Vocoder`).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from neuralsynth.audio.constants import HOP_LENGTH, SAMPLE_RATE
from neuralsynth.midi.notes import Notes


@dataclasses.dataclass(frozen=True)
class Score:
    """Notes on the frame grid of a mel ``[n_frames, n_mels]``.

    ``notes`` are the ones the encoder turned into the piano roll, after the sustain-pedal
    rule (:func:`~neuralsynth.midi.read.load_notes`), in seconds from the start of the
    mel: frame ``k`` is centred on sample ``k * hop_length``, time
    ``k * hop_length / sample_rate``. ``origin`` is the frame of the whole piece that
    frame 0 is (0 for a whole piece; an excerpt's first frame): a vocoder that renders a
    long piece in windows uses it to keep anything seeded by position (such as the
    phases of partials) the same in every window, so overlapping windows cross-fade
    without cancelling.
    """

    notes: Notes
    n_frames: int
    hop_length: int = HOP_LENGTH
    sample_rate: int = SAMPLE_RATE
    origin: int = 0

    @property
    def frame_rate(self) -> float:
        """Frames per second."""
        return self.sample_rate / self.hop_length

    def excerpt(self, first_frame: int, n_frames: int) -> "Score":
        """The score of frames ``[first_frame, first_frame + n_frames)``, times shifted so
        that ``first_frame`` is time 0; notes that start after it are dropped. Notes that
        ended before it are kept (with negative times): how long a release rings is the
        vocoder's business, and it drops the notes that are silent by then."""
        t0 = first_frame / self.frame_rate
        t1 = (first_frame + n_frames) / self.frame_rate
        n = self.notes
        keep = n.start < t1
        shifted = n.select(keep).shifted(-t0)
        return Score(shifted, int(n_frames), self.hop_length, self.sample_rate,
                     self.origin + int(first_frame))


def empty_notes() -> Notes:
    """A note list with no notes."""
    z = np.zeros(0)
    i = np.zeros(0, np.int16)
    return Notes(start=z, end=z.copy(), pitch=i, velocity=i.copy(), program=i.copy())


__all__ = ["Score", "empty_notes"]
