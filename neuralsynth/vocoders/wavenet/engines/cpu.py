"""The ``cpu`` WaveNet engine: one numba loop per group of streams, all layers fused.

Per sample and stream the network costs about 0.87 M multiply-adds (paper shape), all of
them matrix-vector products whose weights (3.5 MB in float32) are far larger than the
L1/L2 caches. Speed therefore comes from reading each weight row as few times as
possible:

- **fused layers**: one compiled loop runs every layer, the head and the draw for one
  time step before moving on; nothing returns to Python per sample;
- **batched streams**: each weight row is applied to every stream of the group while it
  sits in L1, and within a row four streams share each loaded (and widened) weight
  vector (``_dot4``), so B streams cost little more memory traffic than one;
- **fp16 storage** (``precision="fp16"``): weights are kept as half floats and widened
  in registers (F16C), halving the bytes streamed per step; arithmetic stays float32;
- **stacked matrices**: the two dilated-conv taps form one ``[G, 2R]`` matrix over
  ``[h[t-d]; h[t]]``; the skip 1×1s of all layers form one ``[S, L·H]`` matrix applied
  once per step to all gated activations (long dot products: the horizontal sum that
  ends each dot product costs as much as 64 multiply-adds, so few long rows beat many
  short ones);
- **ring buffers**: layer ``i`` keeps its last ``d_i`` inputs in a ring (one flat array
  per stream, ``sum(d)`` rows of ``R``), indexed by ``t mod d_i``;
- **conditioning ahead**: the per-layer conditioning of every sample arrives
  precomputed (one matrix product for the block, see the vocoder) in time-major layout
  ``[B, t, L, G]``, so each step reads one contiguous row per stream;
- **threads**: the streams are split into one group per thread; the loop releases the
  GIL (``nogil``), so plain Python threads run the groups in parallel.

tanh and the sigmoid use the vectorisable approximation of :mod:`.fast_math` (error
below 1e-6), which is what keeps the logits within 1e-4 of the reference.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

from neuralsynth.vocoders.wavenet.engines.base import Engine, StreamState
from neuralsynth.vocoders.wavenet.engines.fast_math import load32, sigmoid32, tanh32

PRECISIONS = ("fp32", "fp16")


def _stored(a: np.ndarray, precision: str) -> np.ndarray:
    """A weight matrix in the storage format: float32, or fp16 bits as uint16."""
    a = np.ascontiguousarray(a, dtype=np.float32)
    return a.astype(np.float16).view(np.uint16) if precision == "fp16" else a


# The helpers are inlined at numba's level: as separate functions LLVM did not inline
# them and the single-stream loop ran at half speed.
@njit(nogil=True, fastmath=True, cache=True, inline="always")
def _dot(w, x):
    """``sum(w[k] * x[k])``; ``w`` float32 or fp16 bits, ``x`` float32."""
    acc = np.float32(0.0)
    for k in range(x.shape[0]):
        acc += load32(w[k]) * x[k]
    return acc


@njit(nogil=True, fastmath=True, cache=True, inline="always")
def _dot4(w, x, b):
    """Dot products of ``w`` with streams ``b … b+3`` of ``x``: each weight is loaded
    (and widened from fp16) once for four streams."""
    a0 = np.float32(0.0)
    a1 = np.float32(0.0)
    a2 = np.float32(0.0)
    a3 = np.float32(0.0)
    x0, x1, x2, x3 = x[b], x[b + 1], x[b + 2], x[b + 3]
    for k in range(x0.shape[0]):
        wk = load32(w[k])
        a0 += wk * x0[k]
        a1 += wk * x1[k]
        a2 += wk * x2[k]
        a3 += wk * x3[k]
    return a0, a1, a2, a3


@njit(nogil=True, fastmath=True, cache=True, inline="always")
def _matvec(w, x, out, bias):
    """``out[b, m] = w[m] · x[b] + bias[m]`` for every stream ``b``; ``w [M, K]``."""
    B = x.shape[0]
    B4 = B - B % 4
    for m in range(w.shape[0]):
        row = w[m]
        for b in range(0, B4, 4):
            a0, a1, a2, a3 = _dot4(row, x, b)
            out[b, m] = a0 + bias[m]
            out[b + 1, m] = a1 + bias[m]
            out[b + 2, m] = a2 + bias[m]
            out[b + 3, m] = a3 + bias[m]
        for b in range(B4, B):
            out[b, m] = _dot(row, x[b]) + bias[m]


@njit(nogil=True, fastmath=True, cache=True)
def _generate(emb, wd, bd, wres, bres, wskip, bskip, h1, b1, h2, b2, dil, offs,
              cond, u, ring, prev, t0, samples, logits, want_logits):
    """Draw ``T`` samples for ``B`` streams (one group, one thread).

    ``cond [B, T, L, G]``, ``u [B, T]`` float64, ``ring [B, sum(d), R]`` and
    ``prev [B]`` are updated in place; ``samples [B, T]``, ``logits [B, T, C]`` out.
    """
    B, T = u.shape
    L, G = bd.shape
    H = G // 2
    C, R = emb.shape
    S = bskip.shape[0]
    x = np.empty((B, 2 * R), np.float32)      # [h[t - d]; h[t]] per stream
    z = np.empty((B, G), np.float32)
    acts = np.empty((B, L * H), np.float32)   # gated outputs of every layer
    a = np.empty((B, H), np.float32)
    res = np.empty((B, R), np.float32)
    skip = np.empty((B, S), np.float32)
    y = np.empty((B, C), np.float32)
    out = np.empty((B, C), np.float32)
    p = np.empty(C, np.float64)
    for k in range(T):
        t = t0 + k
        for b in range(B):
            c = prev[b]
            for r in range(R):
                x[b, R + r] = emb[c, r]
        for i in range(L):
            slot = offs[i] + t % dil[i]
            for b in range(B):
                for r in range(R):
                    x[b, r] = ring[b, slot, r]
                    ring[b, slot, r] = x[b, R + r]
            _matvec(wd[i], x, z, bd[i])
            for b in range(B):
                for m in range(G):
                    z[b, m] += cond[b, k, i, m]
            for b in range(B):
                for j in range(H):
                    g = tanh32(z[b, j]) * sigmoid32(z[b, H + j])
                    a[b, j] = g
                    acts[b, i * H + j] = g
            if i < L - 1:
                # ``a`` rather than a slice of ``acts``: numba only vectorises the dot
                # products over arrays it knows to be contiguous.
                _matvec(wres[i], a, res, bres[i])
                for b in range(B):
                    for r in range(R):
                        x[b, R + r] += res[b, r]
        # All skip 1x1s at once: one long dot product per skip channel instead of one
        # short one per layer (a horizontal sum per row is the costly part of a dot).
        _matvec(wskip, acts, skip, bskip)
        for b in range(B):
            for s in range(S):
                skip[b, s] = max(skip[b, s], np.float32(0.0))
        _matvec(h1, skip, y, b1)
        for b in range(B):
            for c in range(C):
                y[b, c] = max(y[b, c], np.float32(0.0))
        _matvec(h2, y, out, b2)
        for b in range(B):
            # The shared sampling rule, in float64 (see kernels/base.py).
            top = -np.inf
            for c in range(C):
                top = max(top, np.float64(out[b, c]))
            total = 0.0
            for c in range(C):
                p[c] = math.exp(np.float64(out[b, c]) - top)
                total += p[c]
            drawn = C - 1
            cdf = 0.0
            for c in range(C):
                cdf += p[c] / total
                if cdf > u[b, k]:
                    drawn = c
                    break
            samples[b, k] = drawn
            prev[b] = drawn
            if want_logits:
                for c in range(C):
                    logits[b, k, c] = out[b, c]


class CpuEngine(Engine):
    """Numba engine (see the module docstring); shapes as :class:`~.base.Engine`.

    ``precision``: ``"fp32"`` or ``"fp16"`` weight storage. ``threads``: how many
    groups the streams are split into and run in parallel (default: all cores, never
    more than the streams).
    """

    name = "cpu"

    def __init__(self, weights: dict[str, np.ndarray], *, precision: str = "fp32",
                 threads: int | None = None):
        super().__init__(weights)
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        self.precision = precision
        self.threads = max(1, int(threads or os.cpu_count() or 1))
        L, R, S = self.n_layers, self.residual_channels, self.skip_channels
        H = self.gate_channels // 2
        wd = np.concatenate([weights["dilated_prev"], weights["dilated_cur"]], axis=2)
        # [S, L * H]: the skip 1x1s of all layers side by side, over all activations.
        wskip = np.ascontiguousarray(weights["skip_w"].transpose(1, 0, 2).reshape(S, L * H))
        self._w = (
            np.ascontiguousarray(weights["embedding"], dtype=np.float32),
            _stored(wd, precision),
            np.ascontiguousarray(weights["dilated_bias"], dtype=np.float32),
            _stored(weights["residual_w"].reshape(max(L - 1, 0), R, H), precision),
            np.ascontiguousarray(weights["residual_b"], dtype=np.float32),
            _stored(wskip, precision),
            weights["skip_b"].sum(axis=0).astype(np.float32),   # biases of all skips
            _stored(weights["head1_w"], precision),
            np.ascontiguousarray(weights["head1_b"], dtype=np.float32),
            _stored(weights["head2_w"], precision),
            np.ascontiguousarray(weights["head2_b"], dtype=np.float32),
            np.asarray(self.dilations, dtype=np.int64),
            np.concatenate([[0], np.cumsum(self.dilations)[:-1]]).astype(np.int64),
        )
        self._ring_rows = int(sum(self.dilations))

    def _new_queues(self, n_streams: int) -> np.ndarray:
        return np.zeros((n_streams, self._ring_rows, self.residual_channels), np.float32)

    def _groups(self, n_streams: int) -> list[slice]:
        n = min(self.threads, n_streams)
        bounds = np.linspace(0, n_streams, n + 1).round().astype(int)
        return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]

    def _run(self, state: StreamState, cond: np.ndarray, uniforms: np.ndarray,
             samples: np.ndarray, logits: np.ndarray | None) -> None:
        # Time-major [B, t, L, G]: a no-op copy when the caller already passed that
        # layout as a transposed view.
        cond_tm = np.ascontiguousarray(cond.transpose(0, 3, 1, 2))
        B, T = uniforms.shape
        want = logits is not None
        out = logits if want else np.empty((B, 0, self.n_classes), np.float32)

        def work(g: slice) -> None:
            _generate(*self._w, cond_tm[g], uniforms[g], state.queues[g], state.prev[g],
                      state.t, samples[g], out[g], want)

        groups = self._groups(B)
        if len(groups) == 1:
            work(groups[0])
        else:
            with ThreadPoolExecutor(len(groups)) as pool:
                list(pool.map(work, groups))
        state.t += T
