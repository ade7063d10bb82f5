"""The objects one vocoder optimisation step needs (``train.task: vocoder``).

One step::

    batch  = random frame-aligned crops of the training audio   (CropSampler, seeded)
    logits = wavenet(prev classes, ground-truth log mel)        (teacher forcing)
    loss   = cross entropy of the µ-law classes                 (nats per sample)
    Adam step, gradient-norm clipping, lr halved every lr_halve_every steps

The vocoder learns from the dataset's real mel spectrograms, not from a Mel2Mel's
predictions, so it can be trained before, after or alongside the synthesizer. Only the
items of ``data.instruments`` are used. Uniform guessing scores ln(256) = 5.55 nats.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import torch
import torch.nn.functional as F

from neuralsynth.training.base import TrainerBase, lr_schedule, spread_pieces


def wavenet_shape(spec: dict[str, Any]):
    """The :class:`WaveNetConfig` (network shape) of a recipe's ``vocoder`` spec."""
    from neuralsynth.vocoders.wavenet import WaveNetConfig

    names = {f.name for f in dataclasses.fields(WaveNetConfig)}
    return WaveNetConfig(**{k: v for k, v in spec.items() if k in names})


class VocoderTrainer(TrainerBase):
    """A WaveNet vocoder with its Adam optimizer, lr schedule and audio crops.

    Batches (:class:`~neuralsynth.data.audio_crops.CropBatch`): ``prev``/``target``
    ``[B, T]`` int64 µ-law classes and LOG ``mel [B, T/128, 80]``; the model gives logits
    ``[B, n_classes, T]``. Same interface as :class:`~neuralsynth.training.mel2mel.Mel2MelTrainer`, so
    :func:`neuralsynth.training.loop.train` runs either.
    """

    def __init__(self, recipe: Any, device: torch.device, *, progress: bool,
                 say: Callable[[str], None]):
        from neuralsynth.audio.constants import HOP_LENGTH
        from neuralsynth.data.audio_crops import (
            CropReader,
            CropSampler,
            audio_item,
            validation_crops,
        )
        from neuralsynth.data.manifest import instrument_indices, read_manifest
        from neuralsynth.data.splits import TRAIN, VAL
        from neuralsynth.vocoders.wavenet import WaveNet

        cfg = recipe.train
        self._begin(recipe, device)
        self.model = WaveNet(wavenet_shape(recipe.vocoder))
        n_classes = self.model.config.n_classes

        manifest = read_manifest(recipe.data.dataset)
        used = instrument_indices(manifest, self.instruments)
        items = {split: [audio_item(it.id, it.audio) for it in manifest.split(split)
                         if it.instrument in used] for split in (TRAIN, VAL)}
        val_items = items[VAL]
        if cfg.val_pieces:
            val_items = spread_pieces(val_items, manifest, cfg.val_pieces)
        frames = cfg.segment_samples // HOP_LENGTH
        reader = CropReader(n_classes)
        # The sampler has its own generator so its state can be saved and restored alone.
        self.sampler_gen = torch.Generator().manual_seed(cfg.seed)
        self.sampler = CropSampler(items[TRAIN], frames, cfg.batch_size, self.sampler_gen,
                                   reader)
        skipped = len(items[TRAIN]) - len(self.sampler.items)
        if skipped:
            say(f"{skipped} training item(s) shorter than one crop "
                f"({cfg.segment_samples} samples) are not used")
        # Read once and kept on the CPU (one byte per sample); moved one batch at a time.
        self.val_batches = validation_crops(val_items, frames, cfg.val_crops, cfg.batch_size,
                                            reader)
        if not self.val_batches:
            say("the dataset has no validation audio as long as one crop; best.pt will "
                "follow last.pt")
        self.model.to(device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        self.scheduler = lr_schedule(self.optimizer, cfg.lr_halve_every)
        self.providers = _providers(recipe.vocoder["name"])

    def _nll(self, batch: Any) -> torch.Tensor:
        """Mean negative log-likelihood of the batch's samples, in nats."""
        return F.cross_entropy(self.model(batch.prev, batch.mel), batch.target)

    _batch_loss = _nll

    def validate(self) -> float | None:
        """Mean NLL per sample (nats) over the fixed validation crops (None without any)."""
        if not self.val_batches:
            return None
        self.model.eval()
        total = samples = 0.0
        with torch.no_grad():
            for vb in self.my_val_batches:     # all of them in a single process
                vb = vb.to(self.device)
                n = float(vb.n_samples)
                total += float(self._nll(vb)) * n
                samples += n
        self.model.train()
        return self.mean_over_ranks(total, samples)


def _providers(name: str) -> dict[str, dict[str, list[str]]]:
    """``{"vocoder": {name: [distribution, version]}}`` of the trained vocoder."""
    from neuralsynth.vocoders import VOCODERS

    try:
        return {"vocoder": {name: list(VOCODERS.provider(name))}}
    except KeyError:  # not registered (a recipe built around the registry): no record
        return {}
