"""The objects one Mel2Mel optimisation step needs, built from a recipe.

One step::

    batch = random crops of the training items         (SegmentSampler, seeded)
    S_hat = exp(model(x, embed(one_hot(instrument))))  (model predicts log mel)
    loss  = LOSSES[recipe.loss](S_hat, S, mask)        (on linear mel magnitudes)
    Adam step, gradient-norm clipping, lr halved every lr_halve_every steps
"""

from __future__ import annotations

import abc
import random
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .errors import NeuralsynthError, UsageError
from .run_state import capture_rng_state, restore_rng_state


class TrainingError(NeuralsynthError):
    """Training cannot go on (diverged loss)."""


def _spread_pieces(examples: list, manifest: Any, n_pieces: int) -> list:
    """The examples of ``n_pieces`` pieces taken evenly over the sorted list of pieces."""
    midi_of = {item.id: item.midi for item in manifest.items}
    pieces = sorted({midi_of[ex.id] for ex in examples})
    if n_pieces >= len(pieces):
        return examples
    chosen = {pieces[int(i * len(pieces) / n_pieces)] for i in range(n_pieces)}
    return [ex for ex in examples if midi_of[ex.id] in chosen]


class TrainerBase(abc.ABC):
    """What every trainer shares with the loop in :mod:`neuralsynth.train`: the lr, whether
    there is a validation set, and the checkpoint payload and its restoring.

    Subclasses set ``model``, ``optimizer``, ``scheduler``, ``sampler`` and
    ``sampler_gen`` (the batch sampler and its generator), ``device``, ``grad_clip``,
    ``val_batches``, ``recipe_dict``, ``instruments`` and ``providers``, and define
    ``_batch_loss(batch)`` and ``validate()``.
    """

    def _begin(self, recipe: Any, device: torch.device) -> None:
        """Common set-up: run settings, and every RNG seeded from ``train.seed``."""
        self.device = device
        self.grad_clip = recipe.train.grad_clip
        self.recipe_dict = recipe.to_dict()
        self.instruments = list(recipe.data.instruments)
        # Everything is built from the seed, so a fresh run is reproducible; resuming
        # then overwrites these states with the saved ones (see restore).
        seed = recipe.train.seed
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)

    @property
    def has_validation(self) -> bool:
        return bool(self.val_batches)

    @property
    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    @abc.abstractmethod
    def _batch_loss(self, batch: Any) -> torch.Tensor:
        """The training loss of one batch (a scalar tensor with its graph)."""

    @abc.abstractmethod
    def validate(self) -> float | None:
        """Mean validation loss (None without a validation set)."""

    def train_step(self, step: int) -> float:
        """Run optimisation step number ``step`` (1-based); returns its loss."""
        batch = self.sampler.sample().to(self.device)
        loss = self._batch_loss(batch)
        # Checked before the update so the last checkpoint never holds NaN weights.
        if not torch.isfinite(loss):
            raise TrainingError(f"training diverged at step {step} (loss is "
                                f"{float(loss.detach())}); try a lower train.lr or train.grad_clip")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        return float(loss.detach())

    def checkpoint(self, *, step: int, best_val: float | None, full: bool) -> dict[str, Any]:
        """A checkpoint payload; ``full`` adds what resuming needs (optimizer, RNGs)."""
        data = {"model_state": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
                "recipe": self.recipe_dict, "instruments": self.instruments,
                "providers": self.providers, "step": step, "best_val_loss": best_val}
        if full:
            data.update(optimizer_state=self.optimizer.state_dict(),
                        scheduler_state=self.scheduler.state_dict(),
                        rng_state=capture_rng_state(self.sampler_gen))
        return data

    def restore(self, saved: dict[str, Any], source: Path) -> None:
        """Load the states of a full checkpoint read from ``source``."""
        try:
            self.model.load_state_dict(saved["model_state"])
            self.optimizer.load_state_dict(saved["optimizer_state"])
            self.scheduler.load_state_dict(saved["scheduler_state"])
            restore_rng_state(saved["rng_state"], self.sampler_gen)
        except (RuntimeError, KeyError, ValueError, TypeError) as exc:
            raise UsageError(f"cannot resume from {source}: its state does not fit this "
                             f"run ({' '.join(str(exc).split())[:200]})") from None


