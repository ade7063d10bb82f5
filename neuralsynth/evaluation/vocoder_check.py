"""How close vocoded audio is to the original: log-CQT correlation per stage.

For validation items of a dataset, an excerpt of the original recording is turned into
its ground-truth mel and back into audio by each vocoder; the paper's measure (Pearson
correlation of 84-bin log-CQTs, :mod:`.cqt`) compares each result with the original.
The µ-law round trip (8-bit companding, no model at all) is the ceiling any µ-law
vocoder can reach and is reported as the stage ``mu_law``.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np

from neuralsynth.audio import spectral as audio
from neuralsynth.data.manifest import read_manifest
from neuralsynth.evaluation.cqt import cqt_correlation
from neuralsynth.midi.read import load_notes
from neuralsynth.vocoders.score import Score


@dataclasses.dataclass
class ItemScore:
    """Correlations of one excerpt: ``{stage: {"mean": r, "per_octave": [r × 7]}}``."""

    item: str
    instrument: str
    start_s: float
    seconds: float
    correlation: dict[str, dict[str, Any]]


def loudest_excerpt(wave: np.ndarray, n: int, hop: int = audio.HOP_LENGTH) -> int:
    """Start (a multiple of ``hop``) of the ``n``-sample window with the most energy."""
    if wave.shape[0] <= n:
        return 0
    power = np.concatenate([[0.0], np.cumsum(wave.astype(np.float64) ** 2)])
    starts = np.arange(0, wave.shape[0] - n + 1, hop)
    return int(starts[np.argmax(power[starts + n] - power[starts])])


def pick_items(items: list, per_instrument: int) -> list:
    """``per_instrument`` items of each instrument, spread over the sorted list."""
    chosen = []
    for name in sorted({it.instrument for it in items}):
        own = sorted((it for it in items if it.instrument == name), key=lambda it: it.id)
        step = max(1, len(own) // max(1, per_instrument))
        chosen += own[::step][:per_instrument]
    return chosen


def mu_law_round_trip(wave: np.ndarray) -> np.ndarray:
    return audio.mu_law_decode(audio.mu_law_encode(np.clip(wave, -1.0, 1.0)))


def vocoder_check(dataset: str | os.PathLike, vocoders: dict[str, Any], *,
                  split: str = "val", per_instrument: int = 1, seconds: float = 4.0,
                  out_dir: str | os.PathLike | None = None,
                  progress: Callable[[str], None] | None = None) -> list[ItemScore]:
    """Score every vocoder (``{name: Vocoder}``) on excerpts of ``split`` items.

    With ``out_dir``, the original excerpt and each stage's audio are written there as
    ``<item>-<stage>.wav`` (atomically) for listening.
    """
    manifest = read_manifest(dataset)
    items = pick_items(manifest.split(split), per_instrument)
    n = int(round(seconds * audio.SAMPLE_RATE)) // audio.HOP_LENGTH * audio.HOP_LENGTH
    scores = []
    for item in items:
        wave = audio.read_audio(item.audio)
        start = loudest_excerpt(wave, n)
        clip = wave[start:start + n]
        mel = audio.mel_spectrogram(clip).numpy()
        # The item's notes on the excerpt's frames, for vocoders that read the score.
        whole = Score(load_notes(item.midi), audio.n_frames(wave.shape[0]))
        score = whole.excerpt(start // audio.HOP_LENGTH, mel.shape[0])
        stages = {"mu_law": mu_law_round_trip(clip)}
        for name, voc in vocoders.items():
            if progress is not None:
                progress(f"{item.id}: {name}")
            stages[name] = np.asarray(voc.vocode(mel, score), np.float32)[:clip.shape[0]]
        corr = {stage: cqt_correlation(y, clip) for stage, y in stages.items()}
        scores.append(ItemScore(item.id, item.instrument, start / audio.SAMPLE_RATE,
                                clip.shape[0] / audio.SAMPLE_RATE, corr))
        if out_dir is not None:
            out = Path(out_dir)
            out.mkdir(parents=True, exist_ok=True)
            audio.write_audio(out / f"{item.id}-original.wav", clip)
            for stage, y in stages.items():
                audio.write_audio(out / f"{item.id}-{stage}.wav", y)
    return scores


def summarise(scores: list[ItemScore]) -> dict[str, Any]:
    """Mean correlation per stage, per stage and instrument, and per stage and octave."""
    stages = list(scores[0].correlation) if scores else []
    out: dict[str, Any] = {}
    for stage in stages:
        per_inst: dict[str, list[float]] = {}
        for s in scores:
            per_inst.setdefault(s.instrument, []).append(s.correlation[stage]["mean"])
        octaves = np.array([s.correlation[stage]["per_octave"] for s in scores], np.float64)
        inst_octaves: dict[str, list] = {}
        lsd: dict[str, list[float]] = {}
        for s, row in zip(scores, octaves):
            inst_octaves.setdefault(s.instrument, []).append(row)
            if "lsd_db" in s.correlation[stage]:
                lsd.setdefault(s.instrument, []).append(s.correlation[stage]["lsd_db"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)    # an octave silent everywhere
            out[stage] = {
                "mean": float(np.mean([s.correlation[stage]["mean"] for s in scores])),
                "per_instrument": {k: float(np.mean(v)) for k, v in sorted(per_inst.items())},
                "per_octave": [float(v) for v in np.nanmean(octaves, axis=0)],
                "per_instrument_octave": {
                    k: [float(x) for x in np.nanmean(np.array(v), axis=0)]
                    for k, v in sorted(inst_octaves.items())},
            }
        if lsd:
            out[stage]["lsd_db"] = float(np.mean([x for v in lsd.values() for x in v]))
            out[stage]["lsd_db_per_instrument"] = {k: float(np.mean(v))
                                                   for k, v in sorted(lsd.items())}
    return out
