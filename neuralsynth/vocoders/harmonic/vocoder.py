"""``harmonic``: the score-informed vocoder (training-free, CPU, bounded memory).

    notes ─► partials at k·f0 (up to Nyquist)     mel ─► knot amplitudes (β-NMF updates,
           + envelope knots per note                     warm-started frame to frame)
                         └──────────► additive synthesis (continuous phase)
                                      + residual noise (mel the partials leave over)

Frames are processed in chunks of ``chunk_seconds``: the fit carries each sounding note's
amplitudes from one chunk into the next and the noise stream carries its overlap, so the
output does not depend on the chunking and memory does not depend on the piece's length.
"""

from __future__ import annotations

import dataclasses
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from neuralsynth.audio.constants import HOP_LENGTH, N_MELS, SAMPLE_RATE
from neuralsynth.components.params import ensure_valid, param
from neuralsynth.errors import UsageError
from neuralsynth.vocoders.base import Vocoder, require_standard_features
from neuralsynth.vocoders.harmonic.amplitudes import (
    fit_knots,
    scale_knots,
    window_coverage_table,
)
from neuralsynth.vocoders.harmonic.layout import ChunkLayout, chunk_layout, note_spans
from neuralsynth.vocoders.harmonic.oscillators import add_partials
from neuralsynth.vocoders.harmonic.partials import sinusoid_response
from neuralsynth.vocoders.harmonic.residual import NoiseStream
from neuralsynth.vocoders.score import Score


