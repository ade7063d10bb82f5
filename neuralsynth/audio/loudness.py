"""Integrated loudness (ITU-R BS.1770-4, in LUFS) of a mono signal, measured as it streams.

    x ──K-weighting (2 biquads)──► y ──100 ms energies──► 400 ms blocks (75 % overlap)
      ──absolute gate (-70 LUFS)──► relative gate (-10 LU)──► LUFS

Each gating block of 400 ms is four consecutive 100 ms segments, so the meter keeps only
the filter state, the running energy of the current segment and the last three segment
energies; the one thing that grows is the list of block energies (8 bytes per 100 ms:
under 300 kB for an hour), which the two gates need in full. Every operation runs in the
same order whatever the sizes of the blocks fed in, so the result does not depend on how
the signal is cut (it is bit-for-bit the same).
"""

from __future__ import annotations

import array
import copy
import math

import numba
import numpy as np

#: Absolute gate (BS.1770-4 §2.8): blocks quieter than this never count.
ABSOLUTE_GATE_LUFS = -70.0
#: Relative gate: blocks this far below the absolutely-gated loudness are left out.
RELATIVE_GATE_LU = -10.0
# The -0.691 dB offset makes a 997 Hz sine at 0 dBFS read -3.01 LUFS (the standard's own).
_OFFSET_DB = -0.691


def k_weighting(sample_rate: int) -> np.ndarray:
    """The two K-weighting biquads for ``sample_rate``: float64 ``[2, 5]``, each row
    ``(b0, b1, b2, a1, a2)`` with ``a0 = 1``; the shelf first, then the high-pass.

    The standard gives coefficients only at 48 kHz. They are the bilinear transforms of
    two analogue prototypes (a +4 dB shelf near 1.68 kHz and a 38 Hz second-order
    high-pass); deriving the prototypes' parameters back from the 48 kHz values and
    transforming again reproduces the standard's table at 48 kHz to ~1e-14 and gives the
    same response at any other rate.
    """
    fs = float(sample_rate)
    # Stage 1: high shelf. Gain, centre and Q fitted to the 48 kHz table.
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / fs)
    vh = 10.0 ** (gain_db / 20.0)
    vb = vh ** 0.4996667741545416          # the shelf's mid-band gain, from the same fit
    a0 = 1.0 + k / q + k * k
    shelf = ((vh + vb * k / q + k * k) / a0, 2.0 * (k * k - vh) / a0,
             (vh - vb * k / q + k * k) / a0, 2.0 * (k * k - 1.0) / a0,
             (1.0 - k / q + k * k) / a0)
    # Stage 2: the "RLB" high-pass. At 48 kHz its numerator is (1, -2, 1), which makes
    # its pass-band gain 1 + k/q + k² there (+0.04 dB), not 1; that gain is part of the
    # standard's calibration, so it is kept at every rate (a literal (1, -2, 1) would read
    # 0.08 LU too loud at 16 kHz).
    f0, q = 38.13547087602444, 0.5003270373238773

    def denominator(rate: float) -> tuple[float, float, float]:
        k = math.tan(math.pi * f0 / rate)
        return 1.0 + k / q + k * k, 2.0 * (k * k - 1.0), 1.0 - k / q + k * k

    a0, a1, a2 = denominator(fs)
    g = denominator(48000.0)[0] / a0
    highpass = (g, -2.0 * g, g, a1 / a0, a2 / a0)
    return np.array([shelf, highpass], dtype=np.float64)


def _segment_start(sample_rate: int, k: int) -> int:
    # 100 ms segment k starts here: exact for the usual rates, never drifting for others.
    return k * int(sample_rate) // 10


@numba.njit(cache=True, nogil=True)
def _segment_energies(x, coeffs, state, acc, counters, sample_rate, out):  # pragma: no cover
    """K-weight ``x`` and sum ``y²`` into 100 ms segments; returns how many segments were
    completed (their energies are written to ``out``).

    ``state`` float64 [4]: the two biquads' transposed direct-form II registers;
    ``acc`` float64 [1]: energy of the segment in progress; ``counters`` int64 [2]:
    (index of the segment in progress, samples already in it). All are updated in place.
    """
    b0, b1, b2, a1, a2 = coeffs[0, 0], coeffs[0, 1], coeffs[0, 2], coeffs[0, 3], coeffs[0, 4]
    c0, c1, c2, d1, d2 = coeffs[1, 0], coeffs[1, 1], coeffs[1, 2], coeffs[1, 3], coeffs[1, 4]
    s1, s2, t1, t2 = state[0], state[1], state[2], state[3]
    energy = acc[0]
    k = counters[0]
    filled = counters[1]
    length = (k + 1) * sample_rate // 10 - k * sample_rate // 10
    done = 0
    for i in range(x.shape[0]):
        v = np.float64(x[i])
        u = b0 * v + s1
        s1 = b1 * v - a1 * u + s2
        s2 = b2 * v - a2 * u
        y = c0 * u + t1
        t1 = c1 * u - d1 * y + t2
        t2 = c2 * u - d2 * y
        energy += y * y
        filled += 1
        if filled == length:
            out[done] = energy
            done += 1
            energy = 0.0
            filled = 0
            k += 1
            length = (k + 1) * sample_rate // 10 - k * sample_rate // 10
    state[0], state[1], state[2], state[3] = s1, s2, t1, t2
    acc[0] = energy
    counters[0] = k
    counters[1] = filled
    return done


