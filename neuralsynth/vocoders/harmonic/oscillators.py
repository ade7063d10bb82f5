"""Continuous-phase additive synthesis of the partials, 128 samples (one hop) at a time.

Every partial is a sinusoid of fixed frequency whose phase is a function of the sample
index alone (``φ0 + ω (n − onset)``), so a chunk boundary, a frame boundary or a
restart never makes a phase jump, and chunks can be synthesised independently. Amplitudes
are linear between frame centres. Inside a hop the oscillators advance by a complex
rotation, all partials of the hop in one vectorised loop (float32 SIMD lanes), and
their exact phase is set again at the start of each hop so rounding never accumulates.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from neuralsynth.audio.constants import HOP_LENGTH, SAMPLE_RATE

#: Onsets fade in over this many samples (4 ms): a click-free start, still a sharp attack
#: (2 ms spread the click into the lowest CQT octave; 8 ms blunted the attacks: LSD).
FADE_IN = 64
#: Partials quieter than this amplitude at both ends of a hop are skipped (-100 dBFS:
#: below the -100 dB floor of the features and of the log-CQT measure).
SILENT = 1e-5


@numba.njit(cache=True, nogil=True)
def _initial_phase(onset: int, pitch: int, k: int) -> float:
    """A fixed pseudo-random phase per (note, partial), the same in every chunk."""
    h = (onset * 73856093) ^ (pitch * 19349663) ^ ((k + 1) * 83492791)
    h = (h * 2654435761) & 0xFFFFFFFF
    return 2.0 * math.pi * h / 4294967296.0


@numba.njit(cache=True, nogil=True, fastmath=True)
def _run_hop(out, base, n_part, re, im, rr, ri, a0, da):
    """Add ``n_part`` oscillators over one hop starting at ``out[base]``."""
    for i in range(HOP_LENGTH):
        acc = np.float32(0.0)
        fi = np.float32(i)
        for p in range(n_part):
            acc += (a0[p] + da[p] * fi) * im[p]
            x = re[p] * rr[p] - im[p] * ri[p]
            im[p] = re[p] * ri[p] + im[p] * rr[p]
            re[p] = x
        out[base + i] += acc


@numba.njit(cache=True, nogil=True)
def add_partials(out, first_frame, n_hops, ptr, slots, s_start, s_end, s_onset, s_pitch,
                 s_c0, s_nknots, s_part0, s_npart, p_freq, p_knot, p_weight, knots,
                 max_part, origin):
    """Add every note's partials to ``out [n_hops * hop]`` (samples from
    ``first_frame * hop``).

    ``origin`` is the sample of the whole piece that sample 0 is: the partials' starting
    phases are seeded by absolute onset, so two overlapping windows of a long piece give
    the same partials where they overlap.

    Hop ``t`` runs from frame ``t`` to ``t + 1``; slot ``s`` has knot values for chunk
    frames ``s_start[s] .. s_end[s] - 1`` (0 outside) and partial rows ``s_part0[s] ..
    + s_npart[s]`` of ``p_freq`` (Hz), ``p_knot`` and ``p_weight``.
    """
    re = np.empty(max_part, np.float32)
    im = np.empty(max_part, np.float32)
    rr = np.empty(max_part, np.float32)
    ri = np.empty(max_part, np.float32)
    a0 = np.empty(max_part, np.float32)
    da = np.empty(max_part, np.float32)
    two_pi = 2.0 * math.pi
    for t in range(n_hops):
        start = (first_frame + t) * HOP_LENGTH
        n_part = 0
        for i in range(ptr[t], ptr[t + 1]):
            s = slots[i]
            onset = s_onset[s]
            if onset >= start + HOP_LENGTH:
                continue
            u_n = s_nknots[s]
            row = s_c0[s] + (t - s_start[s]) * u_n
            has_next = t + 1 < s_end[s]
            for j in range(s_npart[s]):
                pj = s_part0[s] + j
                k0 = p_knot[pj, 0]
                k1 = p_knot[pj, 1]
                w0 = p_weight[pj, 0]
                w1 = p_weight[pj, 1]
                amp0 = 0.0
                if k0 < u_n:
                    amp0 += w0 * knots[row + k0]
                if k1 < u_n:
                    amp0 += w1 * knots[row + k1]
                amp1 = 0.0
                if has_next:
                    if k0 < u_n:
                        amp1 += w0 * knots[row + u_n + k0]
                    if k1 < u_n:
                        amp1 += w1 * knots[row + u_n + k1]
                if amp0 < SILENT and amp1 < SILENT:
                    continue
                f = p_freq[pj]
                omega = two_pi * f / SAMPLE_RATE
                phase0 = _initial_phase(onset + origin, s_pitch[s], j)
                if onset > start:
                    # The attack: a scalar loop from the onset sample, with the fade-in.
                    step = (amp1 - amp0) / HOP_LENGTH
                    for n in range(onset - start, HOP_LENGTH):
                        g = min(1.0, (start + n - onset + 1) / FADE_IN)
                        out[t * HOP_LENGTH + n] += g * (amp0 + step * n) * math.sin(
                            phase0 + omega * (start + n - onset))
                    continue
                cycles = f * (start - onset) / SAMPLE_RATE
                phase = phase0 + two_pi * (cycles - math.floor(cycles))
                fade = start - onset
                if fade < FADE_IN:
                    # Second hop of an attack whose fade is not over: scalar as well.
                    step = (amp1 - amp0) / HOP_LENGTH
                    for n in range(HOP_LENGTH):
                        g = min(1.0, (fade + n + 1) / FADE_IN)
                        out[t * HOP_LENGTH + n] += g * (amp0 + step * n) * math.sin(
                            phase + omega * n)
                    continue
                re[n_part] = math.cos(phase)
                im[n_part] = math.sin(phase)
                rr[n_part] = math.cos(omega)
                ri[n_part] = math.sin(omega)
                a0[n_part] = amp0
                da[n_part] = (amp1 - amp0) / HOP_LENGTH
                n_part += 1
        if n_part:
            _run_hop(out, t * HOP_LENGTH, n_part, re, im, rr, ri, a0, da)
