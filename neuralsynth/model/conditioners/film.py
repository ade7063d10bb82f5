"""FiLM timbre conditioning (Perez et al. 2018) as used by Mel2Mel.

The timbre embedding of instrument ``i`` is row ``i`` of a learned table; a mix of
instruments is the weighted sum of rows. At each active site the hidden features are
modulated feature-wise: ``out = gamma(t) * h + beta(t)`` with ``gamma`` and ``beta`` both
*linear* functions of ``t`` (the paper keeps the whole model linear outside the LSTM).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import torch
from torch import nn

from neuralsynth.components.params import ensure_valid, param
from neuralsynth.errors import did_you_mean
from neuralsynth.model.conditioners.base import Conditioner

SITES = ("pre", "post")


def mix_vector(weights: torch.Tensor, table: torch.Tensor, width: int) -> torch.Tensor:
    """Mixing weights ``[..., N]`` over ``table [N, D]`` → timbre vector ``[..., width]``:
    ``weights @ table``, then the weights themselves when ``width`` is D + N."""
    point = weights.to(table.dtype) @ table
    if width == table.shape[-1]:
        return point
    return torch.cat([point, weights.to(point.dtype)], dim=-1)


def point_vector(coordinates: torch.Tensor, width: int) -> torch.Tensor:
    """Raw coordinates ``[..., D]`` → timbre vector ``[..., width]``, zero weights after."""
    extra = width - coordinates.shape[-1]
    if extra == 0:
        return coordinates
    pad = coordinates.new_zeros(*coordinates.shape[:-1], extra)
    return torch.cat([coordinates, pad], dim=-1)


class FiLM(Conditioner):
    """Instrument embedding table plus linear FiLM layers at the ``pre``/``post`` sites.

    - ``instrument_embeddings()`` → ``[n_instruments, D]``
    - ``embed(weights [..., n_instruments])`` → ``[..., W]`` (linear in the weights)
    - ``point(coordinates [..., D])`` → ``[..., W]``
    - ``forward(site, h [B, T, C], t [B, W] or [B, T, W])`` → ``[B, T, C]``; a ``[B, W]``
      timbre is broadcast over time, a ``[B, T, W]`` one morphs frame by frame. Sites not
      listed in ``config.sites`` return ``h`` unchanged.

    W is D, or D + n_instruments with ``instrument_offsets``: then ``t`` carries the mixing
    weights after the point and ``gamma(t) = G t[:D] + g + t[D:] @ offsets`` (likewise
    ``beta``), still linear in the weights; a bare point ``[..., D]`` is also accepted.

    At initialisation every active site is the identity (``gamma = 1``, ``beta = 0``) so
    training starts from the unconditioned trunk and learns how timbre modulates it.
    """

    @dataclasses.dataclass
    class Config:
        embedding_dim: int = param(
            2, "dimension of the learned timbre space (paper: 2 for 10 instruments, "
               "10 for 100)")
        # Typed as a list of literals so `neuralsynth check` reports a bad site with its
        # line number before anything is built.
        sites: list[Literal["pre", "post"]] = param(
            ["pre", "post"], "where FiLM modulates features: 'pre' = after the input "
                             "convolution, 'post' = after the LSTM; [] disables timbre")

        instrument_offsets: bool = param(
            False, "give each instrument its own FiLM offsets (gamma, beta per site) beside "
                   "the shared linear maps; zero until trained, and set on a model by "
                   "`neuralsynth timbre fit --adapt film`, which fits the new "
                   "instrument's row only")

        def check(self) -> list[tuple[str, str]]:
            problems = []
            if not (isinstance(self.embedding_dim, int) and self.embedding_dim >= 1):
                problems.append(("embedding_dim", f"must be a positive integer, "
                                                  f"got {self.embedding_dim!r}"))
            sites = list(self.sites)
            for s in sites:
                if s not in SITES:
                    problems.append(("sites", f"unknown site {s!r}{did_you_mean(str(s), SITES)}; "
                                              f"allowed: {', '.join(SITES)}"))
            if len(set(sites)) != len(sites):
                problems.append(("sites", f"each site may be listed once, got {sites}"))
            return problems

    def __init__(self, config: Config, *, n_instruments: int, channels: dict[str, int]):
        super().__init__(config, n_instruments=n_instruments, channels=channels)
        ensure_valid("conditioner", config)
        sites = list(config.sites)
        if n_instruments < 1:
            raise ValueError(f"FiLM needs at least one instrument, got n_instruments={n_instruments}")
        missing = [s for s in sites if s not in self.channels]
        if missing:
            raise ValueError(f"FiLM sites {missing} have no channel count in {self.channels}")

        d = config.embedding_dim
        self.sites = tuple(s for s in SITES if s in sites)
        # Unit-variance rows: instruments start well apart, so the FiLM layers see
        # distinguishable inputs from the first step.
        self.embedding = nn.Parameter(torch.randn(n_instruments, d))
        self.gamma = nn.ModuleDict()
        self.beta = nn.ModuleDict()
        for s in self.sites:
            c = int(self.channels[s])
            g, b = nn.Linear(d, c), nn.Linear(d, c)
            # Zero weights: identity modulation for every timbre at step 0. The weight
            # gradients (dL/dgamma ⊗ t) differ per channel, so nothing stays tied.
            nn.init.zeros_(g.weight)
            nn.init.ones_(g.bias)
            nn.init.zeros_(b.weight)
            nn.init.zeros_(b.bias)
            self.gamma[s] = g
            self.beta[s] = b
        # Per-instrument offsets: row i is added to gamma/beta in proportion to the weight
        # of instrument i, so a mix stays the weighted sum of its instruments' modulations
        # and an instrument's row changes nothing for the others.
        self.offset_gamma = nn.ParameterDict()
        self.offset_beta = nn.ParameterDict()
        if config.instrument_offsets:
            for s in self.sites:
                c = int(self.channels[s])
                self.offset_gamma[s] = nn.Parameter(torch.zeros(n_instruments, c))
                self.offset_beta[s] = nn.Parameter(torch.zeros(n_instruments, c))

    @property
    def embedding_dim(self) -> int:
        return int(self.config.embedding_dim)

    @property
    def timbre_width(self) -> int:
        """Width W of the timbre vector ``forward`` takes: D, plus one weight per
        instrument when instruments have their own offsets."""
        return self.embedding_dim + (self.n_instruments if self.offset_gamma else 0)

    def instrument_embeddings(self) -> torch.Tensor:
        """The learned table ``[n_instruments, D]`` (row ``i`` = instrument ``i``)."""
        return self.embedding

    def embed(self, weights: torch.Tensor) -> torch.Tensor:
        """Mixing weights ``[..., N]`` → timbre vector ``[..., W]``: the point in the space,
        followed by the weights themselves when instruments have their own offsets."""
        return mix_vector(weights, self.instrument_embeddings(), self.timbre_width)

    def point(self, coordinates: torch.Tensor) -> torch.Tensor:
        """Raw coordinates ``[..., D]`` → timbre vector ``[..., W]`` (no instrument's
        own offsets: a point of the space is not any instrument)."""
        return point_vector(coordinates, self.timbre_width)

    def forward(self, site: str, h: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``h [B, T, C]`` modulated by ``t [B, D]`` / ``[B, T, D]`` → ``[B, T, C]``."""
        if site not in SITES:
            raise ValueError(f"unknown FiLM site {site!r}; expected one of {SITES}")
        if site not in self.gamma:
            return h
        if h.dim() != 3:
            raise ValueError(f"FiLM expects features [B, T, C], got shape {tuple(h.shape)}")
        d, w = self.embedding_dim, self.timbre_width
        widths = f"{d}" if w == d else f"{d} or {w}"
        if t.shape[-1] not in (d, w) or t.dim() not in (2, 3) or t.shape[0] != h.shape[0]:
            raise ValueError(f"timbre must be [B, W] or [B, T, W] with W={widths} and "
                             f"B={h.shape[0]}, got shape {tuple(t.shape)}")
        if t.dim() == 3 and t.shape[1] != h.shape[1]:
            raise ValueError(f"per-frame timbre has {t.shape[1]} frames, features have "
                             f"{h.shape[1]}")
        t = t.to(h.dtype)
        gamma = self.gamma[site](t[..., :d])
        beta = self.beta[site](t[..., :d])
        if t.shape[-1] == w and w > d:         # a D-wide t is a bare point: no offsets
            mix = t[..., d:]
            gamma = gamma + mix @ self.offset_gamma[site].to(h.dtype)
            beta = beta + mix @ self.offset_beta[site].to(h.dtype)
        if t.dim() == 2:                      # one timbre per sequence: broadcast over time
            gamma, beta = gamma.unsqueeze(1), beta.unsqueeze(1)
        return gamma * h + beta
