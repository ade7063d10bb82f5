"""``neuralsynth eval``: a trained model's losses and audio correlations on a dataset.

For every chosen piece of the split and every recording of it as an instrument the
model knows (one *item*):

    S      = mel of the recording                                  [T, 80] linear
    Ŝ      = exp(model(encoder(notes of the piece, T), row of the instrument))

- **losses**: the paper's three training losses (:mod:`neuralsynth.losses.spectral`)
  between ``Ŝ`` and ``S`` over all frames of all items (a frame-weighted mean), reported
  ×10³ as in the paper's tables, overall and per instrument;
- **correlation**: on the loudest ``seconds`` of each item, the log-CQT correlation of
  each stage of :mod:`.stages` with the original (µ-law round trip, ``S`` → vocoder,
  ``Ŝ`` → vocoder): mean, per octave (C1–B1 … C7–B7) and per instrument.

One piece is in memory at a time; the model runs on all of a piece's instruments in
batches of at most ``frame_budget`` frames (a bidirectional LSTM cannot be cut into
windows without changing its output, and a 10-minute piece is 75 000 frames).
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from typing import Any

import numpy as np
import torch

from neuralsynth.audio import spectral as audio
from neuralsynth.errors import DataError, NeuralsynthError, UsageError
from neuralsynth.evaluation.pieces import Piece, select_pieces
from neuralsynth.evaluation.stages import STAGES, score_item
from neuralsynth.evaluation.vocoder_check import ItemScore, summarise
from neuralsynth.vocoders.score import Score

#: The paper's three losses, in the order of its tables.
LOSS_NAMES = ("abs_mse", "log_abs_mse", "tanh_log_abs_mse")
#: Losses are reported multiplied by this (the paper's tables are ×10³).
LOSS_SCALE = 1000.0
#: Octave labels of ``per_octave`` entries (12 CQT bins each, from C1).
OCTAVES = tuple(f"C{o}–B{o}" for o in range(1, 8))
#: Frames the model runs on at once (batch × frames): about 1 GB of LSTM activations.
FRAME_BUDGET = 100_000


@dataclasses.dataclass
class EvalResult:
    """What :func:`evaluate` measured.

    ``losses[name]`` and ``losses_per_instrument[instrument][name]`` are ×10³
    (:data:`LOSS_SCALE`); ``correlation[stage]`` holds ``mean``, ``per_octave`` (7) and
    ``per_instrument``; ``items`` has each excerpt's own correlations.
    """

    model: str
    step: int
    dataset: str
    split: str
    pieces: list[str]
    instruments: list[str]
    seconds: float
    vocoder: dict[str, Any]
    n_frames: int
    losses: dict[str, float]
    losses_per_instrument: dict[str, dict[str, float]]
    correlation: dict[str, dict[str, Any]]
    items: list[ItemScore]
    timings: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: NaN (a correlation of a silent octave) becomes ``null``."""
        out = dataclasses.asdict(self)
        out["loss_scale"] = LOSS_SCALE
        out["stages"] = list(STAGES)
        out["octaves"] = list(OCTAVES)
        return _finite(out)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def check_settings(seconds: float, frame_budget: int) -> None:
    if not (isinstance(seconds, (int, float)) and math.isfinite(seconds) and seconds > 0):
        raise UsageError(f"seconds must be a number > 0, got {seconds!r}")
    if not isinstance(frame_budget, int) or frame_budget < 1:
        raise UsageError(f"frame_budget must be a whole number >= 1, got {frame_budget!r}")


