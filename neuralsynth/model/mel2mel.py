"""Mel2Mel: piano roll + timbre embedding → log-mel spectrogram.

    x [B, T, in_dim] ─ sequence.project_in ─ FiLM(pre) ─ sequence.run ─ FiLM(post)
                     ─ sequence.project_out ─► log mel [B, T, n_mels]

The three parts come from the component registries; :meth:`Mel2Mel.from_spec` builds
them from a recipe's ``model`` section and injects the sizes that depend on each other
(the encoder's width, the sequence's channel counts, the number of instruments), so a
recipe never states a derived size.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import nn

from neuralsynth.components.registry import Registry
from neuralsynth.errors import RecipeError
from neuralsynth.model.conditioners.base import CONDITIONERS, Conditioner
from neuralsynth.model.encoders.base import ENCODERS, Encoder
from neuralsynth.model.sequences.base import SEQUENCES, Sequence

# Paper model; a missing section in a model spec means this component with its defaults.
DEFAULT_SPECS: dict[str, dict[str, Any]] = {
    "encoder": {"name": "pianoroll"},
    "conditioner": {"name": "film"},
    "sequence": {"name": "bilstm"},
}
_REGISTRIES: dict[str, Registry] = {
    "encoder": ENCODERS,
    "conditioner": CONDITIONERS,
    "sequence": SEQUENCES,
}


def _qualify(kind: str, problem: str) -> str:
    """Prefix a component's problem with its place in the recipe (``model.<kind>...``)."""
    if problem.startswith((f"{kind}.", f"{kind}:")):
        return f"model.{problem}"
    return f"model.{kind}: {problem}"