class HarmonicVocoder(Vocoder):
    """Mel + notes → waveform: partials of the notes, amplitudes fitted to the mel.

    ``synthesize(mel, score=...)``: float32 ``[T, 80]`` linear mel and a
    :class:`~neuralsynth.vocoders.score.Score` of ``T`` frames → float32 waveform
    ``[T * 128]`` at 16 kHz. Without a score there are no partials to place:
    :class:`UsageError`.
    """

    uses_score = True
    coherent_windows = True

    @dataclasses.dataclass
    class Config:
        release: float = param(0.5, "seconds a note may keep sounding after its note-off "
                                    "(pedal included) while the mel still has its energy")
        beta: float = param(1.25, "β of the divergence fitted to the mel: 2 least squares, "
                                 "1 Kullback-Leibler, 0 Itakura-Saito")
        n_iter: int = param(3, "multiplicative updates per frame (warm-started)")
        correct: int = param(1, "analysis-by-synthesis passes: the partials' own mel is "
                                "measured and their amplitudes rescaled to the fit's")
        inharmonicity: float = param(0.0, "scale of the piano inharmonicity curve "
                                          "(0: exact harmonics, 1: a grand piano's "
                                          "stretched partials)")
        noise: float = param(0.5, "gain of the residual noise (0: partials only); the "
                                  "residual also holds the fit's errors, so full gain "
                                  "is too much")
        floor: float = param(0.2, "noise at this share of each band's level above 1 kHz "
                                  "(full from 2 kHz), whatever the partials explain: the "
                                  "noise between partials that samples have")
        phase: str = param("additive", "'additive': the partials' own continuous phase; "
                                         "'griffin_lim': their magnitudes matched to the "
                                         "mel and refined by Griffin-Lim from that phase "
                                         "(whole signal in memory)",
                             choices=("additive", "griffin_lim"))
        gl_iter: int = param(16, "Griffin-Lim iterations of phase 'griffin_lim'")
        chunk_seconds: float = param(16.0, "seconds of audio made at a time (memory)")
        seed: int = param(0, "seed of the noise")

        def check(self) -> list[tuple[str, str]]:
            problems = []
            if not (math.isfinite(self.release) and self.release >= 0):
                problems.append(("release", f"must be >= 0, got {self.release}"))
            if not (math.isfinite(self.beta) and 0.0 <= self.beta <= 2.0):
                problems.append(("beta", f"must be in [0, 2], got {self.beta}"))
            if self.correct < 0:
                problems.append(("correct", f"must be >= 0, got {self.correct}"))
            if self.n_iter < 0:
                problems.append(("n_iter", f"must be >= 0, got {self.n_iter}"))
            if not (math.isfinite(self.inharmonicity) and 0.0 <= self.inharmonicity <= 4.0):
                problems.append(("inharmonicity", f"must be in [0, 4], got "
                                                  f"{self.inharmonicity}"))
            if not (math.isfinite(self.floor) and 0.0 <= self.floor <= 1.0):
                problems.append(("floor", f"must be in [0, 1], got {self.floor}"))
            if not (math.isfinite(self.noise) and self.noise >= 0):
                problems.append(("noise", f"must be >= 0, got {self.noise}"))
            if self.gl_iter < 0:
                problems.append(("gl_iter", f"must be >= 0, got {self.gl_iter}"))
            if not (math.isfinite(self.chunk_seconds) and self.chunk_seconds >= 0.5):
                problems.append(("chunk_seconds", f"must be >= 0.5, got {self.chunk_seconds}"))
            return problems

    def __init__(self, config: Config, *, n_mels: int = 80, sample_rate: int = 16000,
                 hop_length: int = 128):
        super().__init__(config, n_mels=n_mels, sample_rate=sample_rate, hop_length=hop_length)
        ensure_valid("vocoder", config)
        require_standard_features(self)    # the response tables assume them
        sinusoid_response()          # the one-off table (0.6 s), here rather than mid-render
        self._cum = window_coverage_table()

    # -- synthesis --------------------------------------------------------------------
    def synthesize(self, mel: np.ndarray, score: Score | None = None) -> np.ndarray:
        """Waveform float32 ``[T * 128]`` for linear mel ``[T, 80]`` and its score."""
        mel = np.asarray(mel)
        if mel.ndim != 2 or mel.shape[1] != self.n_mels:
            raise ValueError(f"expected a mel spectrogram [T, {self.n_mels}], got "
                             f"{mel.shape}")
        if score is None:
            raise UsageError("the harmonic vocoder needs the notes of the mel (a Score); "
                             "use --vocoder griffin_lim for a mel without notes")
        n_frames = mel.shape[0]
        if score.n_frames != n_frames:
            raise ValueError(f"score has {score.n_frames} frames, the mel {n_frames}")
        cfg = self.config
        spans = note_spans(score, cfg.release, cfg.inharmonicity)
        chunk = max(1, int(round(cfg.chunk_seconds * SAMPLE_RATE / HOP_LENGTH)))
        out = np.zeros(n_frames * HOP_LENGTH, np.float32)
        noise = NoiseStream(cfg.seed) if cfg.noise > 0 or cfg.floor > 0 else None
        carry: dict[int, np.ndarray] = {}
        # Two stages in two threads (numba and torch release the GIL): the fit of chunk
        # k + 1 needs only the fit of chunk k, so it runs (with the chunk's noise, which
        # balances the two threads) while chunk k is synthesised. Only the worker writes
        # to ``out``.
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = None
            for c0 in range(0, n_frames, chunk):
                c1 = min(n_frames, c0 + chunk)
                # Only this chunk's frames (and the one after, where its last hop ends)
                # are converted: memory is a chunk's, whatever the length of the piece.
                part = _clean(mel[c0:min(n_frames, c1 + 1)])
                layout = chunk_layout(spans, c0, part.shape[0], carry)
                knots, model = self._fit(part, layout)
                carry = layout.carry_out(knots, spans, c1)
                hiss = self._noise(noise, part, model, c1 - c0)
                if pending is not None:
                    pending.result()
                pending = pool.submit(self._render, out, hiss, layout, knots, model, c1 - c0,
                                      score.origin * HOP_LENGTH)
            if pending is not None:
                pending.result()
        if noise is not None:
            done = noise.emitted
            tail = noise.finish(out.shape[0] - done)
            out[done:done + tail.shape[0]] += tail
        if cfg.phase == "griffin_lim":
            from neuralsynth.vocoders.harmonic.phase_retrieval import griffin_lim_from

            out = griffin_lim_from(out, _clean(mel), cfg.gl_iter)
        for start in range(0, out.shape[0], chunk * HOP_LENGTH):
            # A chunk at a time: a whole-signal pass would allocate its masks at full length.
            part = out[start:start + chunk * HOP_LENGTH]
            np.nan_to_num(part, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
            np.clip(part, -1.0, 1.0, out=part)
        return out

    def _fit(self, mel: np.ndarray, lay: ChunkLayout) -> tuple[np.ndarray, np.ndarray]:
        """Knot values (flat, see :class:`ChunkLayout`) and the model mel ``[n_fit, 80]``."""
        knots = np.zeros(lay.n_values)
        model = np.zeros((lay.n_fit, N_MELS))
        fit_knots(mel, lay.c0, lay.ptr, lay.slots, lay.s_start, lay.onset, lay.s_knot0,
                  lay.s_nknots, lay.s_c0, lay.k_lo, lay.k_width, lay.k_resp, lay.k_peak,
                  lay.carry, lay.s_carry0, self._cum, float(self.config.beta),
                  int(self.config.n_iter), knots, model)
        return knots, model

    def _noise(self, noise: NoiseStream | None, mel: np.ndarray, model: np.ndarray,
               n_hops: int) -> tuple[int, np.ndarray] | None:
        """The chunk's noise (residual and floor) and the sample where it starts."""
        if noise is None:
            return None
        residual = np.maximum(mel[:n_hops] - model[:n_hops], 0.0) * self.config.noise
        floor = mel[:n_hops] * (self.config.floor * _FLOOR_SHAPE)
        hiss = noise.push(np.sqrt(residual * residual + floor * floor))
        return noise.emitted - hiss.shape[0], hiss

    def _render(self, out: np.ndarray, hiss: tuple[int, np.ndarray] | None,
                lay: ChunkLayout, knots: np.ndarray, model: np.ndarray, n_hops: int,
                origin: int) -> None:
        """Add the chunk's partials (with the correction passes) and its noise to
        ``out``; chunks arrive in order. ``origin``: the piece's sample at ``out[0]``."""
        wave = np.zeros(0, np.float32)
        for attempt in range(int(self.config.correct) + 1):
            if attempt:
                gain = _correction(wave, model[:n_hops + 1])
                scale_knots(gain, lay.ptr, lay.slots, lay.s_start, lay.s_nknots,
                            lay.s_knot0, lay.s_c0, lay.k_peak, knots)
            wave = np.zeros(n_hops * HOP_LENGTH, np.float32)
            add_partials(wave, lay.c0, n_hops, lay.ptr, lay.slots, lay.s_start, lay.s_end,
                         lay.onset, lay.pitch, lay.s_c0, lay.s_nknots, lay.s_part0,
                         lay.s_npart, lay.p_freq, lay.p_knot, lay.p_weight, knots,
                         lay.max_part, origin)
        first = lay.c0 * HOP_LENGTH
        out[first:first + wave.shape[0]] += wave
        if hiss is not None:
            start, samples = hiss
            out[start:start + samples.shape[0]] += samples


#: Frames at each chunk edge left uncorrected: their analysis window reaches into the
#: neighbouring chunk, whose samples this chunk does not have.
_EDGE_FRAMES = 4


def _correction(wave: np.ndarray, model: np.ndarray) -> np.ndarray:
    """``[n, 80]`` gains that bring the mel of ``wave`` to ``model`` (1 at the edges)."""
    from neuralsynth.audio.spectral import mel_spectrogram

    n = model.shape[0]
    have = mel_spectrogram(wave).numpy().astype(np.float64)[:n]
    gain = np.ones((n, N_MELS))
    inner = slice(_EDGE_FRAMES, max(_EDGE_FRAMES, min(n, have.shape[0]) - _EDGE_FRAMES))
    # Bands the partials hardly reach are left alone (their mel is the residual's).
    ratio = model[inner] / np.maximum(have[inner], 1e-12)
    gain[inner] = np.where(have[inner] > 1e-6, np.clip(ratio, 0.25, 4.0), 1.0)
    return gain


def _floor_shape() -> np.ndarray:
    """``[80]``: 0 below 1 kHz rising to 1 at 2 kHz (log-frequency ramp).

    Why only above 1 kHz: there the semitone-wide CQT bins hold several partials and
    cannot see the noise between them, while the 2048-point STFT can (floor 0.2: LSD
    13.2 → 12.0 dB on held-out pieces, log-CQT r unchanged). Below 1 kHz the same noise
    fills the gaps the CQT does resolve (a floor of 0.2 at every band cost 0.025 r).
    """
    from neuralsynth.audio.spectral import hz_to_mel, mel_to_hz

    centres = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(8000.0), N_MELS + 2))[1:-1]
    return np.clip(np.log2(np.maximum(centres, 1.0) / 1000.0), 0.0, 1.0)


_FLOOR_SHAPE = _floor_shape()


def _clean(mel: np.ndarray) -> np.ndarray:
    """float64 copy, non-finite values 0, negatives 0 (a model's mel is never trusted)."""
    out = np.nan_to_num(np.asarray(mel, np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    return np.maximum(out, 0.0, out=out)