def predict_piece(model, notes, n_frames: int, rows: list[int], *,
                  frame_budget: int = FRAME_BUDGET) -> np.ndarray:
    """Linear mels ``[len(rows), n_frames, M]`` of ``notes`` as each instrument row."""
    param = next(model.parameters())
    feats = model.encoder.encode(notes, n_frames)
    x = torch.as_tensor(np.ascontiguousarray(feats), dtype=param.dtype,
                        device=param.device).unsqueeze(0)                    # [1, T, F]
    with torch.no_grad():
        table = model.instrument_timbres()          # [I, W]: own FiLM offsets included
    batch = max(1, frame_budget // max(1, n_frames))
    out = []
    with torch.inference_mode():
        for start in range(0, len(rows), batch):
            t = table[rows[start:start + batch]]                              # [b, W]
            log_mel = model(x.expand(t.shape[0], -1, -1), t)                  # [b, T, M]
            out.append(torch.exp(log_mel).float().cpu().numpy())
    return np.concatenate(out)


def _loss_fns() -> dict[str, Any]:
    from neuralsynth.losses.base import LOSSES

    return {name: LOSSES.build({"name": name}) for name in LOSS_NAMES}


def evaluate(loaded, dataset: str | os.PathLike, *, split: str = "val",
             pieces: int | None = None, seconds: float = 4.0,
             vocoder: dict[str, Any] | None = None,
             vocoder_options: dict[str, Any] | None = None,
             frame_budget: int = FRAME_BUDGET, progress: bool = True) -> EvalResult:
    """Evaluate ``loaded`` (a :class:`~neuralsynth.inference.load.LoadedModel`) on ``dataset``.

    ``pieces`` limits the pieces of ``split`` (``val``, ``train`` or ``all``) to that many,
    spread over the sorted list; ``seconds`` is the excerpt per item for the audio
    stages. ``vocoder`` is a spec (default: the checkpoint recipe's vocoder, else
    Griffin-Lim), ``vocoder_options`` override its parameters. Every argument is checked
    before any work: :class:`UsageError` for bad settings, :class:`DataError` for a
    dataset that is missing or has nothing to compare with.
    """
    from tqdm import tqdm

    from neuralsynth.midi.read import load_notes
    from neuralsynth.vocoders.select import build_vocoder, vocoder_spec

    started = time.perf_counter()
    check_settings(seconds, frame_budget)
    chosen = select_pieces(dataset, list(loaded.instruments), split=split, pieces=pieces)
    spec = vocoder_spec(vocoder, loaded.recipe, vocoder_options)
    synth = build_vocoder(spec, n_mels=audio.N_MELS, sample_rate=audio.SAMPLE_RATE,
                          hop_length=audio.HOP_LENGTH)
    losses = _loss_fns()
    model = loaded.model
    model.eval()

    sums = {name: 0.0 for name in LOSS_NAMES}
    per_inst: dict[str, dict[str, float]] = {}
    frames_of: dict[str, int] = {}
    scores: list[ItemScore] = []
    timings = {"model": 0.0, "losses": 0.0, "audio_stages": 0.0}
    n_items = sum(len(p.items) for p in chosen)
    bar = tqdm(total=n_items, desc="eval", unit="item", disable=not progress,
               dynamic_ncols=True)
    for piece in chosen:
        try:
            notes = load_notes(piece.midi)
        except NeuralsynthError as exc:
            raise DataError(str(exc)) from None
        for group in _by_length(piece):
            t0 = time.perf_counter()
            n_frames = audio.n_frames(group[0][1].shape[0])
            pred = predict_piece(model, notes, n_frames, [row for row, _, _ in group],
                                 frame_budget=frame_budget)
            timings["model"] += time.perf_counter() - t0
            for k, (row, wave, item) in enumerate(group):
                name = loaded.instruments[row]
                t0 = time.perf_counter()
                mel = audio.mel_spectrogram(wave)                             # [T, M]
                p = torch.from_numpy(pred[k])
                acc = per_inst.setdefault(name, {n: 0.0 for n in LOSS_NAMES})
                with torch.inference_mode():
                    for loss_name, fn in losses.items():
                        value = float(fn(p.unsqueeze(0), mel.unsqueeze(0))) * n_frames
                        sums[loss_name] += value
                        acc[loss_name] += value
                frames_of[name] = frames_of.get(name, 0) + n_frames
                timings["losses"] += time.perf_counter() - t0
                t0 = time.perf_counter()
                score, _ = score_item(item.id, name, wave, mel.numpy(), pred[k], synth,
                                      seconds, Score(notes, n_frames))
                scores.append(score)
                timings["audio_stages"] += time.perf_counter() - t0
                bar.update(1)
                if progress:
                    r = score.correlation["predicted_mel"]["mean"]
                    bar.set_postfix_str(f"{piece.midi.stem[:20]} r={r:.3f}")
    bar.close()

    total = sum(frames_of.values())
    timings["total"] = time.perf_counter() - started
    return EvalResult(
        model=os.fspath(loaded.path) if loaded.path is not None else "",
        step=int(loaded.step), dataset=os.fspath(dataset), split=split,
        pieces=[os.fspath(p.midi.name) for p in chosen],
        instruments=[n for n in loaded.instruments if n in frames_of],
        seconds=float(seconds), vocoder=dict(spec), n_frames=total,
        losses={n: sums[n] / total * LOSS_SCALE for n in LOSS_NAMES},
        losses_per_instrument={
            name: {n: acc[n] / frames_of[name] * LOSS_SCALE for n in LOSS_NAMES}
            for name, acc in per_inst.items()},
        correlation=summarise(scores), items=scores, timings=timings)


def _by_length(piece: Piece) -> list[list[tuple[int, np.ndarray, Any]]]:
    """The piece's recordings read and grouped by length: ``[[(row, wave, item)]]``.

    Recordings of one piece normally have one length; the model runs once per length.
    """
    groups: dict[int, list] = {}
    for row, item in zip(piece.rows, piece.items):
        try:
            wave = audio.read_audio(item.audio)
        except NeuralsynthError as exc:
            raise DataError(f"item '{item.id}': {exc}") from None
        if wave.shape[0] < audio.HOP_LENGTH:
            raise DataError(f"item '{item.id}': recording shorter than one frame hop")
        groups.setdefault(audio.n_frames(wave.shape[0]), []).append((row, wave, item))
    return list(groups.values())
