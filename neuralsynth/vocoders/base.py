"""Vocoder: linear-magnitude mel spectrogram (and, for some, the notes) → waveform."""

from __future__ import annotations

import abc
import dataclasses
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from neuralsynth.components.registry import Registry

if TYPE_CHECKING:                  # listing the vocoders imports no more than this module
    from neuralsynth.vocoders.score import Score


class Vocoder(abc.ABC):
    """Turns a mel spectrogram into audio.

    ``synthesize(mel)``: ``mel`` float32 ``[T, n_mels]`` of linear (not log) magnitudes
    in the convention of :mod:`neuralsynth.audio` → float32 waveform ``[T * hop_length]``
    at ``sample_rate``, roughly within [-1, 1].
    """

    @dataclasses.dataclass
    class Config:
        pass

    #: The trainer that ``neuralsynth train`` uses for a ``train.task: vocoder`` recipe
    #: naming this vocoder, as ``"package.module:ClassName"`` of a
    #: :class:`~neuralsynth.plugin.TrainerBase` subclass; None: nothing to train. A
    #: string, not the class, so rendering never imports training code.
    trainer: ClassVar[str | None] = None

    #: True for a vocoder that reads the notes: ``vocode`` then passes them to
    #: ``synthesize(mel, score=...)`` (a :class:`~neuralsynth.vocoders.score.Score`, or
    #: None when the caller has no notes). False: ``synthesize(mel)`` is called as is.
    uses_score: ClassVar[bool] = False

    #: True when two overlapping windows of a long piece give the same waveform where
    #: they overlap (phases fixed by position, as ``harmonic``'s partials are): ``render``
    #: then joins windows with an amplitude cross-fade. False (the safe default, for
    #: vocoders whose phase depends on where they start, as Griffin-Lim's does): an
    #: equal-power cross-fade, which keeps the level of two unrelated signals.
    coherent_windows: ClassVar[bool] = False

    #: Set by ``render`` when the user sees output: slow vocoders may then show a
    #: progress bar on stderr (fast ones ignore it).
    progress: bool = False

    def __init__(self, config, *, n_mels: int = 80, sample_rate: int = 16000,
                 hop_length: int = 128):
        self.config = config
        self.n_mels = n_mels
        self.sample_rate = sample_rate
        self.hop_length = hop_length

    @abc.abstractmethod
    def synthesize(self, mel: np.ndarray) -> np.ndarray:
        """Waveform ``[T * hop_length]`` for mel ``[T, n_mels]``."""

    def vocode(self, mel: np.ndarray, score: Score | None = None) -> np.ndarray:
        """What callers use: ``synthesize`` with the notes if this vocoder reads them.

        ``score`` describes the notes behind ``mel`` (same frame grid); vocoders with
        ``uses_score = False`` never see it, so plugins written before scores existed
        keep working unchanged.
        """
        if score is not None and score.n_frames != np.shape(mel)[0]:
            raise ValueError(f"score has {score.n_frames} frames but the mel has "
                             f"{np.shape(mel)[0]}")
        if self.uses_score:
            return self.synthesize(mel, score=score)
        return self.synthesize(mel)


def require_standard_features(vocoder: Vocoder) -> None:
    """ValueError unless ``vocoder`` was built for the features of :mod:`neuralsynth.audio`
    (80 mels, 16 kHz, hop 128): for vocoders whose tables and STFTs assume them."""
    from neuralsynth.audio.constants import HOP_LENGTH, N_MELS, SAMPLE_RATE

    got = (vocoder.n_mels, vocoder.sample_rate, vocoder.hop_length)
    if got != (N_MELS, SAMPLE_RATE, HOP_LENGTH):
        raise ValueError(f"{type(vocoder).__name__} supports the neuralsynth.audio features "
                         f"only ({N_MELS} mels, {SAMPLE_RATE} Hz, hop {HOP_LENGTH}), got "
                         f"{got[0]}, {got[1]}, {got[2]}")


VOCODERS = Registry("vocoder", base=Vocoder, group="neuralsynth.vocoders")
