"""Distances between mel spectrograms, on log scales that compare spectral shape.

``tanh_log_mse`` (the default) is the paper's training loss: a log scale compares the
ratios between partials, which is what timbre is, and the tanh squeezes everything below
about -70 dB near -1, so inaudible release tails and the -100 dB floor do not decide a
verdict. ``log_l1`` and ``log_mse`` are there to compare.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

import torch

from neuralsynth.audio.constants import MAG_FLOOR
from neuralsynth.errors import UsageError

_LOG_FLOOR = math.log(MAG_FLOOR)


@dataclasses.dataclass(frozen=True)
class Metric:
    """A distance between mel spectrograms: ``mean |f(log A) - f(log B)| ** power`` over
    frames and bins, with logs of magnitudes clipped at ``MAG_FLOOR``."""

    name: str
    transform: Callable[[torch.Tensor], torch.Tensor]
    power: int
    help: str


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("log_l1", lambda lg: lg, 1,
           "mean absolute difference of natural-log mels (nats; x8.69 for dB)"),
    Metric("log_mse", lambda lg: lg, 2, "mean squared difference of natural-log mels"),
    Metric("tanh_log_mse", lambda lg: torch.tanh(0.25 * lg), 2,
           "the paper's training loss: squared difference of tanh(log mel / 4)"),
)}
METRIC = "tanh_log_mse"


def metric_named(name: str) -> Metric:
    if name not in METRICS:
        raise UsageError(f"unknown metric '{name}'; choose from {', '.join(METRICS)}")
    return METRICS[name]


def compress(log_mel: torch.Tensor, metric: Metric) -> torch.Tensor:
    """The metric's transform of a natural-log mel, the log clipped at the floor first."""
    return metric.transform(log_mel.clamp_min(_LOG_FLOOR))


def spectral_distance(a: torch.Tensor, b: torch.Tensor, metric: str = METRIC) -> float:
    """``metric`` between two *linear* mel spectrograms ``[T, M]`` of the same shape."""
    if a.shape != b.shape:
        raise ValueError(f"mels must have the same shape, got {tuple(a.shape)} and "
                         f"{tuple(b.shape)}")
    m = metric_named(metric)
    ca = compress(torch.log(a.clamp_min(MAG_FLOOR)), m)
    cb = compress(torch.log(b.clamp_min(MAG_FLOOR)), m)
    return float((ca - cb).abs().pow(m.power).mean(dtype=torch.float64))


def pairwise(rows: torch.Tensor, cols: torch.Tensor, power: int) -> torch.Tensor:
    """Mean ``|difference| ** power`` of every row with every column: ``[n, T, M]``,
    ``[k, T, M]`` → ``[n, k]`` (float64), one pair at a time so memory stays at one
    ``[T, M]`` difference."""
    out = torch.empty(rows.shape[0], cols.shape[0], dtype=torch.float64)
    for i in range(rows.shape[0]):
        for j in range(cols.shape[0]):
            out[i, j] = (rows[i] - cols[j]).abs().pow(power).mean(dtype=torch.float64)
    return out
