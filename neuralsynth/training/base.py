"""What every trainer shares: one optimisation step, the lr schedule, checkpoints.

A trainer is what :func:`neuralsynth.training.loop.train` drives, one ``train_step`` at
a time. The Mel2Mel trainer (:mod:`neuralsynth.training.mel2mel`), the WaveNet trainer
(:mod:`neuralsynth.training.vocoder`) and a plugin vocoder's own trainer all subclass
:class:`TrainerBase`; :mod:`neuralsynth.training.tasks` says which one a recipe gets.
"""

from __future__ import annotations

import abc
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neuralsynth.errors import NeuralsynthError, UsageError
from neuralsynth.training.run_state import capture_rng_state, restore_rng_state


class TrainingError(NeuralsynthError):
    """Training cannot go on (diverged loss)."""


def spread_pieces(examples: list, manifest: Any, n_pieces: int) -> list:
    """The examples of ``n_pieces`` pieces taken evenly over the sorted list of pieces."""
    midi_of = {item.id: item.midi for item in manifest.items}
    pieces = sorted({midi_of[ex.id] for ex in examples})
    if n_pieces >= len(pieces):
        return examples
    chosen = {pieces[int(i * len(pieces) / n_pieces)] for i in range(n_pieces)}
    return [ex for ex in examples if midi_of[ex.id] in chosen]


class TrainerBase(abc.ABC):
    """What every trainer shares with the loop in :mod:`neuralsynth.training.loop`: the lr, whether
    there is a validation set, and the checkpoint payload and its restoring.

    The constructor is called as ``Trainer(recipe, device, progress=..., say=...)``
    (``say`` prints one message line). Subclasses set ``model``, ``optimizer``, ``scheduler``, ``sampler`` and
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


def lr_schedule(optimizer: torch.optim.Optimizer, halve_every: int) -> Any:
    """Halve the lr every ``halve_every`` steps; a constant lr when it is 0."""
    if halve_every > 0:
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=halve_every, gamma=0.5)
    # A scheduler that never changes the lr keeps checkpoints and resuming uniform.
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
