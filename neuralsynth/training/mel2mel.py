"""The Mel2Mel trainer: the objects one Mel2Mel optimisation step needs, from a recipe.

One step::

    batch = random crops of the training items         (SegmentSampler, seeded)
    S_hat = exp(model(x, embed(one_hot(instrument))))  (model predicts log mel)
    loss  = LOSSES[recipe.loss](S_hat, S, mask)        (on linear mel magnitudes)
    Adam step, gradient-norm clipping, lr halved every lr_halve_every steps
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from neuralsynth.training.base import TrainerBase, lr_schedule, spread_pieces


class Mel2MelTrainer(TrainerBase):
    """A Mel2Mel model with its loss, Adam optimizer, lr schedule and data.

    Batches (``neuralsynth.data.batches.Batch``): ``x [B, L, in_dim]``, linear
    ``mel [B, L, n_mels]``, ``mask [B, L]``, ``instrument [B]``; the model's prediction
    ``exp(model(x, embed(one_hot(instrument))))`` is a linear mel ``[B, L, n_mels]``.
    """

    def __init__(self, recipe: Any, device: torch.device, *, progress: bool,
                 say: Callable[[str], None]):
        from neuralsynth.audio.constants import N_MELS
        from neuralsynth.data.batches import SegmentSampler, segment_frames, validation_batches
        from neuralsynth.data.features import FeatureSet
        from neuralsynth.data.splits import TRAIN, VAL
        from neuralsynth.losses.base import LOSSES
        from neuralsynth.model.mel2mel import Mel2Mel

        cfg = recipe.train
        self._begin(recipe, device)
        self.model = Mel2Mel.from_spec(recipe.model, n_instruments=len(self.instruments),
                                       n_mels=N_MELS)
        self.loss_fn = LOSSES.build(recipe.loss)
        features = FeatureSet(recipe.data.dataset, self.instruments, self.model.encoder,
                              progress=progress)
        train_examples, val_examples = features.examples(TRAIN), features.examples(VAL)
        if cfg.val_pieces:
            val_examples = spread_pieces(val_examples, features.manifest, cfg.val_pieces)
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
        self.scheduler = lr_schedule(self.optimizer, cfg.lr_halve_every)
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
        """Mean loss per real frame over the validation set (None without one); in a
        distributed run each rank scores its share and the sums are all-reduced."""
        if not self.val_batches:
            return None
        self.model.eval()
        total = frames = 0.0
        with torch.no_grad():
            for vb in self.my_val_batches:     # all of them in a single process
                vb = vb.to(self.device)
                pred = self._predict(vb)
                n = float(vb.mask.sum())
                total += float(self.loss_fn(pred, vb.mel, vb.mask)) * n
                frames += n
        self.model.train()
        return self.mean_over_ranks(total, frames)
