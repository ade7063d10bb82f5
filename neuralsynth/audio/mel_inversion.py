"""Mel → linear magnitude: the non-negative least-squares inverse of the mel filterbank.

Vocoders that work on linear STFT magnitudes (Griffin-Lim, the noise-excitation plugin)
start from :func:`mel_to_linear`. The filterbank and STFT conventions are those of
:mod:`neuralsynth.audio`; this module only inverts them.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import torch

from neuralsynth.audio.constants import F_MAX, F_MIN, N_FFT, N_MELS, SAMPLE_RATE
from neuralsynth.audio.spectral import hz_to_mel, mel_filterbank, mel_to_hz

# mel_to_linear inverts the filterbank F [80, 513] frame by frame through the dual of
#
#     min_{x >= 0}  ||F x - m||² + λ ||x||²       (x: 513 linear bins, m: 80 mel bands)
#
# whose minimiser is x = max(Fᵀw, 0) for the w that minimises the convex, piecewise
# quadratic  φ(w) = ½ ||max(Fᵀw, 0)||² + ½ λ ||w||² - m·w.  With the set of bins where
# Fᵀw > 0 held fixed, φ is quadratic with Hessian H = F D Fᵀ + λI (D: that set), so a
# Newton step is simply w ← H⁻¹ m. H is tridiagonal because every linear bin lies under
# at most two adjacent triangles, and the bins where Fᵀw > 0 form one contiguous run in
# each gap between two filter centres, so a whole step costs O(80) per frame rather than
# O(80 · 513) (see _MelSegments). Newton stops for a frame when its active bins repeat,
# which makes the answer exact for that λ; most frames need 3 to 6 steps.

#: λ relative to the mean of diag(F Fᵀ). When the mel is realisable (the mel of some
#: non-negative spectrum, e.g. of real audio) the result reproduces it to ~1e-5 of its
#: level; when it is not (a model's prediction) the result is the least-squares fit. A
#: smaller λ fits realisable mels more tightly but makes the Newton systems worse
#: conditioned: at 1e-6 unrealisable mels need ~25 steps instead of ~15.
_NNLS_RIDGE = 1e-5
#: Sufficient-decrease constant of the backtracking line search, and the most halvings of
#: a step before a frame is declared converged (only reached through rounding).
_ARMIJO = 1e-4
_MAX_HALVINGS = 40
#: Finished frames are dropped from the working set once they are this share of it:
#: gathering the rest costs a pass over the arrays, so it is done in batches.
_COMPACT_BELOW = 0.6


@dataclasses.dataclass(frozen=True)
class _MelSegments:
    """The mel filterbank cut into its 81 segments between consecutive filter centres.

    Segment ``s`` (0..80) runs from the centre of filter ``s - 1`` to the centre of filter
    ``s`` (segment 0 starts at f_min, segment 80 ends at f_max; the filters -1 and 80 are
    virtual zeros). Inside it only those two filters are non-zero: a bin at relative
    position ``t`` in [0, 1) has weight ``a = h_lo (1 - t)`` in filter ``s - 1`` and
    ``b = h_hi t`` in filter ``s``, where ``h`` are the triangles' peak heights. Hence
    ``(Fᵀw)(t) = (1 - t) h_lo w[s-1] + t h_hi w[s]`` is linear in ``t``: it is positive on
    the bins below or above one crossing point, and the contribution of those bins to
    ``F D Fᵀ`` is a difference of prefix sums of ``a²``, ``ab``, ``b²`` over the segment.

    Per-segment columns ``[81, 1]`` (float64, broadcast against ``[81, n_frames]``) and
    flattened prefix tables ``[81 * (max_bins + 1)]``; per-bin ``[513]`` gather indices and
    weights (float32) rebuild ``x = max(Fᵀw, 0)`` at the end.
    """

    h_lo: torch.Tensor          # peak height of the filter ending in the segment
    h_hi: torch.Tensor          # peak height of the filter starting in it
    first: torch.Tensor         # segment start in bins, minus the index of its first bin
    span: torch.Tensor          # segment width in bins
    count: torch.Tensor         # number of bins in the segment
    base: torch.Tensor          # offset of the segment's row in the prefix tables
    cum_aa: torch.Tensor
    cum_ab: torch.Tensor
    cum_bb: torch.Tensor
    ridge: float                # λ
    full_d: torch.Tensor        # [80] diagonal of F Fᵀ + λI (every bin active)
    full_e: torch.Tensor        # [79] its off-diagonal
    bin_segment: torch.Tensor   # [513] segment of each bin (index into w padded to 82)
    bin_a: torch.Tensor         # [513] weight of each bin in its segment's lower filter
    bin_b: torch.Tensor         # [513] ... and in the upper one
    stride: float               # row length of the prefix tables (max bins + 1)


@functools.lru_cache(maxsize=4)
def _mel_segments(device: str) -> _MelSegments:
    fb = mel_filterbank(dtype=torch.float64).numpy()
    n_bins = fb.shape[1]
    bin_hz = SAMPLE_RATE / N_FFT
    freqs = np.arange(n_bins) * bin_hz
    # The same edges as audio.mel_filterbank: filter j rises over [e_j, e_j+1], falls over
    # [e_j+1, e_j+2] and peaks at 2 / (e_j+2 - e_j) (area normalisation).
    edges = mel_to_hz(np.linspace(hz_to_mel(F_MIN), hz_to_mel(F_MAX), N_MELS + 2))
    peaks = 2.0 / (edges[2:] - edges[:-2])
    n_seg = N_MELS + 1
    h_lo = np.concatenate([[0.0], peaks])
    h_hi = np.concatenate([peaks, [0.0]])
    seg = np.searchsorted(edges[1:-1], freqs, side="right")      # centre[s-1] <= f < centre[s]
    width = np.diff(edges)
    t = np.clip((freqs - edges[seg]) / width[seg], 0.0, 1.0)
    inside = (freqs >= edges[0]) & (freqs <= edges[-1])
    a = np.where(inside, h_lo[seg] * (1.0 - t), 0.0)
    b = np.where(inside, h_hi[seg] * t, 0.0)
    # The whole method rests on this decomposition: check it reproduces the filterbank.
    rebuilt = np.zeros((n_seg + 1, n_bins))
    np.add.at(rebuilt, (seg, np.arange(n_bins)), a)
    np.add.at(rebuilt, (seg + 1, np.arange(n_bins)), b)
    if np.abs(rebuilt[1:-1] - fb).max() > 1e-9 * fb.max() or rebuilt[[0, -1]].any():
        raise RuntimeError("mel filterbank is not made of adjacent triangles; "
                           "mel_to_linear cannot invert it")
    count = np.bincount(seg, minlength=n_seg)
    first_bin = np.concatenate([[0], np.cumsum(count)[:-1]])
    stride = int(count.max()) + 1
    cum = np.zeros((3, n_seg, stride))
    for s in range(n_seg):
        k = slice(first_bin[s], first_bin[s] + count[s])
        for table, prod in zip(cum, (a[k] * a[k], a[k] * b[k], b[k] * b[k])):
            table[s, 1:count[s] + 1] = np.cumsum(prod)
            table[s, count[s] + 1:] = table[s, count[s]]
    ridge = _NNLS_RIDGE * float((fb * fb).sum(axis=1).mean())
    full = cum[:, :, -1]                                         # whole-segment sums

    def col(v: np.ndarray) -> torch.Tensor:
        return torch.tensor(np.asarray(v, dtype=np.float64)[:, None], device=device)

    def vec(v: np.ndarray, dtype=torch.float64) -> torch.Tensor:
        return torch.tensor(np.ascontiguousarray(v), dtype=dtype, device=device)

    return _MelSegments(
        h_lo=col(h_lo), h_hi=col(h_hi), first=col(edges[:-1] / bin_hz - first_bin),
        span=col(width / bin_hz), count=col(count), base=col(np.arange(n_seg) * stride),
        cum_aa=vec(cum[0].ravel()), cum_ab=vec(cum[1].ravel()), cum_bb=vec(cum[2].ravel()),
        ridge=ridge, full_d=vec(full[2, :-1] + full[0, 1:] + ridge), full_e=vec(full[1, 1:-1]),
        bin_segment=vec(seg, torch.long), bin_a=vec(a, torch.float32),
        bin_b=vec(b, torch.float32), stride=float(stride))


class _DualPoint:
    """φ and its Newton system at dual points ``w [80, n]``: ``key [81, n]`` identifies
    the active bins, ``d [80, n]`` / ``e [79, n]`` are H's diagonals, ``hw = H w``,
    ``phi [n]`` and ``scale [n]`` (magnitude of φ's terms, for rounding tolerances)."""

    __slots__ = ("key", "d", "e", "hw", "phi", "scale")

    def take(self, idx: torch.Tensor) -> _DualPoint:
        out = _DualPoint()
        for name in self.__slots__:
            setattr(out, name, getattr(self, name)[..., idx])
        return out

    def put(self, idx: torch.Tensor, src: _DualPoint) -> None:
        for name in self.__slots__:
            getattr(self, name)[..., idx] = getattr(src, name)


def _dual_point(w: torch.Tensor, m: torch.Tensor, seg: _MelSegments) -> _DualPoint:
    n = w.shape[1]
    wp = torch.nn.functional.pad(w, (0, 0, 1, 1))      # virtual zero filters: [82, n]
    start = wp[:-1] * seg.h_lo                         # Fᵀw at t = 0 of each segment
    end = wp[1:] * seg.h_hi                            # ... and at t = 1
    rising = (end > start).to(w.dtype)
    # Zero crossing t* = start / (start - end). 0/0 (both zero) → 0, which leaves no bin
    # active; equal non-zero ends give ±inf, mapped outside [0, 1].
    cross = torch.nan_to_num_(start.div_(start - end), nan=0.0, posinf=2.0, neginf=-1.0)
    # Bins of the segment below the crossing: t_k < t*  ⇔  k < segment start + t* · span.
    below = torch.minimum(cross.mul_(seg.span).add_(seg.first).ceil_().clamp_(min=0.0),
                          seg.count)
    lo = rising * below                                # rising: active above the crossing
    hi = (seg.count - below).mul_(rising).add_(below)  # falling: active below it
    p = _DualPoint()
    p.key = hi * seg.stride + lo
    i_lo = lo.add_(seg.base).long().view(-1)
    i_hi = hi.add_(seg.base).long().view(-1)

    def active_sum(table: torch.Tensor) -> torch.Tensor:
        return (table.index_select(0, i_hi) - table.index_select(0, i_lo)).view(-1, n)

    # Filter j meets its rising edge in segment j and its falling edge in segment j + 1.
    p.d = active_sum(seg.cum_bb)[:-1].add_(active_sum(seg.cum_aa)[1:]).add_(seg.ridge)
    p.e = active_sum(seg.cum_ab)[1:-1]
    hw = p.d * w
    hw[:-1].addcmul_(p.e, w[1:])
    hw[1:].addcmul_(p.e, w[:-1])
    p.hw = hw
    quad = (hw * w).sum(0)                             # ||max(Fᵀw, 0)||² + λ ||w||²
    lin = (m * w).sum(0)
    p.phi = 0.5 * quad - lin
    p.scale = 0.5 * quad.abs() + lin.abs()
    return p


def _solve_tridiagonal(d: torch.Tensor, e: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """Solve one symmetric tridiagonal system per column: diagonal ``d [k, n]``,
    off-diagonal ``e [k-1, n]``, right-hand side ``rhs [k, n]``. Thomas' algorithm, which
    needs no pivoting because every H here is positive definite; the loop runs over the
    80 rows, each step vectorised over all frames."""
    k = d.shape[0]
    ratio = torch.empty_like(e)
    y = torch.empty_like(rhs)
    pivot = d[0].clone()
    tmp = torch.empty_like(pivot)
    torch.div(rhs[0], pivot, out=y[0])
    for i in range(1, k):
        torch.div(e[i - 1], pivot, out=ratio[i - 1])
        torch.sub(d[i], torch.mul(e[i - 1], ratio[i - 1], out=tmp), out=pivot)
        torch.sub(rhs[i], torch.mul(e[i - 1], y[i - 1], out=tmp), out=y[i]).div_(pivot)
    for i in range(k - 2, -1, -1):
        y[i].addcmul_(ratio[i], y[i + 1], value=-1.0)
    return y


def _backtrack(w: torch.Tensor, m: torch.Tensor, step: torch.Tensor, slope: torch.Tensor,
               tol: torch.Tensor, cur: _DualPoint, w_new: torch.Tensor, new: _DualPoint,
               bad: torch.Tensor, seg: _MelSegments) -> torch.Tensor:
    """Halve the step of the frames where the full Newton step failed the Armijo test
    (it overshoots when a filter has almost no active bins, so its curvature is tiny).
    Writes the accepted points into ``w_new`` / ``new``; returns the frames for which no
    step was accepted (left at ``w``)."""
    pending = bad.nonzero().squeeze(1)
    alpha = torch.ones(pending.numel(), dtype=w.dtype, device=w.device)
    for _ in range(_MAX_HALVINGS):
        if pending.numel() == 0:
            break
        alpha = alpha * 0.5
        trial = w[:, pending] + step[:, pending] * alpha
        point = _dual_point(trial, m[:, pending], seg)
        ok = point.phi <= cur.phi[pending] + _ARMIJO * alpha * slope[pending] + tol[pending]
        accepted = pending[ok]
        w_new[:, accepted] = trial[:, ok]
        new.put(accepted, point.take(ok.nonzero().squeeze(1)))
        pending, alpha = pending[~ok], alpha[~ok]
    if pending.numel():
        w_new[:, pending] = w[:, pending]
        new.put(pending, cur.take(pending))
    return pending


def _nnls_dual(m: torch.Tensor, n_iter: int) -> torch.Tensor:
    """Dual solution ``w [80, n]`` for mel frames ``m [80, n]`` (float64, >= 0)."""
    seg = _mel_segments(str(m.device))
    n = m.shape[1]
    # Every bin active: w = (F Fᵀ + λI)⁻¹ m, i.e. the (ridge) pseudo-inverse.
    w = _solve_tridiagonal(seg.full_d[:, None].expand(-1, n), seg.full_e[:, None].expand(-1, n), m)
    if n_iter <= 0 or n == 0:
        return w
    result, frames = w, None          # frames: columns of result still iterated (None: all)
    cur = _dual_point(w, m, seg)
    for _ in range(n_iter):
        w_new = _solve_tridiagonal(cur.d, cur.e, m)
        step = w_new - w
        slope = ((cur.hw - m) * step).sum(0)          # φ's gradient is H w - m
        new = _dual_point(w_new, m, seg)
        tol = 1e-12 * cur.scale
        bad = new.phi > cur.phi + _ARMIJO * slope + tol
        done = ~bad & (new.key == cur.key).all(0)    # same active bins: exact minimiser
        if bool(bad.any()):
            done[_backtrack(w, m, step, slope, tol, cur, w_new, new, bad, seg)] = True
        w, cur = w_new, new
        keep = (~done).nonzero().squeeze(1)
        if keep.numel() == 0:
            break
        if keep.numel() < _COMPACT_BELOW * w.shape[1]:
            if frames is None:
                result, frames = w, keep
            else:
                result[:, frames] = w
                frames = frames[keep]
            w, m, cur = w[:, keep], m[:, keep], cur.take(keep)
    if frames is None:
        return w
    result[:, frames] = w
    return result


def mel_to_linear(mel: np.ndarray | torch.Tensor, n_iter: int = 30) -> torch.Tensor:
    """Non-negative least-squares inverse of the filterbank: ``[..., T, 80]`` → ``[..., T, 513]``.

    Finds, per frame, ``x >= 0`` minimising ``||x Fᵀ - mel||² + λ||x||²`` (``F`` =
    :func:`mel_filterbank`, ``λ`` = 1e-5 of the filters' mean energy). The problem has
    513 unknowns for 80 equations; the ridge term picks, among the spectra that fit, the
    one of least energy (a piecewise-linear interpolation of the bands). It is solved
    exactly by semismooth Newton in the 80-dimensional dual (see the notes above
    ``_MelSegments``): ``n_iter`` is the most Newton steps per frame; frames stop once
    converged, usually after 3 to 6, while a mel that no spectrum produces exactly (a
    model's prediction may be one) can take 15. ``n_iter=0`` gives the ridge
    pseudo-inverse clipped at zero.

    For the mel of real audio, the mel of the result is within ~1e-5 of the input's
    maximum; otherwise the result is the least-squares fit (the ridge term adds well under
    2% to its residual). Float32 on the input's device, no gradient. This is the magnitude
    Griffin-Lim targets: a minute of music (7501 frames) takes 0.06 to 0.1 s on one core of
    a small 2-core machine.
    """
    m = mel if isinstance(mel, torch.Tensor) else torch.from_numpy(np.asarray(mel))
    if m.shape[-1] != N_MELS:
        raise ValueError(f"expected {N_MELS} mel bins in the last dimension, got {tuple(m.shape)}")
    lead = m.shape[:-1]
    with torch.no_grad():
        frames = m.detach().reshape(-1, N_MELS).T.to(torch.float64).clamp_min(0.0).contiguous()
        w = _nnls_dual(frames, int(n_iter))
        seg = _mel_segments(str(frames.device))
        # x = max(Fᵀw, 0): each bin mixes the two filters of its segment.
        wp = torch.nn.functional.pad(w.T.to(torch.float32), (1, 1))      # [n, 82]
        x = wp.index_select(1, seg.bin_segment).mul_(seg.bin_a)
        x.addcmul_(wp.index_select(1, seg.bin_segment + 1), seg.bin_b).clamp_min_(0.0)
    return x.reshape(*lead, x.shape[-1])
