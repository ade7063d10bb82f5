"""Conditioner: timbre → embedding, and modulation of hidden features by it."""

from __future__ import annotations

import abc
import dataclasses

import torch
from torch import nn

from neuralsynth.components.registry import Registry


class Conditioner(nn.Module, abc.ABC):
    """Holds the instrument embedding table and applies it at named sites.

    Sites are ``"pre"`` (after the input projection, before the sequence model) and
    ``"post"`` (after the sequence model). ``channels`` gives the feature width at each.

    - ``embed(weights)``: ``[..., n_instruments]`` mixing weights → ``[..., embedding_dim]``
    - ``forward(site, h, t)``: ``h [B, T, C]``, ``t [B, D]`` or ``[B, T, D]`` → ``[B, T, C]``
    """

    @dataclasses.dataclass
    class Config:
        pass

    def __init__(self, config, *, n_instruments: int, channels: dict[str, int]):
        super().__init__()
        self.config = config
        self.n_instruments = n_instruments
        self.channels = dict(channels)

    @property
    @abc.abstractmethod
    def embedding_dim(self) -> int:
        """Dimension D of the timbre space."""

    @property
    def timbre_width(self) -> int:
        """Width W of the timbre vector ``forward`` takes (``embed``'s output); D unless
        a conditioner carries more than the point."""
        return self.embedding_dim

    def point(self, coordinates: torch.Tensor) -> torch.Tensor:
        """Raw coordinates ``[..., D]`` → timbre vector ``[..., W]``."""
        return coordinates

    @abc.abstractmethod
    def instrument_embeddings(self) -> torch.Tensor:
        """The learned table, ``[n_instruments, D]``."""

    def embed(self, weights: torch.Tensor) -> torch.Tensor:
        """Convex (or any linear) combination of instrument rows: ``[..., N]`` → ``[..., D]``."""
        return weights.to(self.instrument_embeddings().dtype) @ self.instrument_embeddings()

    @abc.abstractmethod
    def forward(self, site: str, h: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Modulate ``h [B, T, C]`` at ``site`` with timbre ``t``; identity where inactive."""


CONDITIONERS = Registry("conditioner", base=Conditioner, group="neuralsynth.conditioners")
