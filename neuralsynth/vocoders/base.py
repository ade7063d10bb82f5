"""Vocoder: linear-magnitude mel spectrogram → waveform."""

from __future__ import annotations

import abc
import dataclasses
from typing import ClassVar

import numpy as np

from neuralsynth.components.registry import Registry


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


VOCODERS = Registry("vocoder", base=Vocoder, group="neuralsynth.vocoders")
