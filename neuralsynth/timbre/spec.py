"""Timbre specs: which point or path of the timbre space a render uses.

A spec is a static point (:mod:`neuralsynth.timbre.point`: ``piano``,
``piano:0.3,organ:0.7``, ``xy:0.5,-1.2``) or, when it contains ``@``, a morph path
(:mod:`neuralsynth.timbre.path`: ``piano@0s,organ@8s``). This module only tells them
apart; each form is parsed where it is defined.
"""

from __future__ import annotations

from neuralsynth.errors import TimbreError
from neuralsynth.timbre.path import TimbrePath, parse_timbre_path
from neuralsynth.timbre.point import MORPH_TIME_MARK, SYNTAX_HELP, Timbre, parse_point


def parse_timbre(spec: str, instruments: list[str],
                 embedding_dim: int) -> "Timbre | TimbrePath":
    """Parse ``spec`` for a model with ``instruments`` and a ``embedding_dim``-D space.

    A spec containing ``@`` is a morph path (:func:`neuralsynth.timbre.path.parse_timbre_path`,
    returns a :class:`~neuralsynth.timbre.path.TimbrePath`); any other spec is one static
    :class:`Timbre`. Raises :class:`~neuralsynth.errors.TimbreError` (one line) for an
    empty spec, unknown names (with a did-you-mean), weights that are negative, all zero
    or not numbers, raw coordinates of the wrong count, and malformed morph keyframes.
    """
    text = (spec or "").strip()
    if not text:
        raise TimbreError(f"empty timbre spec; give {SYNTAX_HELP}")
    if MORPH_TIME_MARK in text:
        return parse_timbre_path(text, instruments, embedding_dim)
    return parse_point(text, text, instruments, embedding_dim)


__all__ = ["parse_timbre", "Timbre", "TimbrePath"]
