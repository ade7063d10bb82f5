"""Shape of the WaveNet vocoder (DESIGN §1; nv-wavenet's layout).

Paper values: 256 µ-law classes, 20 layers with dilations 1…512 twice, kernel 2,
residual 64, gate 128 (two halves of 64 for tanh and sigmoid), skip 256, the mel
upsampled by two transposed convolutions (window 16 / stride 8, window 32 / stride 16).
The number of mel bins and the hop are not recipe fields: the builder passes them in
(DESIGN §3), and the strides must multiply to that hop so one frame becomes one hop
of samples.
"""

from __future__ import annotations

import dataclasses
import math

from neuralsynth.audio.constants import HOP_LENGTH
from neuralsynth.components.params import param


@dataclasses.dataclass
class WaveNetConfig:
    n_classes: int = param(256, "µ-law quantisation levels (output classes)")
    n_layers: int = param(20, "dilated convolution layers")
    dilation_cycle: int = param(10, "dilations double from 1 and restart every this "
                                    "many layers (10: 1…512, twice for 20 layers)")
    residual_channels: int = param(64, "width of the residual stream (nv-wavenet R: "
                                       "32, 64 or 128)")
    gate_channels: int = param(128, "output width of each dilated convolution; split "
                                    "in two halves for tanh and sigmoid")
    skip_channels: int = param(256, "width of the skip stream (nv-wavenet S: 128 or 256)")
    upsample_windows: list[int] = param([16, 32], "window of each transposed "
                                                   "convolution upsampling the mel")
    upsample_strides: list[int] = param([8, 16], "stride of each transposed convolution; "
                                                  "their product must equal the hop (128)")

    def check(self, hop_length: int = HOP_LENGTH) -> list[tuple[str, str]]:
        """Every range problem as ``(field, message)``; empty when the shape is valid."""
        problems: list[tuple[str, str]] = []
        for key in ("n_layers", "dilation_cycle", "residual_channels", "gate_channels",
                    "skip_channels"):
            v = getattr(self, key)
            if not (isinstance(v, int) and not isinstance(v, bool) and v >= 1):
                problems.append((key, f"must be a positive integer, got {v!r}"))
        if not (isinstance(self.n_classes, int) and self.n_classes >= 2):
            problems.append(("n_classes", f"must be an integer >= 2, got {self.n_classes!r}"))
        if isinstance(self.gate_channels, int) and self.gate_channels % 2:
            problems.append(("gate_channels", "must be even (tanh and sigmoid halves), "
                                              f"got {self.gate_channels}"))
        windows, strides = list(self.upsample_windows), list(self.upsample_strides)
        for key, values in (("upsample_windows", windows), ("upsample_strides", strides)):
            if not values or not all(isinstance(v, int) and v >= 1 for v in values):
                problems.append((key, f"must be a non-empty list of positive integers, "
                                      f"got {values!r}"))
        if len(windows) != len(strides):
            problems.append(("upsample_windows", f"needs one window per stride: "
                                                 f"{len(windows)} windows, "
                                                 f"{len(strides)} strides"))
        elif not any(k.startswith("upsample") for k, _ in problems):
            if math.prod(strides) != hop_length:
                problems.append(("upsample_strides", f"product {math.prod(strides)} must "
                                                     f"equal the hop length {hop_length}"))
            for w, s in zip(windows, strides):
                if w < s:
                    problems.append(("upsample_windows", f"window {w} is shorter than its "
                                                         f"stride {s}; samples would be "
                                                         "left without conditioning"))
        return problems

    def dilations(self) -> list[int]:
        """Dilation of each layer: ``2 ** (i % dilation_cycle)``."""
        return [2 ** (i % self.dilation_cycle) for i in range(self.n_layers)]

    @property
    def receptive_field(self) -> int:
        """Samples one output depends on: each kernel-2 layer adds its dilation."""
        return sum(self.dilations()) + 1
