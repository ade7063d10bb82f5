"""Where a note's partials lie, and how each one shows up in the 80-band mel.

A sinusoid of amplitude 1 at frequency ``f`` gives, in the Hann-1024 STFT of
:mod:`neuralsynth.audio`, a main lobe of height 256 around ``f``; the mel filterbank turns
that into a response over (mostly) two to four bands. :func:`sinusoid_response` tabulates
this once on a grid of 1/16 STFT bin.

Above about 1 kHz a mel band holds several partials of a low note, and no mel can tell
them apart. So a note's partial amplitudes are not free: they are a piecewise-linear
*envelope* over frequency with one knot per mel-band centre (a "hat" basis), and the
unknowns are the envelope's knot values. Where partials are sparser than bands (low
frequencies, high notes) this is one unknown per partial; where they are denser, the
partials inside a band share its energy smoothly instead of one of them taking all of it.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from neuralsynth.audio.constants import F_MAX, F_MIN, N_FFT, N_MELS, SAMPLE_RATE

#: Grid of the response table: 1/16 of an STFT bin (about 1 Hz).
_SUBBINS = 16
#: Bands a knot's response may cover (its envelope spans two band gaps plus the lobe).
MAX_WIDTH = 8
#: Partials stop below this share of the sample rate (the top band's centre is 7.6 kHz).
_TOP = 0.49


@functools.lru_cache(maxsize=1)
def sinusoid_response() -> np.ndarray:
    """``[513 * 16 + 1, 80]``: mel of a unit-amplitude cosine at ``i / 16`` STFT bins."""
    import torch

    from neuralsynth.audio.spectral import mel_filterbank

    freqs = np.arange(0, (N_FFT // 2) * _SUBBINS + 1) / _SUBBINS * SAMPLE_RATE / N_FFT
    n = np.arange(N_FFT)
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / N_FFT)
    table = np.empty((freqs.shape[0], N_MELS))
    fb = mel_filterbank(dtype=torch.float64).numpy()
    for start in range(0, freqs.shape[0], 1024):        # 1024 sinusoids at a time: 8 MB
        f = freqs[start:start + 1024]
        spec = np.abs(np.fft.rfft(window * np.cos(2.0 * np.pi * f[:, None] * n / SAMPLE_RATE)))
        table[start:start + 1024] = spec @ fb.T
    return table


def response_at(freqs: np.ndarray) -> np.ndarray:
    """Mel ``[len(freqs), 80]`` of unit sinusoids at ``freqs`` Hz (linear interpolation)."""
    table = sinusoid_response()
    x = np.asarray(freqs, np.float64) / (SAMPLE_RATE / N_FFT) * _SUBBINS
    i = np.clip(x.astype(np.int64), 0, table.shape[0] - 2)
    frac = (x - i)[:, None]
    return table[i] * (1.0 - frac) + table[i + 1] * frac


@functools.lru_cache(maxsize=1)
def knot_frequencies() -> np.ndarray:
    """``[82]`` envelope knots: 0 Hz, the 80 mel-band centres, Nyquist."""
    from neuralsynth.audio.spectral import hz_to_mel, mel_to_hz

    edges = mel_to_hz(np.linspace(hz_to_mel(F_MIN), hz_to_mel(F_MAX), N_MELS + 2))
    return np.concatenate([[0.0], edges[1:-1], [SAMPLE_RATE / 2.0]])


def piano_inharmonicity(pitch: int) -> float:
    """Inharmonicity coefficient ``B`` of a piano string at MIDI ``pitch``.

    Partial ``k`` lies at ``k f0 sqrt(1 + B k²)``. Fitted to the grand piano of the
    MuseScore General SoundFont (A1–A4: 1.4e-4, 1.6e-4, 2.3e-4, 7e-4), which follows the
    usual shape of real pianos: flat in the bass, rising steeply in the treble.
    """
    octaves = max(0.0, (pitch - 45) / 12.0)
    return float(min(1e-2, 2.0 ** (-12.8 + 0.25 * octaves + 0.45 * octaves * octaves)))


@dataclasses.dataclass(frozen=True)
class NoteBasis:
    """A note's partials and envelope knots (one pitch; no time).

    ``freq [K]`` partial frequencies (Hz); partial ``k`` has amplitude
    ``w_lo[k] * c[knot[k]] + w_hi[k] * c[knot[k] + 1]`` for the knot values ``c [U + 1]``
    (index ``U`` is a constant 0: a knot that no partial reaches). Knot ``u`` responds
    in bands ``lo[u] .. lo[u] + width[u]`` with ``resp[u, :width[u]]``; ``peak[u]`` is
    its strongest band.
    """

    freq: np.ndarray      # [K] float64
    knot: np.ndarray      # [K, 2] int64, local knot indices (U = absent)
    weight: np.ndarray    # [K, 2] float64
    lo: np.ndarray        # [U] int64
    width: np.ndarray     # [U] int64
    resp: np.ndarray      # [U, MAX_WIDTH] float64
    peak: np.ndarray      # [U] int64

    @property
    def n_knots(self) -> int:
        return int(self.lo.shape[0])


@functools.lru_cache(maxsize=1024)
def note_basis(pitch: int, inharmonicity: float = 0.0) -> NoteBasis:
    """The :class:`NoteBasis` of MIDI ``pitch`` (A4 = 440 Hz) with inharmonicity
    ``B`` (0: harmonic)."""
    f0 = 440.0 * 2.0 ** ((pitch - 69) / 12.0)
    top = _TOP * SAMPLE_RATE
    k = np.arange(1, max(1, int(top / f0)) + 1, dtype=np.float64)
    freq = k * f0 * np.sqrt(1.0 + inharmonicity * k * k)
    freq = freq[freq < top]
    knots = knot_frequencies()
    j = np.clip(np.searchsorted(knots, freq, side="right") - 1, 0, knots.shape[0] - 2)
    t = (freq - knots[j]) / (knots[j + 1] - knots[j])
    resp = response_at(freq)                                         # [K, 80]
    full = np.zeros((knots.shape[0], N_MELS))
    np.add.at(full, j, (1.0 - t)[:, None] * resp)
    np.add.at(full, j + 1, t[:, None] * resp)
    strongest = full.max(axis=1, keepdims=True)
    full[full < 1e-3 * np.maximum(strongest, 1e-30)] = 0.0          # drop far sidelobes
    used = np.nonzero(full.max(axis=1) > 0.0)[0]
    local = np.full(knots.shape[0] + 1, used.shape[0], np.int64)
    local[used] = np.arange(used.shape[0])
    lo = np.zeros(used.shape[0], np.int64)
    width = np.zeros(used.shape[0], np.int64)
    table = np.zeros((used.shape[0], MAX_WIDTH))
    peak = np.zeros(used.shape[0], np.int64)
    for u, row in enumerate(full[used]):
        nz = np.nonzero(row)[0]
        p = int(np.argmax(row))
        # Keep at most MAX_WIDTH bands, centred on the strongest one.
        first = max(int(nz[0]), min(p - MAX_WIDTH // 2, int(nz[-1]) + 1 - MAX_WIDTH))
        last = min(int(nz[-1]) + 1, first + MAX_WIDTH)
        lo[u], width[u], peak[u] = first, last - first, p
        table[u, :last - first] = row[first:last]
    return NoteBasis(freq=freq, knot=np.stack([local[j], local[j + 1]], axis=1),
                     weight=np.stack([1.0 - t, t], axis=1), lo=lo, width=width,
                     resp=table, peak=peak)
