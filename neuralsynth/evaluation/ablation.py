"""What an ablation table needs from finished training runs.

The paper's Table 3 compares variants of Mel2Mel by their train and validation loss,
"mean ± std over the last checkpoints". Two pieces make that comparable here:

- :func:`last_validations` / :func:`mean_std`: the figures a run already logged
  (``metrics.jsonl``), summarised over its last few validations;
- :func:`validation_losses`: a trained model scored on its run's validation set in
  *every* spectral loss. A loss variant's own validation loss is on its own scale (abs
  MSE of linear magnitudes is not comparable with a tanh-log error), so rows of
  different losses can only be compared in common units.

The validation set is rebuilt exactly as :class:`~neuralsynth.training.mel2mel.Trainer` builds
it (same pieces, crops and batches, same prediction ``exp(model(x, embed(one_hot)))``),
so the run's own loss measured here on ``last.pt`` equals the last logged ``val_loss``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path
from typing import Any, Iterable

#: The paper's three losses, in the order of its tables.
LOSS_NAMES = ("abs_mse", "log_abs_mse", "tanh_log_abs_mse")


@dataclasses.dataclass(frozen=True)
class MeanStd:
    """Mean and sample standard deviation (0 for one value) of ``n`` values."""

    mean: float
    std: float
    n: int

    def to_dict(self) -> dict[str, float | int]:
        return {"mean": self.mean, "std": self.std, "n": self.n}


def mean_std(values: Iterable[float]) -> MeanStd | None:
    """:class:`MeanStd` of ``values``; None when there are none."""
    vals = [float(v) for v in values]
    if not vals:
        return None
    mean = math.fsum(vals) / len(vals)
    if len(vals) < 2:
        return MeanStd(mean, 0.0, 1)
    var = math.fsum((v - mean) ** 2 for v in vals) / (len(vals) - 1)
    return MeanStd(mean, math.sqrt(var), len(vals))


def last_validations(metrics_path: str | os.PathLike, count: int) -> list[dict[str, Any]]:
    """The last ``count`` records of a run's ``metrics.jsonl`` that follow training steps.

    The step-0 record (the untrained baseline, no train loss) is left out: it says
    nothing about the trained variant. Unreadable lines are skipped, as resuming does.
    """
    records = []
    path = Path(metrics_path)
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict) and rec.get("train_loss") is not None:
                records.append(rec)
    return records[-count:] if count > 0 else []


# ------------------------------------------------------------- scoring in every loss
class ValidationSets:
    """Validation batches per (dataset, instruments, encoder, pieces, crop, batch size).

    Variants with the same encoder share one set, so scoring thirteen runs reads the
    validation features two or three times (once per input layout), not thirteen.
    Only the validation split is loaded.
    """

    def __init__(self) -> None:
        self._sets: dict[str, list[Any]] = {}   # key -> Batch list, kept on the CPU

    def get(self, recipe: Any, encoder: Any) -> list[Any]:
        """Batches of ``recipe``'s validation set, with features from ``encoder``."""
        from neuralsynth.data.batches import segment_frames, validation_batches
        from neuralsynth.data.features import FeatureSet, feature_key
        from neuralsynth.data.splits import VAL
        from neuralsynth.training.base import spread_pieces

        cfg = recipe.train
        key = json.dumps([os.path.abspath(recipe.data.dataset), list(recipe.data.instruments),
                          feature_key(encoder), cfg.val_pieces, cfg.segment_samples,
                          cfg.batch_size], sort_keys=True, default=str)
        if key not in self._sets:
            features = FeatureSet(recipe.data.dataset, list(recipe.data.instruments), encoder,
                                  splits=(VAL,))
            examples = features.examples(VAL)
            if cfg.val_pieces:
                examples = spread_pieces(examples, features.manifest, cfg.val_pieces)
            self._sets[key] = validation_batches(examples, segment_frames(cfg.segment_samples),
                                                 cfg.batch_size)
        return self._sets[key]


def validation_losses(checkpoint: str | os.PathLike, *, device: str = "cpu",
                      sets: ValidationSets | None = None,
                      losses: Iterable[str] = LOSS_NAMES) -> dict[str, float] | None:
    """Mean of each loss in ``losses`` per real frame over the checkpoint's validation set.

    The set is the one its training run validated on (the recipe stored in the
    checkpoint: dataset, instruments, ``val_pieces``, crop length, batch size). Returns
    None when the dataset has no validation items.
    """
    import torch

    from neuralsynth.inference.load import load_trained_model
    from neuralsynth.losses.base import LOSSES

    loaded = load_trained_model(checkpoint, device=device)
    model, recipe = loaded.model, loaded.recipe
    batches = (sets or ValidationSets()).get(recipe, model.encoder)
    if not batches:
        return None
    names = list(losses)
    fns = {n: LOSSES.build({"name": n}).to(device) for n in names}
    one_hot = torch.eye(len(loaded.instruments), device=device)
    totals = dict.fromkeys(names, 0.0)
    frames = 0.0
    with torch.no_grad():
        for batch in batches:
            b = batch.to(device)
            pred = torch.exp(model(b.x, model.embed(one_hot[b.instrument])))
            n = float(b.mask.sum())
            for name, fn in fns.items():
                totals[name] += float(fn(pred, b.mel, b.mask)) * n
            frames += n
    return {n: totals[n] / max(frames, 1.0) for n in names}


__all__ = ["LOSS_NAMES", "MeanStd", "mean_std", "last_validations", "ValidationSets",
           "validation_losses"]
