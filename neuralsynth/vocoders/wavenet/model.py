"""WaveNet over µ-law classes, conditioned on a log-mel spectrogram (teacher-forced).

Layout (nv-wavenet's; R = residual, G = gate, S = skip, C = classes):

- input: the previous sample's class → embedding row ``[R]`` (a 1×1 convolution of the
  one-hot class, which is all a causal kernel-1 convolution can be);
- layer ``i`` with dilation ``d``: ``z[t] = W_prev h[t-d] + W_cur h[t] + b + c_i[t]``
  (kernel-2 dilated conv ``R → G`` plus the layer's conditioning), gated
  ``a = tanh(z[:G/2]) * sigmoid(z[G/2:])``, then ``h ← h + W_res a`` (not on the last
  layer, whose residual output would feed nothing) and ``skip += W_skip a``;
- head: ``relu → 1×1 S → C → relu → 1×1 C → C`` (nv-wavenet's ``A = C``).

Conditioning: the log-mel frames are upsampled to one vector per sample by transposed
convolutions (leaky ReLU between them), then one 1×1 convolution projects them to
``n_layers * G`` channels, the per-layer terms ``c_i``. The mel is known in advance,
so inference engines compute this for every sample before the autoregressive loop.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from neuralsynth.audio.constants import HOP_LENGTH, MAG_FLOOR, N_MELS
from neuralsynth.audio.spectral import mu_law_encode
from neuralsynth.errors import RecipeError
from neuralsynth.vocoders.wavenet.config import WaveNetConfig

# Slope of the leaky ReLU between upsampling convolutions: a plain ReLU could switch off
# whole mel channels early in training, a linear chain would make the second layer moot.
UPSAMPLE_SLOPE = 0.4


def mel_input(mel: torch.Tensor) -> torch.Tensor:
    """The network's input: natural log of a linear mel (``neuralsynth.audio``), floored
    at ``MAG_FLOOR`` like the data's features. Any shape; float32 out."""
    return torch.log(torch.as_tensor(mel, dtype=torch.float32).clamp_min(MAG_FLOOR))


def initial_class(n_classes: int) -> int:
    """Class of the sample "before" the first one: µ-law of 0.0 (the middle class)."""
    return int(mu_law_encode(0.0, mu=n_classes - 1))


class WaveNet(nn.Module):
    """Teacher-forced WaveNet vocoder.

    - ``forward(prev [B, T] int64, mel [B, F, n_mels])`` → logits ``[B, n_classes, T]``
      with ``T == F * hop_length``. ``prev[:, t]`` is the class of sample ``t - 1`` (the
      input used to predict sample ``t``; ``prev[:, 0]`` is :func:`initial_class` at the
      start of a piece), so ``logits[:, :, t]`` depends on ``prev[:, :t+1]`` only.
    - ``conditioning(mel [B, F, n_mels])`` → ``[B, n_layers, gate_channels, T]``.

    ``mel`` is the natural log of the linear mel magnitudes of :mod:`neuralsynth.audio`
    (clipped at 1e-5, so values lie in about [-11.5, 3]); log scale keeps the input
    range moderate for the upsampling convolutions.
    """

    def __init__(self, config: WaveNetConfig | None = None, *, n_mels: int = N_MELS,
                 hop_length: int = HOP_LENGTH):
        super().__init__()
        config = config if config is not None else WaveNetConfig()
        problems = config.check(hop_length)
        if problems:
            raise RecipeError([f"vocoder.{k}: {m}" for k, m in problems])
        self.config = config
        self.n_mels = n_mels
        self.hop_length = hop_length
        self.dilations = config.dilations()
        R, G, S, C = (config.residual_channels, config.gate_channels, config.skip_channels,
                      config.n_classes)

        self.upsample = nn.ModuleList(
            nn.ConvTranspose1d(n_mels, n_mels, w, stride=s, padding=(w - s) // 2)
            for w, s in zip(config.upsample_windows, config.upsample_strides))
        self.cond_proj = nn.Conv1d(n_mels, config.n_layers * G, 1)

        self.embedding = nn.Embedding(C, R)
        self.dilated = nn.ModuleList(nn.Conv1d(R, G, 2, dilation=d) for d in self.dilations)
        self.residual = nn.ModuleList(nn.Conv1d(G // 2, R, 1)
                                      for _ in range(config.n_layers - 1))
        self.skip = nn.ModuleList(nn.Conv1d(G // 2, S, 1) for _ in range(config.n_layers))
        self.head1 = nn.Conv1d(S, C, 1)
        self.head2 = nn.Conv1d(C, C, 1)

    @property
    def receptive_field(self) -> int:
        """Samples that influence one output (the current input included)."""
        return self.config.receptive_field

    def _upsampled(self, mel: torch.Tensor) -> torch.Tensor:
        """``[B, F, n_mels]`` → ``[B, n_mels, F * hop]``."""
        if mel.dim() != 3 or mel.shape[-1] != self.n_mels:
            raise ValueError(f"expected mel [B, F, {self.n_mels}], got {tuple(mel.shape)}")
        n_samples = mel.shape[1] * self.hop_length
        x = mel.transpose(1, 2)
        for i, conv in enumerate(self.upsample):
            if i:
                x = F.leaky_relu(x, UPSAMPLE_SLOPE)
            x = conv(x)
        # With window - stride even, padding (w - s) / 2 gives exactly F * hop samples;
        # other shapes are trimmed, or zero-padded at the end, to that length.
        if x.shape[-1] >= n_samples:
            return x[..., :n_samples]
        return F.pad(x, (0, n_samples - x.shape[-1]))

    def conditioning(self, mel: torch.Tensor) -> torch.Tensor:
        """Per-layer conditioning ``[B, n_layers, gate_channels, F * hop]``."""
        up = self._upsampled(mel)
        c = self.cond_proj(up)
        return c.view(c.shape[0], self.config.n_layers, self.config.gate_channels, -1)

    def forward(self, prev: torch.Tensor, mel: torch.Tensor) -> torch.Tensor:
        if prev.dim() != 2:
            raise ValueError(f"expected prev [B, T], got {tuple(prev.shape)}")
        up = self._upsampled(mel)
        if up.shape[0] != prev.shape[0] or up.shape[-1] != prev.shape[1]:
            raise ValueError(f"prev {tuple(prev.shape)} needs T = frames * hop = "
                             f"{up.shape[-1]} and batch {up.shape[0]}")
        G = self.config.gate_channels
        h = self.embedding(prev).transpose(1, 2)  # [B, R, T]
        skip = None
        for i, d in enumerate(self.dilations):
            # Project the conditioning one layer at a time (same weights as
            # conditioning()): the full [B, L, G, T] tensor would dominate training memory.
            w = self.cond_proj.weight[i * G:(i + 1) * G]
            b = self.cond_proj.bias[i * G:(i + 1) * G]
            z = self.dilated[i](F.pad(h, (d, 0))) + F.conv1d(up, w, b)
            a = torch.tanh(z[:, :G // 2]) * torch.sigmoid(z[:, G // 2:])
            s = self.skip[i](a)
            skip = s if skip is None else skip + s
            if i < len(self.residual):
                h = h + self.residual[i](a)
        return self.head2(torch.relu(self.head1(torch.relu(skip))))
