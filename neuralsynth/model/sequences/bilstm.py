"""The Mel2Mel trunk: Conv1d in → (Bi)LSTM → Conv1d out.

Paper configuration: 1×1 convolution 176 → 256, one bidirectional LSTM layer with 256
units per direction, 1×1 convolution 512 → 80. The LSTM is the only nonlinearity; the
switches below turn the paper's ablations into recipe edits (forward-only LSTM, ReLU
after the input convolution, 3×1 / 5×1 convolutions, a 2-layer LSTM).
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from neuralsynth.components.params import ensure_valid, param
from neuralsynth.model.sequences.base import Sequence

# An untrained model should predict a plausible level rather than exp(0) = 1, which is
# far louder than real mel frames (silence sits at log(1e-5) ≈ -11.5, loud notes near
# -2): starting from the middle keeps early losses and gradients moderate.
INITIAL_LOG_MEL = -6.0


class BiLSTM(Sequence):
    """Conv1d → LSTM → Conv1d over time.

    - ``project_in``:  ``[B, T, in_dim]`` → ``[B, T, hidden_size]``
    - ``run``:         ``[B, T, hidden_size]`` → ``[B, T, hidden_size * (2 if bidirectional else 1)]``
    - ``project_out``: ``[B, T, post_channels]`` → ``[B, T, out_dim]`` (log mel)

    Convolutions use 'same' padding so the number of frames never changes.
    """

    @dataclasses.dataclass
    class Config:
        hidden_size: int = param(256, "LSTM units per direction (also the input "
                                      "convolution's output width)")
        num_layers: int = param(1, "stacked LSTM layers (paper: 1; ablation: 2)")
        bidirectional: bool = param(True, "run a backward LSTM too (ablation: false = "
                                          "forward only)")
        input_relu: bool = param(False, "apply a ReLU after the input convolution "
                                        "(ablation; the paper model is linear there)")
        conv_kernel: int = param(1, "kernel size in frames of the input and output "
                                    "convolutions (paper: 1; ablations: 3, 5)",
                                 choices=(1, 3, 5))

        def check(self) -> list[tuple[str, str]]:
            problems = []
            for key in ("hidden_size", "num_layers"):
                v = getattr(self, key)
                if not (isinstance(v, int) and v >= 1):
                    problems.append((key, f"must be a positive integer, got {v!r}"))
            if self.conv_kernel not in (1, 3, 5):
                problems.append(("conv_kernel", f"expected one of 1, 3, 5, "
                                                f"got {self.conv_kernel!r}"))
            return problems

    def __init__(self, config: Config, *, in_dim: int, out_dim: int):
        super().__init__(config, in_dim=in_dim, out_dim=out_dim)
        ensure_valid("sequence", config)
        if in_dim < 1 or out_dim < 1:
            raise ValueError(f"in_dim and out_dim must be positive, got {in_dim}, {out_dim}")

        h, k = config.hidden_size, config.conv_kernel
        self.conv_in = nn.Conv1d(in_dim, h, k, padding=k // 2)
        self.lstm = nn.LSTM(h, h, num_layers=config.num_layers, batch_first=True,
                            bidirectional=config.bidirectional)
        self.conv_out = nn.Conv1d(self.post_channels, out_dim, k, padding=k // 2)
        nn.init.constant_(self.conv_out.bias, INITIAL_LOG_MEL)

    @property
    def pre_channels(self) -> int:
        return int(self.config.hidden_size)

    @property
    def post_channels(self) -> int:
        return int(self.config.hidden_size) * (2 if self.config.bidirectional else 1)

    @staticmethod
    def _conv_time(conv: nn.Conv1d, x: torch.Tensor) -> torch.Tensor:
        # Conv1d wants channels first; the rest of the model is time-major [B, T, C].
        return conv(x.transpose(1, 2)).transpose(1, 2)

    def project_in(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, T, in_dim]`` → ``[B, T, hidden_size]``."""
        if x.dim() != 3 or x.shape[-1] != self.in_dim:
            raise ValueError(f"expected input [B, T, {self.in_dim}], got {tuple(x.shape)}")
        h = self._conv_time(self.conv_in, x)
        return torch.relu(h) if self.config.input_relu else h

    def run(self, h: torch.Tensor) -> torch.Tensor:
        """``[B, T, hidden_size]`` → ``[B, T, post_channels]``."""
        out, _ = self.lstm(h)
        return out

    def project_out(self, h: torch.Tensor) -> torch.Tensor:
        """``[B, T, post_channels]`` → ``[B, T, out_dim]``."""
        return self._conv_time(self.conv_out, h)
