"""Reference WaveNet engine: PyTorch with cached dilated-conv queues (the oracle).

The Fast WaveNet scheme: layer ``i`` with dilation ``d`` keeps a queue of its last ``d``
residual inputs, so each new sample costs one matrix-vector product per tap instead of
recomputing the receptive field. The queues start at zero, which is exactly the zero
left-padding of the teacher-forced convolutions, so this engine reproduces
:meth:`WaveNet.forward` on the samples it draws. The other engines must match it.
"""

from __future__ import annotations

import numpy as np
import torch

from neuralsynth.vocoders.wavenet.engines.base import Engine, StreamState, sample_from_logits

_KEYS = ("embedding", "dilated_prev", "dilated_cur", "dilated_bias", "residual_w",
         "residual_b", "skip_w", "skip_b", "head1_w", "head1_b", "head2_w", "head2_b")


class ReferenceEngine(Engine):
    """Plain per-layer matrix-vector products in float32, one time step at a time for
    all streams (see :class:`~.base.Engine` for the shapes)."""

    name = "reference"

    def __init__(self, weights: dict[str, np.ndarray]):
        super().__init__(weights)
        self.w = {k: torch.from_numpy(np.ascontiguousarray(weights[k])) for k in _KEYS}

    def _new_queues(self, n_streams: int) -> list[torch.Tensor]:
        # queues[i][:, j] holds h[t'] of layer i for the t' with t' % d == j: the slot
        # read at step t (h[t - d]) is the one overwritten with h[t] right after.
        return [torch.zeros(n_streams, d, self.residual_channels) for d in self.dilations]

    @torch.no_grad()
    def _run(self, state: StreamState, cond: np.ndarray, uniforms: np.ndarray,
             samples: np.ndarray, logits: np.ndarray | None) -> None:
        w, H = self.w, self.gate_channels // 2
        c = torch.from_numpy(np.ascontiguousarray(cond))
        queues = state.queues
        prev = torch.from_numpy(state.prev.copy())
        for k in range(c.shape[3]):
            t = state.t + k
            h = w["embedding"][prev]  # [B, R]
            skip = None
            for i, d in enumerate(self.dilations):
                slot = t % d
                past = queues[i][:, slot]
                z = (past @ w["dilated_prev"][i].T + h @ w["dilated_cur"][i].T
                     + w["dilated_bias"][i] + c[:, i, :, k])
                queues[i][:, slot] = h
                a = torch.tanh(z[:, :H]) * torch.sigmoid(z[:, H:])
                s = a @ w["skip_w"][i].T + w["skip_b"][i]
                skip = s if skip is None else skip + s
                if i < self.n_layers - 1:
                    h = h + a @ w["residual_w"][i].T + w["residual_b"][i]
            y = torch.relu(torch.relu(skip) @ w["head1_w"].T + w["head1_b"])
            out = (y @ w["head2_w"].T + w["head2_b"]).numpy()
            if logits is not None:
                logits[:, k] = out
            drawn = sample_from_logits(out, uniforms[:, k])
            samples[:, k] = drawn
            prev = torch.from_numpy(drawn)
        state.prev = prev.numpy().astype(np.int64)
        state.t += c.shape[3]
