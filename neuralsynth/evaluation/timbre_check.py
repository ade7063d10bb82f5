"""Timbre check: is each instrument's render nearer its own FluidSynth rendering than any other?

For every piece of a dataset split that was rendered with all the checked instruments:

    truth_j = mel of the FluidSynth rendering of the piece as instrument j     [T, 80]
    pred_i  = model(features of the piece, embedding of instrument i)          [T, 80]
    D[i, j] = distance(pred_i, truth_j)     (averaged over all pieces' frames)

Instrument ``i`` passes when ``truth_i`` is strictly the nearest truth to ``pred_i``
(``D[i, i] < D[i, j]`` for every ``j != i``). ``wins[i, j]`` counts the pieces on which
``truth_j`` was the nearest to ``pred_i``, to show how consistent the verdict is.

Mix check, for a pair (a, b): ``M`` is the render with the 50/50 mix of their embeddings.
It lies between them when ``d(M, truth_a) < d(truth_a, truth_b)`` and
``d(M, truth_b) < d(truth_a, truth_b)``; the same is reported against the model's own
renders of a and b (``d(M, pred_a)``, ``d(M, pred_b)`` vs ``d(pred_a, pred_b)``).

Distance (default :data:`METRIC` = ``tanh_log_mse``): mean over frames and mel bins of
``(tanh(log A / 4) - tanh(log B / 4))²``, logs of magnitudes clipped at ``MAG_FLOOR``.
Why this one:

- it is the paper's training loss (``tanh_log_abs_mse``), so the diagonal ``D[i, i]``
  reads on the scale of a run's validation loss;
- a log scale compares spectral *shape* (ratios between partials), which is what timbre
  is, and the tanh weights the audible bins: everything below about -70 dB is squeezed
  near -1, so the -100 dB floor and inaudible release tails do not decide the verdict
  (they dominate a plain log-mel difference, where a model's near-silence at -80 dB
  against a truth at the floor costs as much as a wrong partial);
- it is squared: a perfect 50/50 mix halfway between two truths sits at a quarter of
  their distance (half of it for an absolute difference), which leaves the mix check
  room for the model's own error. ``log_l1`` and ``log_mse`` are available to compare.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from neuralsynth.audio.spectral import mel_spectrogram, read_audio
from neuralsynth.errors import DataError, NeuralsynthError, UsageError
from neuralsynth.evaluation.distance import METRIC, Metric, compress, metric_named, pairwise
from neuralsynth.midi.instruments import resolve_instrument


# --------------------------------------------------------------------------- results
@dataclasses.dataclass
class MixResult:
    """The 50/50 mix of instruments ``a`` and ``b``; distances are frame-weighted means."""

    a: str
    b: str
    mix_truth_a: float     # d(M, truth_a)
    mix_truth_b: float     # d(M, truth_b)
    truth_ab: float        # d(truth_a, truth_b)
    mix_pred_a: float      # d(M, pred_a)
    mix_pred_b: float      # d(M, pred_b)
    pred_ab: float         # d(pred_a, pred_b)

    @property
    def between_truths(self) -> bool:
        """M is closer to each truth than the two truths are to each other."""
        return self.mix_truth_a < self.truth_ab and self.mix_truth_b < self.truth_ab

    @property
    def between_preds(self) -> bool:
        """The same, against the model's own renders of a and b."""
        return self.mix_pred_a < self.pred_ab and self.mix_pred_b < self.pred_ab

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "between_truths": self.between_truths,
                "between_preds": self.between_preds}


