"""Morph paths: a timbre that moves through the embedding space during one render.

A morph spec is a comma-separated list of keyframes ``TIMBRE@TIME``:

    piano@0s,organ@8s                          piano at 0 s gliding to organ at 8 s
    organ@3s                                   one keyframe: organ throughout
    piano@0,piano:0.5+organ:0.5@1:30,xy:1;-1@2:00.5

``TIMBRE`` is any static spec of :mod:`neuralsynth.timbre`, except that ``,`` already
separates keyframes, so a mix joins its entries with ``+`` and raw coordinates are
separated by ``;``. ``TIME`` is seconds (``8s``, ``8``, ``2.5s``), milliseconds
(``500ms``) or minutes and seconds (``1:30``, ``1:30.5``); times must strictly increase.

The timbre at time ``τ`` is the linear interpolation, in the embedding space, between the
embeddings of the two keyframes around ``τ``; before the first keyframe it is the first
keyframe's embedding and after the last one the last keyframe's. Interpolating
embeddings (not mixing weights) is what makes ``xy:`` keyframes and mixes of any kind
combine, and for two mixes it gives the same point as interpolating their weights,
because an embedding is linear in the weights.
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING

from neuralsynth.errors import TimbreError
from neuralsynth.timbre.point import COORDS_PREFIX, MORPH_TIME_MARK, Timbre, parse_point

if TYPE_CHECKING:  # torch is only needed when a trajectory is computed
    import torch

TIME_HELP = "seconds like '8s' or '8', milliseconds like '500ms', or minutes like '1:30'"
KEYFRAME_HELP = ("a keyframe timbre like 'piano', 'piano:0.3+organ:0.7' or 'xy:0.5;-1.2' "
                 "(inside a morph, mixes use '+' and coordinates use ';')")
EXAMPLE = "'piano@0s,organ@8s'"

_SECONDS = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(ms|s)?", re.IGNORECASE)
_MINUTES = re.compile(r"(\d+):(\d\d(?:\.\d*)?)")


@dataclasses.dataclass(frozen=True)
class Keyframe:
    """A static :class:`~neuralsynth.timbre.point.Timbre` reached at ``seconds``."""

    seconds: float
    timbre: Timbre


@dataclasses.dataclass(frozen=True)
class TimbrePath:
    """A parsed morph spec: keyframes at strictly increasing times.

    ``trajectory(model, n_frames)`` → ``torch.Tensor [n_frames, D]`` on the model's
    device and dtype, frame ``k`` taken at ``k * hop_length / sample_rate`` seconds of the
    model's encoder (the time of piano-roll frame ``k``).
    ``keyframe_embeddings(model)`` → ``[n_keyframes, D]``.
    """

    spec: str
    keyframes: tuple[Keyframe, ...]

    def __post_init__(self):
        if not self.keyframes:
            raise ValueError("TimbrePath needs at least one keyframe")
        times = [k.seconds for k in self.keyframes]
        if any(b <= a for a, b in zip(times, times[1:])):
            raise ValueError(f"keyframe times must strictly increase, got {times}")

    @property
    def is_static(self) -> bool:
        """False: the renderer asks for a per-frame :meth:`trajectory`."""
        return False

    @property
    def times(self) -> tuple[float, ...]:
        """Keyframe times in seconds."""
        return tuple(k.seconds for k in self.keyframes)

    def describe(self) -> str:
        """E.g. ``grand_piano@0s -> church_organ@8s``; mixes are shown in parentheses."""
        parts = []
        for key in self.keyframes:
            coords = key.timbre.coordinates
            if coords is not None:
                text = COORDS_PREFIX + ";".join(f"{c:g}" for c in coords)
            else:
                text = key.timbre.describe()
                if " " in text:
                    text = f"({text})"
            parts.append(f"{text}@{key.seconds:g}s")
        return " -> ".join(parts)

    def keyframe_embeddings(self, model) -> "torch.Tensor":
        """Embedding of every keyframe, ``[n_keyframes, D]`` (see :meth:`Timbre.embedding`)."""
        import torch

        return torch.stack([key.timbre.embedding(model) for key in self.keyframes])

    def trajectory(self, model, n_frames: int, first_frame: int = 0) -> "torch.Tensor":
        """The embedding for frames ``first_frame .. first_frame + n_frames - 1``,
        ``[n_frames, D]``, linear between keyframes."""
        import torch

        encoder = model.encoder
        frame_seconds = encoder.hop_length / encoder.sample_rate
        at = (torch.arange(int(n_frames), dtype=torch.float64) + int(first_frame)) \
            * frame_seconds
        return interpolate(torch.tensor(self.times, dtype=torch.float64),
                           self.keyframe_embeddings(model), at)


def interpolate(times: "torch.Tensor", values: "torch.Tensor",
                at: "torch.Tensor") -> "torch.Tensor":
    """Piecewise-linear ``values [K, D]`` at ``times [K]`` (increasing), read at ``at [N]``.

    Returns ``[N, D]`` with the dtype and device of ``values``; constant outside
    ``[times[0], times[-1]]``. A point on a keyframe gets that keyframe's value exactly.
    """
    import torch

    if values.shape[0] == 1:
        return values.expand(at.shape[0], -1)
    at = at.to(times.dtype).clamp(float(times[0]), float(times[-1]))
    # Segment i spans times[i]..times[i+1]; the last keyframe belongs to the last segment.
    seg = (torch.searchsorted(times, at, right=True) - 1).clamp(0, times.shape[0] - 2)
    start, end = times[seg], times[seg + 1]
    alpha = ((at - start) / (end - start)).to(values.dtype).to(values.device).unsqueeze(1)
    seg = seg.to(values.device)
    # (1-α)·a + α·b rather than a + α·(b-a): exact at both ends of a segment.
    return (1 - alpha) * values[seg] + alpha * values[seg + 1]


def parse_time(text: str, spec: str, keyframe: str) -> float:
    """Seconds of a keyframe time (``8s``, ``8``, ``500ms``, ``1:30``, ``1:30.5``)."""
    body = text.strip()
    match = _SECONDS.fullmatch(body)
    if match:
        value = float(match.group(1))
        return value / 1000.0 if (match.group(2) or "").lower() == "ms" else value
    match = _MINUTES.fullmatch(body)
    if match:
        seconds = float(match.group(2))
        if seconds >= 60:
            raise TimbreError(f"timbre '{spec}': time '{body}' in keyframe '{keyframe}' has "
                              f"{match.group(2)} seconds; m:ss needs seconds below 60")
        return 60.0 * int(match.group(1)) + seconds
    if body.startswith("-"):
        raise TimbreError(f"timbre '{spec}': time '{body}' in keyframe '{keyframe}' is "
                          f"negative; keyframe times are >= 0")
    raise TimbreError(f"timbre '{spec}': bad time '{body}' in keyframe '{keyframe}'; "
                      f"write {TIME_HELP}")


def _coordinates_hint(text: str) -> str:
    """`` (raw coordinates are written 'xy:...')`` when ``@x,y`` looks like coordinates."""
    rest = text[len(MORPH_TIME_MARK):]
    try:
        [float(part) for part in rest.split(",")]
    except ValueError:
        return ""
    return f"; raw coordinates are written '{COORDS_PREFIX}{rest}'"


def parse_timbre_path(spec: str, instruments: list[str], embedding_dim: int) -> TimbrePath:
    """Parse a morph spec (one containing ``@``) for a model with ``instruments``.

    Raises :class:`~neuralsynth.errors.TimbreError` (one line, quoting ``spec``) for an
    empty keyframe, a keyframe without a time or a timbre, a bad or negative time,
    times that do not strictly increase, and every error of a static spec.
    """
    text = spec.strip()
    keyframes: list[Keyframe] = []
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            raise TimbreError(f"timbre '{text}': empty keyframe between commas; a morph is "
                              f"keyframes TIMBRE@TIME separated by commas, like {EXAMPLE}")
        marks = entry.count(MORPH_TIME_MARK)
        if marks == 0:
            raise TimbreError(f"timbre '{text}': keyframe '{entry}' has no time; write each "
                              f"keyframe as TIMBRE@TIME, like {EXAMPLE} (inside a morph, "
                              f"mixes use '+' and coordinates use ';')")
        if marks > 1:
            raise TimbreError(f"timbre '{text}': keyframe '{entry}' has more than one '@'; "
                              f"write each keyframe as TIMBRE@TIME, like {EXAMPLE}")
        body, _, time_text = entry.partition(MORPH_TIME_MARK)
        if not body.strip():
            raise TimbreError(f"timbre '{text}': keyframe '{entry}' has no timbre before "
                              f"'@'; write each keyframe as TIMBRE@TIME, like {EXAMPLE}"
                              f"{_coordinates_hint(text) if text.startswith('@') else ''}")
        if not time_text.strip():
            raise TimbreError(f"timbre '{text}': keyframe '{entry}' has no time after '@'; "
                              f"write {TIME_HELP}")
        seconds = parse_time(time_text, text, entry)
        if keyframes and seconds <= keyframes[-1].seconds:
            before = keyframes[-1]
            raise TimbreError(f"timbre '{text}': keyframe times must strictly increase, but "
                              f"'{entry}' ({seconds:g} s) follows a keyframe at "
                              f"{before.seconds:g} s")
        point = parse_point(text, body, instruments, embedding_dim, mix_sep="+",
                            coord_sep=";", hint=KEYFRAME_HELP)
        keyframes.append(Keyframe(seconds=seconds, timbre=point))
    return TimbrePath(spec=text, keyframes=tuple(keyframes))