def _lufs(mean_square: float) -> float:
    return _OFFSET_DB + 10.0 * math.log10(mean_square) if mean_square > 0 else -math.inf


class LoudnessMeter:
    """Streaming BS.1770-4 integrated loudness of a mono signal at ``sample_rate`` Hz.

    ``add(block)`` takes float ``[n]`` blocks of any size, in order; ``integrated()``
    returns the loudness of everything added so far in LUFS (``-inf`` when nothing is
    above the absolute gate, e.g. silence). A signal shorter than one 400 ms gating block
    is measured as if silence followed it up to 400 ms.
    """

    def __init__(self, sample_rate: int):
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) \
                or sample_rate < 10:
            raise ValueError(f"sample_rate must be an integer >= 10 Hz, got {sample_rate!r}")
        self.sample_rate = int(sample_rate)
        self._coeffs = k_weighting(self.sample_rate)
        self._state = np.zeros(4, dtype=np.float64)
        self._acc = np.zeros(1, dtype=np.float64)
        self._counters = np.zeros(2, dtype=np.int64)
        self._recent: list[float] = []            # the last (up to) 3 segment energies
        self._blocks = array.array("d")            # mean square of each complete block
        self.n_samples = 0

    def add(self, block: np.ndarray) -> None:
        """Feed the next samples: float ``[n]`` (float32 or float64)."""
        x = np.asarray(block)
        if x.ndim != 1 or not np.issubdtype(x.dtype, np.floating):
            raise ValueError(f"expected a float block [n], got {x.dtype} {x.shape}")
        if x.shape[0] == 0:
            return
        x = np.ascontiguousarray(x)
        out = np.empty(x.shape[0] // max(1, self.sample_rate // 10) + 2, dtype=np.float64)
        done = _segment_energies(x, self._coeffs, self._state, self._acc, self._counters,
                                 self.sample_rate, out)
        self.n_samples += int(x.shape[0])
        for energy in out[:done]:
            self._push_segment(float(energy))

    def _push_segment(self, energy: float) -> None:
        recent = self._recent
        if len(recent) == 3:
            j = len(self._blocks)            # this block spans segments j .. j + 3
            total = ((recent[0] + recent[1]) + recent[2]) + energy
            sr = self.sample_rate
            width = _segment_start(sr, j + 4) - _segment_start(sr, j)
            self._blocks.append(total / width)
            recent.pop(0)
        recent.append(energy)

    def block_loudness(self) -> np.ndarray:
        """Loudness of each complete 400 ms gating block so far, LUFS, float64 ``[J]``."""
        z = np.frombuffer(self._blocks, dtype=np.float64) if self._blocks else np.zeros(0)
        with np.errstate(divide="ignore"):
            return _OFFSET_DB + 10.0 * np.log10(z)

    def integrated(self) -> float:
        """Gated integrated loudness in LUFS; ``-inf`` for silence or no input."""
        if self.n_samples == 0:
            return -math.inf
        if not self._blocks:
            # Shorter than one gating block: measured as if silence followed it up to
            # 400 ms (the filters ringing into it included), on a copy of the meter.
            padded = copy.deepcopy(self)
            padded.add(np.zeros(_segment_start(self.sample_rate, 4) - self.n_samples))
            return padded.integrated()
        return self._gated(np.frombuffer(self._blocks, dtype=np.float64).copy())

    @staticmethod
    def _gated(z: np.ndarray) -> float:
        with np.errstate(divide="ignore"):
            level = _OFFSET_DB + 10.0 * np.log10(z)
        loud = level > ABSOLUTE_GATE_LUFS
        if not loud.any():
            return -math.inf
        relative = _lufs(float(z[loud].mean())) + RELATIVE_GATE_LU
        kept = loud & (level > relative)
        return _lufs(float(z[kept].mean()))


def integrated_loudness(samples: np.ndarray, sample_rate: int) -> float:
    """BS.1770-4 integrated loudness of mono float ``samples [n]`` in LUFS (``-inf`` for
    silence): :class:`LoudnessMeter` fed in one go."""
    meter = LoudnessMeter(sample_rate)
    meter.add(samples)
    return meter.integrated()


__all__ = ["ABSOLUTE_GATE_LUFS", "RELATIVE_GATE_LU", "LoudnessMeter", "integrated_loudness",
           "k_weighting"]