@dataclasses.dataclass
class TimbreCheckResult:
    """Outcome of :func:`timbre_check` for ``n`` checked instruments.

    ``distance[i, j]`` (``[n, n]``): render as ``instruments[i]`` vs truth of
    ``instruments[j]``; ``truth_distance[j, k]``: truth vs truth (the spread of the
    dataset's timbres); ``wins[i, j]``: pieces on which truth ``j`` was nearest to render
    ``i``. ``passed[i]`` is ``distance[i, i] < distance[i, j]`` for all ``j != i``;
    ``margin[i]`` is ``min_{j != i} distance[i, j] - distance[i, i]`` (positive: pass).
    """

    instruments: list[str]
    distance: np.ndarray
    truth_distance: np.ndarray
    wins: np.ndarray
    passed: list[bool]
    margin: list[float]
    mixes: list[MixResult]
    split: str
    n_pieces: int
    n_frames: int
    skipped_pieces: int              # pieces of the split lacking a checked rendering
    not_in_dataset: list[str]        # model instruments the dataset has no renderings of
    metric: str = METRIC

    @property
    def n_pass(self) -> int:
        return int(sum(self.passed))

    @property
    def n(self) -> int:
        return len(self.instruments)

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "split": self.split, "instruments": self.instruments,
                "n_pass": self.n_pass, "n": self.n, "passed": self.passed,
                "margin": self.margin, "distance": self.distance.tolist(),
                "truth_distance": self.truth_distance.tolist(), "wins": self.wins.tolist(),
                "mixes": [m.to_dict() for m in self.mixes], "n_pieces": self.n_pieces,
                "n_frames": self.n_frames, "skipped_pieces": self.skipped_pieces,
                "not_in_dataset": self.not_in_dataset}


# --------------------------------------------------------------------------- inputs
def mix_pairs_from_spec(spec: str) -> str | list[tuple[str, str]] | None:
    """``'all'``, ``'none'`` or ``'piano+organ,piano+trumpet'`` → a ``mix_pairs`` argument."""
    text = spec.strip()
    if text.lower() == "all":
        return "all"
    if text.lower() in ("none", ""):
        return None
    pairs = []
    for part in text.split(","):
        names = [n.strip() for n in part.split("+")]
        if len(names) != 2 or not all(names):
            raise UsageError(f"mix pair '{part.strip()}' must be two instruments joined by "
                             f"'+', like piano+organ (or use 'all' / 'none')")
        pairs.append((names[0], names[1]))
    return pairs


def _checked_instruments(manifest_names: list[str], model_names: list[str],
                         only: Sequence[str] | None) -> tuple[list[str], dict[str, str], list[str]]:
    """``(checked model names, model name → manifest name, model names not in dataset)``."""
    to_manifest: dict[str, str] = {}
    for name in manifest_names:
        try:
            to_manifest.setdefault(resolve_instrument(name, model_names), name)
        except NeuralsynthError:
            continue  # the model was not trained on it
    wanted = list(model_names)
    if only is not None:
        wanted = [resolve_instrument(n, model_names) for n in only]
        wanted = list(dict.fromkeys(wanted))
    checked = [n for n in wanted if n in to_manifest]
    missing = [n for n in wanted if n not in to_manifest]
    return checked, to_manifest, missing


def _pieces(manifest, split: str, needed: list[str]) -> tuple[list[tuple[Path, dict]], int]:
    """Pieces of ``split`` rendered as every ``needed`` manifest instrument, sorted by MIDI
    path: ``[(midi, {manifest instrument: audio path})]``, and how many lacked one."""
    by_midi: dict[Path, dict[str, Path]] = {}
    for it in manifest.split(split):
        by_midi.setdefault(it.midi, {})[it.instrument] = it.audio
    complete = [(midi, audio) for midi, audio in sorted(by_midi.items())
                if all(n in audio for n in needed)]
    return complete, len(by_midi) - len(complete)


def _resolve_pairs(mix_pairs, checked: list[str], model_names: list[str]) -> list[tuple[int, int]]:
    """Index pairs into ``checked``; names resolve against the model's instruments."""
    if mix_pairs is None:
        return []
    if isinstance(mix_pairs, str):
        if mix_pairs != "all":
            raise UsageError(f"mix_pairs must be 'all', None or a list of pairs, got "
                             f"{mix_pairs!r}")
        return list(itertools.combinations(range(len(checked)), 2))
    out = []
    for a, b in mix_pairs:
        names = [resolve_instrument(n, model_names) for n in (a, b)]
        for given, name in zip((a, b), names):
            if name not in checked:
                raise UsageError(f"mix pair {a}+{b}: {given} is not checked (the dataset has "
                                 f"no renderings of it, or it was left out)")
        ia, ib = (checked.index(n) for n in names)
        if ia == ib:
            raise UsageError(f"mix pair {a}+{b} names the same instrument twice")
        out.append((ia, ib))
    return out


