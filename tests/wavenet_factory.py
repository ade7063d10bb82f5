"""Small WaveNets, inputs and vocoder checkpoints for the WaveNet tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from neuralsynth.checkpoint import save_checkpoint
from neuralsynth.vocoders.wavenet import WaveNet, WaveNetConfig, initial_class

TINY = dict(n_layers=4, dilation_cycle=3, residual_channels=8, gate_channels=16,
            skip_channels=16)


def tiny_model(seed: int = 0, **overrides) -> WaveNet:
    torch.manual_seed(seed)
    model = WaveNet(WaveNetConfig(**{**TINY, **overrides})).eval()
    # Default init leaves the logits nearly flat; spread the autoregressive weights so
    # the draws depend strongly on them (the conditioning keeps its default scale so
    # the gates do not saturate and every input still matters).
    with torch.no_grad():
        for name, p in model.named_parameters():
            if not name.startswith(("upsample", "cond_proj")):
                p.normal_(0.0, 0.3)
    return model


def paper_model(seed: int = 0, spread: float = 2.0) -> WaveNet:
    """The paper's shape with default init scaled by ``spread`` (peakier logits)."""
    torch.manual_seed(seed)
    model = WaveNet(WaveNetConfig()).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(spread)
    return model


def log_mel(frames: int, seed: int = 1, batch: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, frames, 80, generator=g) * 8.0 - 10.0


def teacher_prev(samples: np.ndarray, n_classes: int) -> torch.Tensor:
    """``prev[t]`` = sample ``t - 1``, with the initial class before the first sample."""
    s = torch.as_tensor(samples).reshape(-1, samples.shape[-1])
    first = torch.full((s.shape[0], 1), initial_class(n_classes), dtype=torch.long)
    return torch.cat([first, s[:, :-1]], dim=1)


def save_vocoder(path: Path, model: WaveNet) -> Path:
    """A vocoder checkpoint of ``model`` as a ``train.task: vocoder`` run writes it."""
    spec = {"name": "wavenet", **{k: getattr(model.config, k) for k in (
        "n_classes", "n_layers", "dilation_cycle", "residual_channels", "gate_channels",
        "skip_channels", "upsample_windows", "upsample_strides")}}
    save_checkpoint(path, {"model_state": model.state_dict(),
                           "recipe": {"train": {"task": "vocoder"}, "vocoder": spec},
                           "instruments": [], "step": 0})
    return path


def random_walk_model(n_classes: int = 32, sharpness: float = 0.5) -> WaveNet:
    """A hand-set WaveNet whose samples random-walk: ``p(k) ∝ exp(-β (k - prev)²)``.

    One layer of dilation 1; the embedding is one-hot, the gate passes it through
    (tanh(3)·σ(8) ≈ 0.995), skip and the first head layer are identities, and the
    second head layer scores each class by its squared distance from the previous one.
    The waveform is then smooth from sample to sample, so a join between two
    independently generated streams stands out as a jump.
    """
    C = n_classes
    cfg = WaveNetConfig(n_classes=C, n_layers=1, dilation_cycle=1, residual_channels=C,
                        gate_channels=2 * C, skip_channels=C)
    model = WaveNet(cfg).eval()
    eye = torch.eye(C)
    k = torch.arange(C, dtype=torch.float32)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.embedding.weight.copy_(eye)
        model.dilated[0].weight[:C, :, 1] = 3.0 * eye     # tap on h[t]: tanh half
        model.dilated[0].bias[C:] = 8.0                    # sigmoid half ≈ 1
        model.skip[0].weight[:, :, 0] = eye
        model.head1.weight[:, :, 0] = eye
        model.head2.weight[:, :, 0] = -sharpness * (k[:, None] - k[None, :]) ** 2
    return model
