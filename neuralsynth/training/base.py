"""What every trainer shares: one optimisation step, the lr schedule, checkpoints.

A trainer is what :func:`neuralsynth.training.loop.train` drives, one ``train_step`` at
a time. The Mel2Mel trainer (:mod:`neuralsynth.training.mel2mel`), the WaveNet trainer
(:mod:`neuralsynth.training.vocoder`) and a plugin vocoder's own trainer all subclass
:class:`TrainerBase`; :mod:`neuralsynth.training.tasks` says which one a recipe gets.
"""

from __future__ import annotations

import abc
import math
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neuralsynth.errors import NeuralsynthError, UsageError
from neuralsynth.training.distributed import SINGLE, PeerFailed, World
from neuralsynth.training.run_state import capture_rng_state, restore_rng_state

#: Seconds a rank waits after hearing of another rank's failure before it stops itself.
PEER_GRACE_S = 10.0


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

    Distributed training (``torchrun``, :mod:`.distributed`) sets ``world`` before the
    first step; it needs a sampler with ``sample_shard(lo, hi)`` (this rank's crops
    ``[lo, hi)`` of the global batch and their share of its loss). Without one, a trainer
    trains in one process only.
    """

    world: World = SINGLE
    #: "bf16": the forward pass and loss under bf16 autocast (``train.precision``).
    precision: str = "fp32"

    def _begin(self, recipe: Any, device: torch.device) -> None:
        """Common set-up: run settings, and every RNG seeded from ``train.seed``."""
        self.device = device
        self.grad_clip = recipe.train.grad_clip
        self.precision = recipe.train.precision
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

    def _loss_of(self, batch: Any) -> torch.Tensor:
        """``_batch_loss`` under the run's precision (bf16 autocast or plain fp32)."""
        if self.precision == "bf16":
            with torch.autocast(self.device.type, dtype=torch.bfloat16):
                return self._batch_loss(batch).float()
        return self._batch_loss(batch)

    def train_step(self, step: int) -> float:
        """Run optimisation step number ``step`` (1-based); returns its loss."""
        if self.world.distributed:
            total = self.shared_gradients(step)
            self._update()
            return total
        batch = self.sampler.sample().to(self.device)
        loss = self._loss_of(batch)
        # Checked before the update so the last checkpoint never holds NaN weights.
        if not torch.isfinite(loss):
            raise _diverged(step, float(loss.detach()))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self._update()
        return float(loss.detach())

    def shared_gradients(self, step: int) -> float:
        """Set every parameter's ``.grad`` to the gradient of the global batch's mean
        loss, computed from this rank's share of it; returns that loss.

        The rank's mean loss is weighted by ``share * world_size`` so that, after the
        all-reduce divides the summed gradients by the world size, the gradient is that
        of the global batch's mean loss: the step a single process takes on the whole
        batch. An exception in this rank's forward or backward still joins the
        all-reduce (with a failure flag), so the other ranks stop instead of hanging.
        """
        world = self.world
        self.optimizer.zero_grad(set_to_none=True)
        error: BaseException | None = None
        weighted = 0.0
        try:
            lo, hi = world.share(self.sampler.batch_size)
            batch, share = self.sampler.sample_shard(lo, hi)
            loss = self._loss_of(batch.to(self.device))
            weighted = float(loss.detach()) * share
            if math.isfinite(weighted):
                (loss * (share * world.world_size)).backward()
        except Exception as exc:   # reported after every rank has heard of it
            error = exc
            self.optimizer.zero_grad(set_to_none=True)
        trained = [p for p in self.model.parameters() if p.requires_grad]
        total, failures = world.all_reduce_step(trained, weighted, error is not None)
        if error is not None:
            if isinstance(error, NeuralsynthError):   # said by this rank only
                error.args = (f"rank {world.rank}: {error}",)
                error.rank_local = True              # type: ignore[attr-defined]
            raise error
        if failures:
            # Let the failing rank exit first: torchrun then names it as the root cause
            # and stops this one (which leaves by itself under other launchers).
            time.sleep(PEER_GRACE_S)
            raise PeerFailed(f"another process failed at step {step}")
        if not math.isfinite(total):
            raise _diverged(step, total)
        return total

    def _update(self) -> None:
        if self.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        self.optimizer.step()
        self.scheduler.step()

    def mean_over_ranks(self, total: float, count: float) -> float:
        """``total / count`` summed over every rank (a validation split across ranks)."""
        total, count = self.world.sum([total, count])
        return total / max(count, 1.0)

    @property
    def my_val_batches(self) -> list:
        """This rank's validation batches: every ``world_size``-th, from ``rank``."""
        return self.val_batches[self.world.rank::self.world.world_size]

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


def _diverged(step: int, loss: float) -> TrainingError:
    return TrainingError(f"training diverged at step {step} (loss is {loss}); try a lower "
                         f"train.lr or train.grad_clip")


def lr_schedule(optimizer: torch.optim.Optimizer, halve_every: int) -> Any:
    """Halve the lr every ``halve_every`` steps; a constant lr when it is 0."""
    if halve_every > 0:
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=halve_every, gamma=0.5)
    # A scheduler that never changes the lr keeps checkpoints and resuming uniform.
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
