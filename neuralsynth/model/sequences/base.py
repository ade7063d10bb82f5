"""Sequence: input projection → recurrent core → output projection."""

from __future__ import annotations

import abc
import dataclasses

import torch
from torch import nn

from neuralsynth.components.registry import Registry


class Sequence(nn.Module, abc.ABC):
    """The trainable trunk of Mel2Mel, split in three so FiLM can sit between parts.

    - ``project_in``:  ``[B, T, in_dim]``        → ``[B, T, pre_channels]``
    - ``run``:         ``[B, T, pre_channels]``  → ``[B, T, post_channels]``
    - ``project_out``: ``[B, T, post_channels]`` → ``[B, T, out_dim]``
    """

    @dataclasses.dataclass
    class Config:
        pass

    def __init__(self, config, *, in_dim: int, out_dim: int):
        super().__init__()
        self.config = config
        self.in_dim = in_dim
        self.out_dim = out_dim

    @property
    @abc.abstractmethod
    def pre_channels(self) -> int:
        """Width after ``project_in``."""

    @property
    @abc.abstractmethod
    def post_channels(self) -> int:
        """Width after ``run``."""

    @abc.abstractmethod
    def project_in(self, x: torch.Tensor) -> torch.Tensor: ...

    @abc.abstractmethod
    def run(self, h: torch.Tensor) -> torch.Tensor: ...

    @abc.abstractmethod
    def project_out(self, h: torch.Tensor) -> torch.Tensor: ...


SEQUENCES = Registry("sequence", base=Sequence, group="neuralsynth.sequences")