# --------------------------------------------------------------------------- the check
def _truths(audio_paths: list[Path], metric: Metric) -> torch.Tensor:
    """Compressed log-mels of the renderings, cut to the shortest: ``[n, T, 80]``."""
    mels = []
    for path in audio_paths:
        try:
            mels.append(mel_spectrogram(read_audio(path)))
        except NeuralsynthError as exc:
            raise DataError(str(exc)) from None
    n_frames = min(int(m.shape[0]) for m in mels)
    return compress(torch.log(torch.stack([m[:n_frames] for m in mels])), metric)


def _render(model, x: torch.Tensor, t: torch.Tensor, batch_size: int,
            metric: Metric) -> torch.Tensor:
    """Compressed log-mel of ``x [1, T, F]`` under each timbre of ``t [n, D]`` → ``[n, T, M]``,
    ``batch_size`` timbres per forward pass (bounds the LSTM's activations)."""
    out = []
    for start in range(0, t.shape[0], batch_size):
        tb = t[start:start + batch_size]
        log_mel = model(x.expand(tb.shape[0], -1, -1), tb)
        out.append(compress(log_mel.float().cpu(), metric))
    return torch.cat(out)


def timbre_check(loaded, dataset: str | os.PathLike, *, split: str = "val",
                 pieces: int | None = None, instruments: Sequence[str] | None = None,
                 mix_pairs: str | Sequence[tuple[str, str]] | None = "all",
                 metric: str = METRIC, batch_size: int = 4,
                 progress: bool = True) -> TimbreCheckResult:
    """Run the timbre and mix checks of ``loaded`` (a :class:`~neuralsynth.inference.load.LoadedModel`)
    on the ``split`` pieces of the dataset directory ``dataset``.

    ``pieces`` limits the check to the first N pieces (sorted by MIDI path);
    ``instruments`` restricts it to some of the model's instruments (default: all that
    the dataset has renderings of); ``mix_pairs`` is ``'all'``, ``None`` or a list of
    ``(a, b)`` names. One piece is in memory at a time. Raises :class:`DataError` when
    fewer than two instruments or no piece can be checked, :class:`UsageError` for bad
    arguments.
    """
    from tqdm import tqdm

    from neuralsynth.data.manifest import read_manifest
    from neuralsynth.data.splits import SPLITS
    from neuralsynth.midi.read import load_notes

    if split not in SPLITS:
        raise UsageError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    if pieces is not None and (not isinstance(pieces, int) or pieces < 1):
        raise UsageError(f"pieces must be a whole number >= 1, got {pieces!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise UsageError(f"batch_size must be a whole number >= 1, got {batch_size!r}")

    met = metric_named(metric)
    model = loaded.model
    manifest = read_manifest(dataset)
    checked, to_manifest, missing = _checked_instruments(manifest.instruments,
                                                         list(loaded.instruments), instruments)
    if len(checked) < 2:
        raise DataError(f"dataset '{dataset}' has renderings of {len(checked)} of the model's "
                        f"instruments ({', '.join(checked) or 'none'}); the timbre check "
                        f"needs at least two")
    pairs = _resolve_pairs(mix_pairs, checked, list(loaded.instruments))
    todo, skipped = _pieces(manifest, split, [to_manifest[n] for n in checked])
    if not todo:
        raise DataError(f"dataset '{dataset}' has no {split} piece rendered as all of "
                        f"{', '.join(to_manifest[n] for n in checked)}")
    if pieces is not None:
        todo = todo[:pieces]

    n = len(checked)
    rows = [list(loaded.instruments).index(name) for name in checked]
    param = next(model.parameters())
    # Frame-weighted sums of per-piece mean distances.
    dist = torch.zeros(n, n, dtype=torch.float64)
    truth_dist = torch.zeros(n, n, dtype=torch.float64)
    wins = np.zeros((n, n), dtype=np.int64)
    mix_sums = torch.zeros(len(pairs), 4, dtype=torch.float64)   # M vs ta, tb, pa, pb
    pred_dist = torch.zeros(n, n, dtype=torch.float64)
    total_frames = 0

    model.eval()
    bar = tqdm(todo, desc="timbre check", unit="piece", disable=not progress,
               dynamic_ncols=True)
    with torch.inference_mode():
        table = model.instrument_timbres()[rows]         # [n, W]: own FiLM offsets too
        if pairs:
            weights = torch.zeros(len(pairs), model.n_instruments, dtype=param.dtype,
                                  device=param.device)
            for k, (a, b) in enumerate(pairs):
                weights[k, rows[a]] = weights[k, rows[b]] = 0.5
            mix_table = model.embed(weights)                                   # [P, W]
        for midi, audio in bar:
            truth = _truths([audio[to_manifest[name]] for name in checked], met)    # [n, T, M]
            n_frames = int(truth.shape[1])
            try:
                notes = load_notes(midi)
            except NeuralsynthError as exc:
                raise DataError(str(exc)) from None
            feats = model.encoder.encode(notes, n_frames)
            x = torch.as_tensor(np.ascontiguousarray(feats), dtype=param.dtype,
                                device=param.device).unsqueeze(0)              # [1, T, F]
            pred = _render(model, x, table, batch_size, met)                       # [n, T, M]

            piece = pairwise(pred, truth, met.power)
            dist += piece * n_frames
            truth_dist += pairwise(truth, truth, met.power) * n_frames
            pred_dist += pairwise(pred, pred, met.power) * n_frames
            wins[np.arange(n), piece.argmin(dim=1).numpy()] += 1
            # Mixes a batch at a time: all 45 pairs of ten instruments at once would hold
            # 45 spectrograms of the piece.
            for start in range(0, len(pairs), batch_size):
                mixes = _render(model, x, mix_table[start:start + batch_size], batch_size,
                                met)                                           # [b, T, M]
                for k, (a, b) in enumerate(pairs[start:start + batch_size], start):
                    m = mixes[k - start:k - start + 1]
                    mix_sums[k, :2] += pairwise(m, truth[[a, b]], met.power)[0] * n_frames
                    mix_sums[k, 2:] += pairwise(m, pred[[a, b]], met.power)[0] * n_frames
            total_frames += n_frames
            if progress:
                bar.set_postfix_str(f"{_passed(dist).count(True)}/{n} pass")
    bar.close()

    dist /= total_frames
    truth_dist /= total_frames
    pred_dist /= total_frames
    mix_sums /= total_frames
    passed = _passed(dist)
    mixes_out = [MixResult(a=checked[a], b=checked[b],
                           mix_truth_a=float(mix_sums[k, 0]), mix_truth_b=float(mix_sums[k, 1]),
                           truth_ab=float(truth_dist[a, b]),
                           mix_pred_a=float(mix_sums[k, 2]), mix_pred_b=float(mix_sums[k, 3]),
                           pred_ab=float(pred_dist[a, b]))
                 for k, (a, b) in enumerate(pairs)]
    return TimbreCheckResult(instruments=checked, distance=dist.numpy(),
                             truth_distance=truth_dist.numpy(), wins=wins, passed=passed,
                             margin=_margins(dist), mixes=mixes_out, split=split,
                             n_pieces=len(todo), n_frames=total_frames,
                             skipped_pieces=skipped, not_in_dataset=missing,
                             metric=met.name)


def _passed(dist: torch.Tensor) -> list[bool]:
    """Row ``i`` passes when its diagonal entry is strictly the row's smallest."""
    return [m > 0 for m in _margins(dist)]


def _margins(dist: torch.Tensor) -> list[float]:
    n = dist.shape[0]
    out = []
    for i in range(n):
        others = torch.cat([dist[i, :i], dist[i, i + 1:]])
        out.append(float(others.min() - dist[i, i]))
    return out


# --------------------------------------------------------------------------- report
