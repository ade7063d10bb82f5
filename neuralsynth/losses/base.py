"""Loss: distance between predicted and target linear-scale mel spectrograms."""

from __future__ import annotations

import abc
import dataclasses

import torch
from torch import nn

from neuralsynth.components.registry import Registry


class Loss(nn.Module, abc.ABC):
    """``forward(pred, target, mask=None)``: both ``[B, T, M]`` linear magnitudes → scalar.

    ``mask`` (``[B, T]``, optional) excludes padded frames from the mean.
    """

    @dataclasses.dataclass
    class Config:
        pass

    def __init__(self, config):
        super().__init__()
        self.config = config

    @abc.abstractmethod
    def forward(self, pred: torch.Tensor, target: torch.Tensor,
                mask: torch.Tensor | None = None) -> torch.Tensor: ...


LOSSES = Registry("loss", base=Loss, group="neuralsynth.losses")
