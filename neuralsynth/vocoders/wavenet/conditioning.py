"""Per-layer conditioning of any stretch of a piece, computed block by block.

The conditioning of a whole 60 s piece would take 10 KB per sample (L·G float32 values),
about 10 GB, so the vocoder computes it for one block of samples at a time: upsample
the mel frames around the block (with a few frames of context, so the transposed
convolutions see every frame they would see on the whole piece) and project all the
block's samples with one matrix product. The result equals the same samples of
:meth:`WaveNet.conditioning` of the whole piece (tested), in time-major layout.
"""

from __future__ import annotations

import numpy as np
import torch

from neuralsynth.vocoders.wavenet.model import WaveNet

#: Frames of mel context on each side of a block; the two transposed convolutions
#: reach less than two frames, so four leave a margin for other window shapes.
CONTEXT_FRAMES = 4


class PieceConditioning:
    """Conditioning of one piece, any sample range at a time.

    ``log_mel [F, n_mels]`` (:func:`.model.mel_input` of the linear mel);
    ``block(starts, n)`` → float32 ``[B, n, L, G]`` for the ``B`` ranges
    ``[starts[b], starts[b] + n)`` of piece samples (multiples of the hop). Samples
    outside the piece get the conditioning of a zero input; the caller discards what
    is drawn there.
    """

    def __init__(self, model: WaveNet, log_mel: torch.Tensor):
        self.model = model
        self.mel = log_mel.float()
        self.hop = model.hop_length
        self.n_samples = self.mel.shape[0] * self.hop
        L, G = model.config.n_layers, model.config.gate_channels
        self.shape = (L, G)
        self.proj_w = model.cond_proj.weight[:, :, 0].detach()     # [L·G, n_mels]
        self.proj_b = model.cond_proj.bias.detach()

    def _upsampled(self, p0: int, p1: int) -> torch.Tensor:
        """Upsampled mel ``[p1 - p0, n_mels]`` of piece samples ``[p0, p1)`` inside it."""
        hop, F = self.hop, self.mel.shape[0]
        f0 = max(0, p0 // hop - CONTEXT_FRAMES)
        f1 = min(F, -(-p1 // hop) + CONTEXT_FRAMES)
        up = self.model._upsampled(self.mel[None, f0:f1])[0]          # [n_mels, samples]
        return up[:, p0 - f0 * hop:p1 - f0 * hop].T

    @torch.no_grad()
    def block(self, starts: list[int], n: int) -> np.ndarray:
        n_mels = self.mel.shape[1]
        up = torch.zeros(len(starts), n, n_mels)
        for b, s in enumerate(starts):
            p0, p1 = max(0, s), min(self.n_samples, s + n)
            if p1 > p0:
                up[b, p0 - s:p1 - s] = self._upsampled(p0, p1)
        # One matrix product projects every sample of every stream in the block.
        cond = torch.addmm(self.proj_b, up.view(-1, n_mels), self.proj_w.T)
        return cond.view(len(starts), n, *self.shape).numpy()
