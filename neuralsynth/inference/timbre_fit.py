"""Timbre from a recording: the point of the timbre space that best explains audio of
known notes, with the network frozen.

The model predicts a mel from the notes and a timbre embedding ``t``; for a recording of
those notes, the ``t`` that minimises the training loss (tanh-log-abs MSE) between the
prediction and the recording's mel is the recording's place in the timbre space. The
recording's level is arbitrary (a microphone, a fader), so a gain is fitted alongside
the point and the loss compares shapes, not levels. The
search starts from every instrument and the centroid (scored together in one batch on
an excerpt), then refines the best start with Adam on all the audio, keeping the best
point seen. A recording may start a little before or after its MIDI: a constant offset
of up to ``max_offset`` seconds is found first by lining up note onsets with the
recording's spectral flux.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from neuralsynth.audio.constants import HOP_LENGTH, SAMPLE_RATE
from neuralsynth.errors import AudioError, MidiError, NeuralsynthError
from neuralsynth.inference.timbre_adapt import ADAPT_STEPS, adapt_film, film_sites
from neuralsynth.midi.notes import Notes
from neuralsynth.midi.read import MidiSource, describe_source, load_notes

#: Frames of each recording scored for every start (10 s): enough to tell instruments
#: apart, a fraction of the cost of the whole recording.
_START_FRAMES = int(10 * SAMPLE_RATE / HOP_LENGTH)
#: A recording quieter than this peak is silence.
_SILENT_PEAK = 1e-4


@dataclasses.dataclass
class TimbreFit:
    """A fitted timbre: ``embedding`` float32 ``[D]``; ``loss`` the tanh-log-abs MSE of
    the model's prediction with it (``start_loss`` that of the best start, ``start``
    its name); ``gain_db`` how much louder the recordings are than the model makes that
    timbre (a recording's level is not its timbre, so it is fitted apart);
    ``offsets`` seconds by which each recording lags its MIDI; ``nearest``
    the instruments by distance; ``mix`` the weights of the two-instrument mix closest
    to the point; ``seconds`` the time the fit took."""

    embedding: torch.Tensor
    loss: float
    start: str
    start_loss: float
    offsets: list[float]
    nearest: list[tuple[str, float]]
    mix: dict[str, float]
    seconds: float
    gain_db: float = 0.0
    #: With ``adapt="film"``: the timbre's own FiLM offsets, ``"gamma.<site>"`` /
    #: ``"beta.<site>"`` → ``[C]``; ``loss`` is then the adapted loss and ``point_loss``
    #: that of the point alone.
    film: dict[str, torch.Tensor] | None = None
    point_loss: float | None = None
    #: Notes transcribed from each recording given without MIDI.
    notes_heard: list[int] = dataclasses.field(default_factory=list)

    def describe(self) -> str:
        coords = ", ".join(f"{v:.3f}" for v in self.embedding.tolist())
        mix = ", ".join(f"{k} {w:.0%}" for k, w in self.mix.items())
        adapted = (f", FiLM adapted from {self.point_loss:.5f}" if self.film is not None
                   else "")
        return (f"xy:{coords.replace(' ', '')}  loss {self.loss:.5f}{adapted} (start "
                f"{self.start}: {self.start_loss:.5f}); nearest {self.nearest[0][0]} "
                f"({self.nearest[0][1]:.3f}); closest mix {mix}")


def read_recording(path: str | Path) -> np.ndarray:
    """A recording as float32 mono at 16 kHz (any rate, mono or stereo; soxr resampling);
    one-line AudioError for unreadable, non-finite or silent audio."""
    import soundfile as sf
    import soxr

    p = Path(path)
    try:
        data, rate = sf.read(str(p), dtype="float32", always_2d=True)
    except Exception as exc:  # libsndfile's errors: missing, not audio, truncated
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise AudioError(f"{p}: cannot read audio ({reason})") from None
    mono = data.mean(axis=1)
    if not np.all(np.isfinite(mono)):
        raise AudioError(f"{p}: the audio has NaN or infinite samples")
    if mono.size == 0 or float(np.max(np.abs(mono))) < _SILENT_PEAK:
        raise AudioError(f"{p}: the recording is silent")
    if rate != SAMPLE_RATE:
        mono = soxr.resample(mono, rate, SAMPLE_RATE, quality="HQ")
    return np.ascontiguousarray(mono, dtype=np.float32)


def fit_timbre(synth, recordings: Sequence[tuple[str | Path, MidiSource | None]], *,
               steps: int = 30, lr: float = 0.05, max_offset: float = 0.5,
               adapt: str | None = None, adapt_steps: int = ADAPT_STEPS) -> TimbreFit:
    """Fit one timbre to ``recordings`` (pairs of an audio file and the MIDI it plays;
    a MIDI of None has its notes transcribed from the audio), jointly; ``synth`` a
    :class:`~neuralsynth.inference.synth.Synth`. With ``adapt="film"`` the timbre also
    gets its own FiLM offsets (see
    :mod:`~neuralsynth.inference.timbre_adapt`). Every input is read and checked before
    the optimisation starts."""
    if not recordings:
        raise NeuralsynthError("give at least one recording and its MIDI")
    if adapt not in (None, "none", "film"):
        raise NeuralsynthError(f"unknown adaptation '{adapt}'; choose none or film")
    adapt = None if adapt == "none" else adapt
    model = synth.model
    if adapt == "film":
        film_sites(model)                  # a model without FiLM is refused up front
    started = time.perf_counter()
    items, offsets, heard = [], [], []
    transcriber = _transcriber() if any(m is None for _, m in recordings) else None
    for audio_path, midi in recordings:
        wave = read_recording(audio_path)
        if midi is None:                   # no MIDI: the notes are transcribed
            notes = transcriber.notes(wave)
            if len(notes) == 0:
                raise AudioError(f"{audio_path}: no notes were heard in it, so there is "
                                 f"nothing to fit; give its MIDI with --midi")
            heard.append(len(notes))
        else:
            notes = load_notes(midi)
            _check_lengths(wave, notes, audio_path, midi)
        target = _mel(wave)                                              # [T, 80]
        lag = _offset_frames(model, model.encoder.encode(notes, target.shape[0]), target,
                             max_offset)
        offsets.append(lag * HOP_LENGTH / SAMPLE_RATE)
        shifted = notes.shifted(lag * HOP_LENGTH / SAMPLE_RATE)
        features = model.encoder.encode(shifted, target.shape[0])
        items.append((torch.from_numpy(np.ascontiguousarray(features, np.float32))
                      .unsqueeze(0), target.unsqueeze(0)))
    loss_fn = _loss()
    table = model.instrument_embeddings().detach().float()               # [K, D]
    starts = torch.cat([table, table.mean(0, keepdim=True)])            # [K + 1, D]
    names = list(synth.instruments) + ["centroid"]
    frozen = [p.requires_grad for p in model.parameters()]
    for p in model.parameters():
        p.requires_grad_(False)
    try:
        with torch.inference_mode():
            scores = torch.zeros(len(starts))
            gains = torch.zeros(len(starts))
            for x, target in items:
                n = min(target.shape[1], _START_FRAMES)
                pred = model.predict_mel(x[:, :n].expand(len(starts), -1, -1), starts)
                for i in range(len(starts)):
                    g = _level(pred[i:i + 1], target[:, :n])
                    gains[i] += g / len(items)
                    scores[i] += loss_fn(pred[i:i + 1] * math.exp(g), target[:, :n])
        first = int(torch.argmin(scores))
        point, gain, best, start_loss = _refine(model, items, starts[first],
                                                float(gains[first]), loss_fn, steps, lr)
        film, point_loss = None, None
        if adapt == "film" and math.isfinite(best):
            point_loss = best
            film, gain, best, _ = adapt_film(model, items, point, gain, loss_fn,
                                             steps=adapt_steps)
    finally:
        for p, flag in zip(model.parameters(), frozen):
            p.requires_grad_(flag)
    if not math.isfinite(best):
        raise NeuralsynthError("the fit's loss is not finite; is the recording of that MIDI?")
    nearest = nearest_instruments(point, table, list(synth.instruments))
    return TimbreFit(embedding=point.detach().clone(), loss=best, start=names[first],
                     start_loss=start_loss, offsets=offsets, nearest=nearest,
                     gain_db=20.0 * gain / math.log(10.0),
                     mix=closest_mix(point, table, list(synth.instruments)),
                     seconds=time.perf_counter() - started, film=film,
                     point_loss=point_loss, notes_heard=heard)


def _transcriber():
    from neuralsynth.midi.transcribe import Transcriber

    return Transcriber()


def _loss():
    from neuralsynth.losses.spectral import TanhLogAbsMSE

    return TanhLogAbsMSE(TanhLogAbsMSE.Config())


def _mel(wave: np.ndarray) -> torch.Tensor:
    from neuralsynth.audio.spectral import mel_spectrogram

    return mel_spectrogram(wave).float()


def _level(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Log gain that brings ``pred`` to the level of ``target``: the mean log ratio over
    the bins where the recording is within 60 dB of its peak."""
    loud = target > target.max() * 1e-3
    if not bool(loud.any()):
        return 0.0
    ratio = torch.log(target[loud].clamp_min(1e-5)) - torch.log(pred[loud].clamp_min(1e-5))
    return float(ratio.mean())


def _total(model, items, point: torch.Tensor, gain: torch.Tensor, loss_fn) -> torch.Tensor:
    total = 0.0
    for x, target in items:
        pred = model.predict_mel(x, point.unsqueeze(0)) * torch.exp(gain)
        total = total + loss_fn(pred, target)
    return total / len(items)


def _refine(model, items, start: torch.Tensor, gain0: float, loss_fn, steps: int,
            lr: float):
    """Adam on the point and the level from ``start``; the best point seen (the start
    included), its log gain, its loss and the start's loss."""
    point = start.clone().requires_grad_(True)
    gain = torch.tensor(float(gain0), requires_grad=True)
    opt = torch.optim.Adam([point, gain], lr=lr)
    best_point, best_gain, best, start_loss = start.clone(), float(gain0), math.inf, math.inf
    for step in range(int(steps) + 1):
        opt.zero_grad()
        loss = _total(model, items, point, gain, loss_fn)
        value = float(loss.detach())
        if step == 0:
            start_loss = value
        if value < best:
            best, best_point, best_gain = value, point.detach().clone(), float(gain.detach())
        if step == steps or not math.isfinite(value):
            break
        loss.backward()
        opt.step()
    return best_point, best_gain, best, start_loss


def _check_lengths(wave: np.ndarray, notes: Notes, audio, midi) -> None:
    # A recording may stop early (an excerpt: the notes after its end are not used) or
    # ring on, but not cover under half of the MIDI or outlast it by half a minute.
    seconds = wave.shape[0] / SAMPLE_RATE
    if seconds < 0.5 * notes.duration or seconds > notes.duration + 30.0:
        raise MidiError(f"{audio} ({seconds:.1f} s) cannot be a recording of "
                        f"{describe_source(midi)} (its notes last {notes.duration:.1f} s)")


def _offset_frames(model, features: np.ndarray, target: torch.Tensor,
                   max_offset: float) -> int:
    """Frames by which the recording lags the MIDI, within ±``max_offset`` s: the lag that
    best lines up the spectral flux of the model's prediction for the notes (centroid
    timbre) with the recording's, so both carry the same analysis-window spread."""
    reach = int(round(max_offset * SAMPLE_RATE / HOP_LENGTH))
    if reach == 0:
        return 0
    with torch.inference_mode():
        x = torch.from_numpy(np.ascontiguousarray(features, np.float32)).unsqueeze(0)
        centre = model.instrument_embeddings().detach().float().mean(0, keepdim=True)
        pred = model.predict_mel(x, centre)[0]
    a = _flux(pred)
    b = _flux(target)
    n = min(a.shape[0], b.shape[0])
    best, best_score = 0, -np.inf
    for lag in range(-reach, reach + 1):
        lo, hi = max(0, -lag), min(n, n - lag)
        score = float(np.dot(a[lo:hi], b[lo + lag:hi + lag]))
        if score > best_score:
            best, best_score = lag, score
    return best


def _flux(mel: torch.Tensor) -> np.ndarray:
    """Positive change of the log mel per frame, summed over bands, mean removed."""
    log_mel = torch.log(mel.float().clamp_min(1e-5))
    flux = torch.relu(log_mel[1:] - log_mel[:-1]).sum(1).numpy().astype(np.float64)
    return flux - flux.mean()


def nearest_instruments(point: torch.Tensor, table: torch.Tensor,
                        names: list[str]) -> list[tuple[str, float]]:
    """Every instrument as ``(name, distance)`` from ``point [D]``, nearest first."""
    dist = torch.cdist(point.detach().reshape(1, -1).to(table.dtype), table)[0]
    return [(names[i], float(dist[i])) for i in torch.argsort(dist).tolist()]


def closest_mix(point: torch.Tensor, table: torch.Tensor, names: list[str]) -> dict:
    """Weights of the point on the segment between two instruments that is closest to
    it: the mix of two that the fitted timbre resembles most."""
    best, best_d = {names[0]: 1.0}, math.inf
    p = point.detach()
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            a, b = table[i], table[j]
            ab = b - a
            w = float(torch.clamp(torch.dot(p - a, ab) / torch.dot(ab, ab).clamp_min(1e-12),
                                  0.0, 1.0))
            d = float(torch.linalg.vector_norm(a + w * ab - p))
            if d < best_d:
                best_d = d
                best = {names[i]: 1.0 - w, names[j]: w}
    return {k: v for k, v in sorted(best.items(), key=lambda kv: -kv[1]) if v >= 0.005}


__all__ = ["TimbreFit", "closest_mix", "fit_timbre", "nearest_instruments", "read_recording"]
