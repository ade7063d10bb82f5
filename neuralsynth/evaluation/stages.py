"""The audio stages of the paper's Figure 15, scored on one excerpt of one recording.

Each stage turns an excerpt of the original recording into audio by a longer chain; the
log-CQT correlation (:mod:`.cqt`) of that audio with the original says how much of the
sound survives the chain:

- ``mu_law``: 8-bit µ-law companding and back, no model: the ceiling of any µ-law
  vocoder (the WaveNet's output format);
- ``ground_truth_mel``: the recording's own mel → vocoder: what the vocoder loses;
- ``predicted_mel``: the Mel2Mel mel for the item's MIDI as the item's instrument →
  vocoder: the whole synthesiser.

Both mel stages use the same frames of whole-item mels (computed with the item's full
context, so the excerpt's edges are not the STFT's padded edges) and the same vocoder.
"""

from __future__ import annotations

import numpy as np

from neuralsynth.audio import spectral as audio
from neuralsynth.evaluation.cqt import cqt_correlation
from neuralsynth.evaluation.lsd import log_spectral_distance
from neuralsynth.evaluation.vocoder_check import ItemScore, loudest_excerpt, mu_law_round_trip
from neuralsynth.vocoders.score import Score

STAGES = ("mu_law", "ground_truth_mel", "predicted_mel")


def excerpt_samples(seconds: float, n_available: int) -> int:
    """Length of an excerpt of ``seconds``: whole hops, at most the recording's length."""
    want = int(round(seconds * audio.SAMPLE_RATE)) // audio.HOP_LENGTH
    return min(want, n_available // audio.HOP_LENGTH) * audio.HOP_LENGTH


def _vocode(vocoder, mel: np.ndarray, n: int, score: Score | None = None) -> np.ndarray:
    """``vocoder`` output for ``mel [n / hop, M]`` (and the notes behind it), cut or
    zero-padded to ``n`` samples."""
    y = np.asarray(vocoder.vocode(np.ascontiguousarray(mel, dtype=np.float32), score),
                   np.float32).reshape(-1)[:n]
    return np.pad(y, (0, n - y.shape[0]))


def score_item(item_id: str, instrument: str, wave: np.ndarray, mel: np.ndarray,
               predicted: np.ndarray, vocoder, seconds: float,
               score: Score | None = None) -> tuple[ItemScore, dict]:
    """Score the loudest ``seconds`` of recording ``wave`` in every stage.

    ``mel`` and ``predicted`` are the item's whole ground-truth and predicted linear mels
    ``[T, M]`` (frame ``k`` centred on sample ``k * hop`` of ``wave``); ``score`` holds
    the item's notes on that grid (both mel stages pass the excerpt's notes to the
    vocoder, as ``render`` does). Returns the :class:`ItemScore` (log-CQT correlation and
    log-spectral distance per stage) and ``{"original": clip, stage: audio}``.
    """
    n = excerpt_samples(seconds, wave.shape[0])
    if n == 0:
        raise ValueError(f"item {item_id}: recording shorter than one hop")
    start = loudest_excerpt(wave, n)
    clip = np.asarray(wave[start:start + n], np.float32)
    f0, nf = start // audio.HOP_LENGTH, n // audio.HOP_LENGTH
    part = score.excerpt(f0, nf) if score is not None else None
    stages = {
        "mu_law": mu_law_round_trip(clip).astype(np.float32),
        "ground_truth_mel": _vocode(vocoder, mel[f0:f0 + nf], n, part),
        "predicted_mel": _vocode(vocoder, predicted[f0:f0 + nf], n, part),
    }
    corr = {stage: {**cqt_correlation(y, clip), "lsd_db": log_spectral_distance(y, clip)}
            for stage, y in stages.items()}
    score = ItemScore(item_id, instrument, start / audio.SAMPLE_RATE,
                      n / audio.SAMPLE_RATE, corr)
    return score, {"original": clip, **stages}
