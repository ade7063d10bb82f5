"""A static timbre: one point of the learned timbre space (an instrument, a mix, or
raw coordinates), and parsing its spec.

    piano                      one instrument (aliases work: piano -> grand_piano)
    piano:0.3,organ:0.7        a convex mix; weights are normalised to sum to 1,
                               an entry without ``:weight`` counts as weight 1,
                               a name given twice adds its weights up
    xy:0.5,-1.2                raw coordinates in the embedding space, exactly
                               ``embedding_dim`` numbers (any dimension, despite the name)

Names resolve against the instruments stored in the checkpoint. Raw coordinates use the
``xy:`` prefix rather than a leading ``@`` because ``@`` marks time in morph paths
(:mod:`neuralsynth.timbre.path`), which reuse :func:`parse_point` with other separators.

A :class:`Timbre` is one static point; :meth:`Timbre.trajectory` expresses it as a
per-frame ``[T, D]`` sequence, the form the model accepts for time-varying timbre, which
is also what a :class:`~neuralsynth.timbre.path.TimbrePath` produces.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

from neuralsynth.errors import NeuralsynthError, TimbreError, did_you_mean

if TYPE_CHECKING:  # torch is only needed when an embedding is computed
    import torch

#: Prefix of a raw-coordinates spec.
COORDS_PREFIX = "xy:"
#: Marks a keyframe time; a spec containing it is a morph path.
MORPH_TIME_MARK = "@"

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
        """True: the timbre does not change over time (a morph path returns False)."""
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
        """The timbre vector ``[W]`` the model takes, on the model's device.

        ``model`` is a :class:`~neuralsynth.model.mel2mel.Mel2Mel` (anything with ``embed`` and
        ``instrument_embeddings``; ``point`` when it has one). A mix is ``model.embed``
        of its weights, the convex combination of the learned instrument rows; W is the
        space's D unless instruments have their own FiLM offsets (then D + N: the point,
        then the weights).
        """
        import torch

        table = model.instrument_embeddings()
        if self.coordinates is not None:
            if len(self.coordinates) != table.shape[-1]:
                raise TimbreError(f"timbre '{self.spec}' has {len(self.coordinates)} "
                                  f"coordinates but the model's timbre space has "
                                  f"{table.shape[-1]} dimensions")
            coords = torch.tensor(self.coordinates, dtype=table.dtype, device=table.device)
            return model.point(coords) if hasattr(model, "point") else coords
        if len(self.weights) != table.shape[0]:
            raise TimbreError(f"timbre '{self.spec}' was parsed for {len(self.weights)} "
                              f"instruments but the model has {table.shape[0]}")
        weights = torch.tensor(self.weights, dtype=table.dtype, device=table.device)
        return model.embed(weights)

    def trajectory(self, model, n_frames: int, first_frame: int = 0) -> "torch.Tensor":
        """The timbre vector for every frame, ``[n_frames, W]`` (constant for a static timbre;
        ``first_frame`` is accepted for the same signature as a morph's)."""
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
    from neuralsynth.midi.instruments import resolve_instrument

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


#: How errors name each separator a spec can use.
_SEPARATOR_NAMES = {",": "commas", "+": "'+' signs", ";": "semicolons"}


def _parse_coordinates(spec: str, body: str, embedding_dim: int, *,
                       sep: str = ",") -> tuple[float, ...]:
    """``embedding_dim`` numbers separated by ``sep`` (``;`` inside a morph keyframe)."""
    texts = [t.strip() for t in body.split(sep)]
    if texts == [""]:
        texts = []
    if any(t == "" for t in texts):
        raise TimbreError(f"timbre '{spec}': empty coordinate between {_SEPARATOR_NAMES[sep]}")
    coords = tuple(_parse_number(t, f"coordinate '{t}'", spec) for t in texts)
    if len(coords) != embedding_dim:
        raise TimbreError(f"timbre '{spec}': raw coordinates need exactly {embedding_dim} "
                          f"number{'s' if embedding_dim != 1 else ''} (the model's timbre "
                          f"space has {embedding_dim} dimensions), got {len(coords)}")
    return coords


def _parse_weights(spec: str, body: str, instruments: list[str], *, sep: str = ",",
                   hint: str = SYNTAX_HELP) -> tuple[float, ...]:
    """Normalised weights ``[n_instruments]`` of a mix ``name[:w]<sep>name[:w]...``."""
    totals = dict.fromkeys(instruments, 0.0)
    for entry in body.split(sep):
        entry = entry.strip()
        if not entry:
            raise TimbreError(f"timbre '{spec}': empty entry between "
                              f"{_SEPARATOR_NAMES[sep]}; give {hint}")
        name, colon, weight_text = entry.partition(":")
        name = name.strip()
        if not name:
            raise TimbreError(f"timbre '{spec}': entry '{entry}' has a weight but no "
                              f"instrument name")
        weight_text = weight_text.strip()
        weight = (_parse_number(weight_text, f"weight '{weight_text}' for '{name}'", spec)
                  if colon else 1.0)
        if weight < 0:
            raise TimbreError(f"timbre '{spec}': weight of '{name}' is negative ({weight:g}); "
                              f"weights must be >= 0")
        totals[_resolve(name, instruments, spec)] += weight
    total = sum(totals.values())
    if total <= 0:
        raise TimbreError(f"timbre '{spec}': all weights are zero; at least one must be > 0")
    return tuple(totals[name] / total for name in instruments)


def parse_point(spec: str, body: str, instruments: list[str], embedding_dim: int, *,
                mix_sep: str = ",", coord_sep: str = ",", hint: str = SYNTAX_HELP) -> Timbre:
    """One static point: ``body`` is a name, a mix or ``xy:`` coordinates.

    ``spec`` is the whole user spec, quoted in errors; ``body`` is the part parsed here
    (the same text for a static spec, one keyframe's timbre inside a morph, where ``,``
    already separates keyframes so mixes use ``+`` and coordinates ``;``).
    """
    body = body.strip()
    if body.lower().startswith(COORDS_PREFIX):
        coords = _parse_coordinates(spec, body[len(COORDS_PREFIX):], embedding_dim,
                                    sep=coord_sep)
        return Timbre(spec=body, instruments=tuple(instruments), coordinates=coords)
    weights = _parse_weights(spec, body, instruments, sep=mix_sep, hint=hint)
    return Timbre(spec=body, instruments=tuple(instruments), weights=weights)
