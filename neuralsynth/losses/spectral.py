"""The three spectral losses of the Mel2Mel paper, on linear-magnitude mel spectrograms.

With ``S`` the target and ``Ŝ`` the prediction (both ``[B, T, M]``, linear magnitude):

- ``abs_mse``:          E (S − Ŝ)²
- ``log_abs_mse``:      E (log S − log Ŝ)²
- ``tanh_log_abs_mse``: E (tanh(¼ log S) − tanh(¼ log Ŝ))²   (the paper's choice)

Logs are natural logs of magnitudes clipped below at ``MAG_FLOOR`` (1e-5, −100 dB).
The mean runs over mel bins and the frames a mask (``[B, T]``) keeps.
"""

from __future__ import annotations

import math

import torch

from neuralsynth.audio.constants import MAG_FLOOR
from neuralsynth.losses.base import Loss

_LOG_FLOOR = math.log(MAG_FLOOR)


def _check(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None) -> None:
    if pred.shape != target.shape or pred.dim() != 3:
        raise ValueError(f"prediction and target must both be [B, T, M], got "
                         f"{tuple(pred.shape)} and {tuple(target.shape)}")
    if mask is not None and tuple(mask.shape) != tuple(pred.shape[:2]):
        raise ValueError(f"mask must be [B, T] = {tuple(pred.shape[:2])}, got {tuple(mask.shape)}")


def masked_mean(err: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean of ``err [B, T, M]`` over the frames where ``mask [B, T]`` is true, and all bins.

    A mask that keeps nothing gives 0 (still attached to the graph) instead of NaN.
    """
    if mask is None:
        return err.mean()
    w = mask.to(err.dtype).unsqueeze(-1)                       # [B, T, 1]
    kept = w.sum() * err.shape[-1]
    return (err * w).sum() / kept.clamp_min(1.0)


def log_magnitude(x: torch.Tensor, *, straight_through: bool = False) -> torch.Tensor:
    """``log(max(x, MAG_FLOOR))``.

    With ``straight_through`` the value is the same but the gradient is that of
    ``log(x)`` even below the floor. A prediction that fell under the floor where the
    target is loud then still gets pushed up, instead of being stuck at zero gradient;
    where the target is at the floor too, the clipped values match and the loss is 0.
    """
    if not straight_through:
        return torch.log(x.clamp_min(MAG_FLOOR))
    raw = torch.log(x.clamp_min(torch.finfo(x.dtype).tiny))
    return raw + (raw.clamp_min(_LOG_FLOOR) - raw).detach()


class AbsMSE(Loss):
    """Mean squared error of linear magnitudes: ``pred, target [B, T, M]`` → scalar."""

    def forward(self, pred: torch.Tensor, target: torch.Tensor,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        _check(pred, target, mask)
        return masked_mean((target - pred) ** 2, mask)


class LogAbsMSE(Loss):
    """Mean squared error of natural-log magnitudes: ``[B, T, M]`` pair → scalar."""

    def forward(self, pred: torch.Tensor, target: torch.Tensor,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        _check(pred, target, mask)
        diff = log_magnitude(target) - log_magnitude(pred, straight_through=True)
        return masked_mean(diff ** 2, mask)


class TanhLogAbsMSE(Loss):
    """Squared error of ``tanh(log(S) / 4)``: ``[B, T, M]`` pair → scalar.

    The tanh compresses very loud and very quiet bins so neither dominates (paper's loss).
    """

    def forward(self, pred: torch.Tensor, target: torch.Tensor,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        _check(pred, target, mask)
        diff = (torch.tanh(0.25 * log_magnitude(target))
                - torch.tanh(0.25 * log_magnitude(pred, straight_through=True)))
        return masked_mean(diff ** 2, mask)
