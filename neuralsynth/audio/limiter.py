"""A look-ahead peak limiter: keeps every sample within a ceiling, streaming.

For each input sample the gain it would need is ``r = min(1, ceiling / |x|)``. The gain
applied to sample ``m`` is computed ``L`` samples later (``L`` = the look-ahead), from

    h[n] = min(r[n-L .. n])                      the strictest need in the window
    e[n] = h[n] if h[n] <= e[n-1]                attack: at once ...
           else h[n] + a (e[n-1] - h[n])         release: exponential,
                                                 a = exp(-1 / (release · sr))
    g[n] = mean(e[n-L .. n])                     ... spread linearly over the look-ahead
    y[m] = x[m] · g[m + L]

Every ``e`` in that mean is at most ``r[m]``, so ``|y[m]| <= ceiling``; gains only ever
move along ramps and exponentials, never in steps. Where the signal stays under the
ceiling every ``r`` is 1, the mean is exactly 1 and the samples pass through unchanged.
The state (the look-ahead ring buffers and a monotonic queue for the window minimum) is
carried between blocks and every sample goes through the same operations, so the output
does not depend on the block sizes.
"""

from __future__ import annotations

import math

import numba
import numpy as np

# Once a release has come this close to the target, it lands on it exactly: gain 1.0
# again after limiting (a step of 1e-9, -180 dB, inaudible) instead of 1 - 1 ulp forever.
_SNAP = 1e-9


@numba.njit(cache=True, nogil=True)
def _limit(x, out, ceiling, release, look, fstate, istate, xbuf, ebuf, q_idx, q_val):
    """Limit ``x`` into ``out``; returns how many output samples were produced.
    fstate float64 [3]: (envelope e, running sum of ebuf, smallest gain so far);
    istate int64 [4]: (samples seen, queue head, queue length, values != 1 in ebuf)."""
    width = look + 1
    e, total, smallest = fstate[0], fstate[1], fstate[2]
    n, head, size, not_one = istate[0], istate[1], istate[2], istate[3]
    produced = 0
    for i in range(x.shape[0]):
        v = np.float64(x[i])
        mag = abs(v)
        need = ceiling / mag if mag > ceiling else 1.0
        # Window minimum of the needed gain over r[n-look .. n] (monotonic queue).
        while size > 0 and q_val[(head + size - 1) % width] >= need:
            size -= 1
        slot = (head + size) % width
        q_idx[slot] = n
        q_val[slot] = need
        size += 1
        while q_idx[head] < n - look:
            head = (head + 1) % width
            size -= 1
        h = q_val[head]
        if h <= e:
            e = h
        else:
            e = h + release * (e - h)
            if h - e < _SNAP:
                e = h
        # Boxcar mean of the envelope over the same window.
        pos = n % width
        old = ebuf[pos]
        ebuf[pos] = e
        total += e - old
        if old != 1.0:
            not_one -= 1
        if e != 1.0:
            not_one += 1
        if not_one == 0:
            total = np.float64(width)          # exact again: no drift after limiting
            g = 1.0
        else:
            g = min(1.0, total / width)
        xbuf[pos] = v
        if n >= look:
            y = xbuf[(n - look) % width] * g
            # Rounding must not push a sample past the ceiling.
            if y > ceiling:
                y = ceiling
            elif y < -ceiling:
                y = -ceiling
            out[produced] = y
            produced += 1
            if g < smallest:
                smallest = g
        n += 1
    fstate[0], fstate[1], fstate[2] = e, total, smallest
    istate[0], istate[1], istate[2], istate[3] = n, head, size, not_one
    return produced


def _float32_at_most(value: float) -> float:
    """The largest float32 that is <= ``value``, as a float: a ceiling that float32
    rounding of the output can never exceed."""
    f = np.float32(value)
    if float(f) > value:
        f = np.nextafter(f, np.float32(0.0))
    return float(f)


class PeakLimiter:
    """Streaming look-ahead limiter: ``|output| <= ceiling`` (linear, in (0, 1]).

    ``process(block float [n]) -> float32 [m]``: the output is delayed by the look-ahead
    (``delay`` samples), so the first call returns ``delay`` fewer samples than it was
    given; ``flush() -> float32 [delay]`` returns the rest, after which the limiter is
    done. Gain changes ramp linearly over ``lookahead_ms`` when limiting starts and
    recover exponentially with time constant ``release_ms``.
    """

    def __init__(self, ceiling: float, sample_rate: int, lookahead_ms: float = 5.0,
                 release_ms: float = 80.0):
        if not (isinstance(ceiling, (int, float)) and 0.0 < ceiling <= 1.0):
            raise ValueError(f"ceiling must be a linear level in (0, 1], got {ceiling!r}")
        if not (isinstance(sample_rate, (int, np.integer)) and sample_rate > 0):
            raise ValueError(f"sample_rate must be a positive integer, got {sample_rate!r}")
        if not (lookahead_ms > 0 and release_ms > 0):
            raise ValueError("lookahead_ms and release_ms must be > 0")
        self.ceiling = float(ceiling)
        self.sample_rate = int(sample_rate)
        self.delay = max(1, int(round(lookahead_ms * self.sample_rate / 1000.0)))
        self._release = math.exp(-1.0 / (release_ms * self.sample_rate / 1000.0))
        self._limit_at = _float32_at_most(self.ceiling)
        width = self.delay + 1
        self._fstate = np.array([1.0, float(width), 1.0], dtype=np.float64)
        self._istate = np.zeros(4, dtype=np.int64)
        self._xbuf = np.zeros(width, dtype=np.float64)
        self._ebuf = np.ones(width, dtype=np.float64)
        self._q_idx = np.zeros(width, dtype=np.int64)
        self._q_val = np.ones(width, dtype=np.float64)
        self._done = False

    @property
    def max_reduction_db(self) -> float:
        """The deepest gain reduction applied so far, in dB (0.0 when it never limited)."""
        return -20.0 * math.log10(self._fstate[2])

    @property
    def limited(self) -> bool:
        """Whether any output sample so far had a gain below 1."""
        return bool(self._fstate[2] < 1.0)

    def process(self, block: np.ndarray) -> np.ndarray:
        """Limit the next samples (float ``[n]``); returns float32 ``[m]``, ``m <= n``."""
        if self._done:
            raise RuntimeError("the limiter was flushed; make a new one")
        x = np.ascontiguousarray(block)
        if x.ndim != 1 or not np.issubdtype(x.dtype, np.floating):
            raise ValueError(f"expected a float block [n], got {x.dtype} {x.shape}")
        out = np.empty(x.shape[0], dtype=np.float32)
        produced = _limit(x, out, self._limit_at, self._release, self.delay, self._fstate,
                          self._istate, self._xbuf, self._ebuf, self._q_idx, self._q_val)
        return out[:produced]

    def flush(self) -> np.ndarray:
        """The last ``delay`` samples (float32), pushed out by silence; ends the stream."""
        # ``delay`` more samples push out exactly the ones still held (all of them when
        # fewer than ``delay`` came in).
        tail = self.process(np.zeros(self.delay, dtype=np.float64))
        self._done = True
        return tail


__all__ = ["PeakLimiter"]
