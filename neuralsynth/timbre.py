"""Timbre specs: which point of the learned timbre space to render with.

A spec names one instrument, a mix of instruments, or raw coordinates:

    piano                      one instrument (aliases work: piano -> grand_piano)
    piano:0.3,organ:0.7        a convex mix; weights are normalised to sum to 1,
                               an entry without ``:weight`` counts as weight 1,
                               a name given twice adds its weights up
    xy:0.5,-1.2                raw coordinates in the embedding space, exactly
                               ``embedding_dim`` numbers (any dimension, despite the name)

Names resolve against the instruments stored in the checkpoint. Raw coordinates use the
``xy:`` prefix rather than a leading ``@`` because ``@`` is reserved for time in morph
paths (``piano@0s,organ@8s``), which a later version adds on top of :class:`Timbre`.

A :class:`Timbre` is one static point; :meth:`Timbre.trajectory` already expresses it as a
per-frame ``[T, D]`` sequence (the form the model accepts for time-varying timbre), so a
morph is a Timbre whose trajectory is not constant.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

from .config import did_you_mean
from .errors import NeuralsynthError, TimbreError

if TYPE_CHECKING:  # torch is only needed when an embedding is computed
    import torch

#: Prefix of a raw-coordinates spec.
COORDS_PREFIX = "xy:"

SYNTAX_HELP = ("an instrument name like 'piano', a mix like 'piano:0.3,organ:0.7', "
               "or raw coordinates like 'xy:0.5,-1.2'")


@dataclasses.dataclass(frozen=True)
class Timbre:
    """A parsed timbre spec: a fixed point in the model's timbre space.

    Exactly one of ``weights`` and ``coordinates`` is set:

    - ``weights``: ``[n_instruments]`` non-negative mixing weights summing to 1, in the
      order of ``instruments`` (the checkpoint's instrument list);
    - ``coordinates``: ``[D]`` raw embedding coordinates.

    ``embedding(model)`` → ``torch.Tensor [D]``;
    ``trajectory(model, n_frames)`` → ``torch.Tensor [n_frames, D]``.
    """

    spec: str
    instruments: tuple[str, ...]
    weights: tuple[float, ...] | None = None
    coordinates: tuple[float, ...] | None = None

    def __post_init__(self):
        if (self.weights is None) == (self.coordinates is None):
            raise ValueError("Timbre needs exactly one of weights and coordinates")

    @property
    def is_static(self) -> bool:
        """True: the timbre does not change over time (morphs will return False)."""
        return True

    def mix(self) -> dict[str, float]:
        """Non-zero weights by instrument name (empty for raw coordinates)."""
        if self.weights is None:
            return {}
        return {name: w for name, w in zip(self.instruments, self.weights) if w > 0}

    def describe(self) -> str:
        """Short human-readable form, e.g. ``grand_piano 30% + church_organ 70%``."""
        if self.coordinates is not None:
            return "coordinates (" + ", ".join(f"{c:g}" for c in self.coordinates) + ")"
        parts = self.mix()
        if len(parts) == 1:
            return next(iter(parts))
        return " + ".join(f"{name} {w:.0%}" for name, w in parts.items())

    def embedding(self, model) -> "torch.Tensor":
        """The embedding ``[D]`` on the model's device.

        ``model`` is a :class:`~neuralsynth.model.Mel2Mel` (anything with ``embed`` and
        ``instrument_embeddings``). A mix is ``weights @ table``, the convex combination
        of the learned instrument rows.
        """
        import torch

        table = model.instrument_embeddings()
        if self.coordinates is not None:
            if len(self.coordinates) != table.shape[-1]:
                raise TimbreError(f"timbre '{self.spec}' has {len(self.coordinates)} "
                                  f"coordinates but the model's timbre space has "
                                  f"{table.shape[-1]} dimensions")
            return torch.tensor(self.coordinates, dtype=table.dtype, device=table.device)
        if len(self.weights) != table.shape[0]:
            raise TimbreError(f"timbre '{self.spec}' was parsed for {len(self.weights)} "
                              f"instruments but the model has {table.shape[0]}")
        weights = torch.tensor(self.weights, dtype=table.dtype, device=table.device)
        return model.embed(weights)

    def trajectory(self, model, n_frames: int) -> "torch.Tensor":
        """The embedding for every frame, ``[n_frames, D]`` (constant for a static timbre)."""
        return self.embedding(model).unsqueeze(0).expand(n_frames, -1)


def _parse_number(text: str, what: str, spec: str) -> float:
    """``float(text)``; ``what`` names the number in errors, e.g. ``weight 'x' for 'piano'``."""
    try:
        value = float(text)
    except ValueError:
        raise TimbreError(f"timbre '{spec}': {what} is not a number") from None
    if not math.isfinite(value):
        raise TimbreError(f"timbre '{spec}': {what} is not a finite number")
    return value


def _resolve(name: str, instruments: list[str], spec: str) -> str:
    """Canonical instrument name among ``instruments`` (aliases allowed)."""
    from .instruments import resolve_instrument

    known = ", ".join(instruments)
    try:
        canonical = resolve_instrument(name, known=instruments)
    except NeuralsynthError as exc:
        # Keep the resolver's did-you-mean but always say which spec and what is known.
        reason = str(exc).splitlines()[0]
        if "available" not in reason and "known" not in reason:
            reason += f"; this model knows: {known}"
        raise TimbreError(f"timbre '{spec}': {reason}") from None
    if canonical not in instruments:
        # A valid General MIDI name that this checkpoint was not trained on.
        raise TimbreError(f"timbre '{spec}': instrument '{name}' is not in this model"
                          f"{did_you_mean(canonical, instruments)}; this model knows: {known}")
    return canonical


def _parse_coordinates(spec: str, body: str, embedding_dim: int) -> tuple[float, ...]:
    texts = [t.strip() for t in body.split(",")]
    if texts == [""]:
        texts = []
    if any(t == "" for t in texts):
        raise TimbreError(f"timbre '{spec}': empty coordinate between commas")
    coords = tuple(_parse_number(t, f"coordinate '{t}'", spec) for t in texts)
    if len(coords) != embedding_dim:
        raise TimbreError(f"timbre '{spec}': raw coordinates need exactly {embedding_dim} "
                          f"number{'s' if embedding_dim != 1 else ''} (the model's timbre "
                          f"space has {embedding_dim} dimensions), got {len(coords)}")
    return coords


def parse_timbre(spec: str, instruments: list[str], embedding_dim: int) -> Timbre:
    """Parse ``spec`` for a model with ``instruments`` and a ``embedding_dim``-D space.

    Raises :class:`~neuralsynth.errors.TimbreError` (one line) for an empty spec, unknown
    names (with a did-you-mean), weights that are negative, all zero or not numbers, and
    raw coordinates of the wrong count.
    """
    text = (spec or "").strip()
    if not text:
        raise TimbreError(f"empty timbre spec; give {SYNTAX_HELP}")
    if text.lower().startswith(COORDS_PREFIX):
        coords = _parse_coordinates(text, text[len(COORDS_PREFIX):], embedding_dim)
        return Timbre(spec=text, instruments=tuple(instruments), coordinates=coords)
    if text.startswith("@"):
        raise TimbreError(f"timbre '{text}': raw coordinates are written "
                          f"'{COORDS_PREFIX}{text[1:]}'")

    totals = dict.fromkeys(instruments, 0.0)
    for entry in text.split(","):
        entry = entry.strip()
        if not entry:
            raise TimbreError(f"timbre '{text}': empty entry between commas; give {SYNTAX_HELP}")
        name, sep, weight_text = entry.partition(":")
        name = name.strip()
        if not name:
            raise TimbreError(f"timbre '{text}': entry '{entry}' has a weight but no "
                              f"instrument name")
        weight_text = weight_text.strip()
        weight = (_parse_number(weight_text, f"weight '{weight_text}' for '{name}'", text)
                  if sep else 1.0)
        if weight < 0:
            raise TimbreError(f"timbre '{text}': weight of '{name}' is negative ({weight:g}); "
                              f"weights must be >= 0")
        totals[_resolve(name, instruments, text)] += weight
    total = sum(totals.values())
    if total <= 0:
        raise TimbreError(f"timbre '{text}': all weights are zero; at least one must be > 0")
    weights = tuple(totals[name] / total for name in instruments)
    return Timbre(spec=text, instruments=tuple(instruments), weights=weights)