class Mel2Mel(nn.Module):
    """Timbre-conditioned note-to-mel model (Kim et al., ICASSP 2019).

    - ``forward(x [B, T, in_dim], t [B, W] or [B, T, W])`` → natural-log mel ``[B, T, n_mels]``
    - ``predict_mel(x, t)`` → linear mel ``[B, T, n_mels]`` (``exp`` of the above)
    - ``embed(weights [..., n_instruments])`` → timbre vector ``[..., W]``
    - ``point(coordinates [..., D])`` → timbre vector ``[..., W]``
    - ``instrument_timbres()`` → ``[n_instruments, W]``
    - ``instrument_embeddings()`` → ``[n_instruments, D]``

    ``encoder`` turns notes into ``x`` (numpy, outside autograd); ``conditioner`` and
    ``sequence`` are the trainable submodules.
    """

    def __init__(self, encoder: Encoder, conditioner: Conditioner, sequence: Sequence, *,
                 n_instruments: int, n_mels: int = 80,
                 spec: dict[str, dict[str, Any]] | None = None):
        super().__init__()
        self.encoder = encoder
        self.conditioner = conditioner
        self.sequence = sequence
        self.n_instruments = int(n_instruments)
        self.n_mels = int(n_mels)
        # The resolved spec (every Config field filled in), for checkpoints and reports.
        self.spec = spec if spec is not None else {}

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_spec(cls, model_section: dict[str, Any] | None, *, n_instruments: int,
                  n_mels: int = 80) -> Mel2Mel:
        """Build from ``{"encoder": {...}, "conditioner": {...}, "sequence": {...}}``.

        Each entry is a registry spec ``{"name": ..., **params}``; a missing entry uses
        :data:`DEFAULT_SPECS`. All problems in all three specs are raised together as
        one :class:`RecipeError`.
        """
        section = dict(model_section or {})
        problems: list[str] = []
        unknown = sorted(set(section) - set(_REGISTRIES))
        for key in unknown:
            problems.append(f"model.{key}: unknown model part; allowed: "
                            f"{', '.join(_REGISTRIES)}")
        parsed: dict[str, tuple[type, Any, str]] = {}
        for kind, registry in _REGISTRIES.items():
            spec = section.get(kind, DEFAULT_SPECS[kind])
            try:
                comp_cls, config = registry.parse(spec)
            except RecipeError as exc:
                problems.extend(_qualify(kind, p) for p in exc.problems)
                continue
            parsed[kind] = (comp_cls, config, spec["name"])
        if problems:
            raise RecipeError(problems)

        def make(kind: str, **derived: Any) -> Any:
            comp_cls, config, _ = parsed[kind]
            try:
                return comp_cls(config, **derived)
            except RecipeError as exc:   # a component's own cross-field checks
                raise RecipeError([_qualify(kind, p) for p in exc.problems]) from None

        encoder = make("encoder")
        sequence = make("sequence", in_dim=int(encoder.output_dim), out_dim=int(n_mels))
        conditioner = make("conditioner", n_instruments=int(n_instruments),
                           channels={"pre": sequence.pre_channels,
                                     "post": sequence.post_channels})
        resolved = {kind: {"name": name, **dataclasses.asdict(config)}
                    for kind, (_, config, name) in parsed.items()}
        return cls(encoder, conditioner, sequence, n_instruments=n_instruments,
                   n_mels=n_mels, spec=resolved)

    # -- shapes -------------------------------------------------------------------------
    @property
    def in_dim(self) -> int:
        """Input feature width (the encoder's ``output_dim``)."""
        return int(self.sequence.in_dim)

    @property
    def embedding_dim(self) -> int:
        """Dimension D of the timbre space."""
        return int(self.conditioner.embedding_dim)

    # -- timbre -------------------------------------------------------------------------
    def instrument_embeddings(self) -> torch.Tensor:
        """Learned timbre of each training instrument, ``[n_instruments, D]``."""
        return self.conditioner.instrument_embeddings()

    def instrument_timbres(self) -> torch.Tensor:
        """Each instrument's timbre vector ``[n_instruments, W]``: ``embed`` of its one-hot
        weights (its row of the table, and its own FiLM offsets where it has them)."""
        table = self.instrument_embeddings()
        return self.embed(torch.eye(self.n_instruments, dtype=table.dtype,
                                    device=table.device))

    @property
    def timbre_width(self) -> int:
        """Width W of the timbre vector ``forward`` takes: D, or more where the
        conditioner carries more than the point (FiLM's per-instrument offsets)."""
        return int(self.conditioner.timbre_width)

    def point(self, coordinates: torch.Tensor) -> torch.Tensor:
        """Raw coordinates ``[..., D]`` of the space → timbre vector ``[..., W]``."""
        return self.conditioner.point(coordinates)

    def embed(self, weights: torch.Tensor) -> torch.Tensor:
        """Mixing weights ``[..., n_instruments]`` → timbre vector ``[..., W]`` (the
        weighted sum of rows, and what else the conditioner carries)."""
        if weights.shape[-1] != self.n_instruments:
            raise ValueError(f"expected {self.n_instruments} mixing weights in the last "
                             f"dimension, got shape {tuple(weights.shape)}")
        return self.conditioner.embed(weights)

    # -- prediction ---------------------------------------------------------------------
    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Log mel ``[B, T, n_mels]`` for features ``x [B, T, in_dim]`` and timbre ``t``.

        ``t`` is ``[B, D]`` (constant timbre) or ``[B, T, D]`` (a per-frame morph).
        """
        h = self.sequence.project_in(x)
        h = self.conditioner("pre", h, t)
        h = self.sequence.run(h)
        h = self.conditioner("post", h, t)
        return self.sequence.project_out(h)

    def predict_mel(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Linear-magnitude mel ``[B, T, n_mels]``: ``exp(forward(x, t))``."""
        return torch.exp(self.forward(x, t))

    # -- provenance ---------------------------------------------------------------------
    def providers(self) -> dict[str, dict[str, list[str]]]:
        """``{kind: {name: [distribution, version]}}`` of the components in this model."""
        out: dict[str, dict[str, list[str]]] = {}
        for kind, registry in _REGISTRIES.items():
            name = self.spec.get(kind, {}).get("name")
            if name is None:
                continue
            try:
                dist, version = registry.provider(name)
            except KeyError:             # built directly, not through a registry
                dist, version = "unknown", "?"
            out[kind] = {name: [dist, version]}
        return out