class Trainer(TrainerBase):
    """A Mel2Mel model with its loss, Adam optimizer, lr schedule and data.

    Batches (``neuralsynth.data.batches.Batch``): ``x [B, L, in_dim]``, linear
    ``mel [B, L, n_mels]``, ``mask [B, L]``, ``instrument [B]``; the model's prediction
    ``exp(model(x, embed(one_hot(instrument))))`` is a linear mel ``[B, L, n_mels]``.
    """

    def __init__(self, recipe: Any, device: torch.device, *, progress: bool,
                 say: Callable[[str], None]):
        from .audio import N_MELS
        from .data.batches import SegmentSampler, segment_frames, validation_batches
        from .data.features import FeatureSet
        from .data.splits import TRAIN, VAL
        from .losses.base import LOSSES
        from .model import Mel2Mel

        cfg = recipe.train
        self._begin(recipe, device)
        self.model = Mel2Mel.from_spec(recipe.model, n_instruments=len(self.instruments),
                                       n_mels=N_MELS)
        self.loss_fn = LOSSES.build(recipe.loss)
        features = FeatureSet(recipe.data.dataset, self.instruments, self.model.encoder,
                              progress=progress)
        train_examples, val_examples = features.examples(TRAIN), features.examples(VAL)
        if cfg.val_pieces:
            val_examples = _spread_pieces(val_examples, features.manifest, cfg.val_pieces)
        length = segment_frames(cfg.segment_samples)
        # The sampler has its own generator so its state can be saved and restored alone.
        self.sampler_gen = torch.Generator().manual_seed(cfg.seed)
        self.sampler = SegmentSampler(train_examples, length, cfg.batch_size, self.sampler_gen)
        # Kept on the CPU and moved one batch at a time, so GPU memory does not grow with
        # the size of the validation set.
        self.val_batches = validation_batches(val_examples, length, cfg.batch_size)
        if not self.val_batches:
            say("the dataset has no validation items; best.pt will follow last.pt")
        self.model.to(device)
        self.loss_fn.to(device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        self.scheduler = _lr_schedule(self.optimizer, cfg.lr_halve_every)
        self._one_hot = torch.eye(len(self.instruments), device=device)
        self.providers = self.model.providers()
        try:
            self.providers["loss"] = {recipe.loss["name"]:
                                      list(LOSSES.provider(recipe.loss["name"]))}
        except KeyError:
            pass

    def _predict(self, batch: Any) -> torch.Tensor:
        t = self.model.embed(self._one_hot[batch.instrument])
        return torch.exp(self.model(batch.x, t))

    def _batch_loss(self, batch: Any) -> torch.Tensor:
        """The training loss of one batch (a scalar tensor with its graph)."""
        return self.loss_fn(self._predict(batch), batch.mel, batch.mask)

    def validate(self) -> float | None:
        """Mean loss per real frame over the validation set (None without one)."""
        if not self.val_batches:
            return None
        self.model.eval()
        total = frames = 0.0
        with torch.no_grad():
            for vb in self.val_batches:
                vb = vb.to(self.device)
                pred = self._predict(vb)
                n = float(vb.mask.sum())
                total += float(self.loss_fn(pred, vb.mel, vb.mask)) * n
                frames += n
        self.model.train()
        return total / max(frames, 1.0)


def _lr_schedule(optimizer: torch.optim.Optimizer, halve_every: int) -> Any:
    """Halve the lr every ``halve_every`` steps; a constant lr when it is 0."""
    if halve_every > 0:
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=halve_every, gamma=0.5)
    # A scheduler that never changes the lr keeps checkpoints and resuming uniform.
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
