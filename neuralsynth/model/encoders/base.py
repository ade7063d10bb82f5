"""Encoder: notes → frame-rate feature sequence (the model's input)."""

from __future__ import annotations

import abc
import dataclasses

import numpy as np

from neuralsynth.components.registry import Registry
from neuralsynth.midi.notes import Notes


class Encoder(abc.ABC):
    """Turns a :class:`~neuralsynth.midi.notes.Notes` list into features.

    ``encode(notes, n_frames)`` returns float32 ``[n_frames, output_dim]``; frame ``i``
    covers time ``i * hop_length / sample_rate`` seconds.
    """

    @dataclasses.dataclass
    class Config:
        pass

    def __init__(self, config, *, sample_rate: int = 16000, hop_length: int = 128):
        self.config = config
        self.sample_rate = sample_rate
        self.hop_length = hop_length

    @property
    @abc.abstractmethod
    def output_dim(self) -> int:
        """Width of the feature vector per frame."""

    @abc.abstractmethod
    def encode(self, notes: Notes, n_frames: int) -> np.ndarray:
        """Features ``[n_frames, output_dim]`` (float32)."""

    def encode_window(self, notes: Notes, first_frame: int, n_frames: int) -> np.ndarray:
        """Features ``[n_frames, output_dim]`` of frames ``first_frame ..`` of the piece
        whose notes are ``notes`` (times from the start of the piece): what a render of
        a long piece asks for, one window at a time. The default shifts the notes and
        calls :meth:`encode`; encoders that round times to frames should override it to
        round in the piece's frames, so a window is exactly a slice of the whole."""
        t0 = first_frame * self.hop_length / self.sample_rate
        return self.encode(notes.shifted(-t0), n_frames)

    def frames_for(self, seconds: float) -> int:
        """Number of frames covering ``seconds`` of audio (centred STFT convention)."""
        return int(round(seconds * self.sample_rate / self.hop_length)) + 1


ENCODERS = Registry("encoder", base=Encoder, group="neuralsynth.encoders")
