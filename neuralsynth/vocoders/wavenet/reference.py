"""Reference WaveNet sampler: PyTorch with cached dilated-conv queues (the oracle).

The Fast WaveNet scheme: layer ``i`` with dilation ``d`` keeps a queue of its last ``d``
residual inputs, so each new sample costs one matrix-vector product per tap instead of
recomputing the receptive field. The queues start at zero, which is exactly the zero
left-padding of the teacher-forced convolutions, so this engine reproduces
:meth:`WaveNet.forward` on the samples it draws. The other engines must match it.

Sampling rule (every engine follows it exactly): ``p = softmax(logits)`` in float64,
``cdf = cumsum(p)`` in float64, and the drawn class is the first ``k`` with
``cdf[k] > u`` for the step's uniform ``u`` in [0, 1) (the last class if rounding leaves
none). The first step's previous sample is :func:`~.model.initial_class` (µ-law of 0.0).
"""

from __future__ import annotations

import numpy as np
import torch

from .model import initial_class
from .weights import check_weights


def sample_from_logits(logits: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw per row: ``logits [B, C]``, ``uniforms [B]`` → classes int64 ``[B]``."""
    z = logits.astype(np.float64)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    cdf = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
    k = (cdf <= np.asarray(uniforms, np.float64)[:, None]).sum(axis=1)
    return np.minimum(k, logits.shape[1] - 1).astype(np.int64)


class ReferenceEngine:
    """Autoregressive sampling from an exported weight dict (:mod:`.weights`).

    ``generate(cond, uniforms)``:

    - one stream: ``cond [n_layers, gate, T]``, ``uniforms [T]`` →
      ``(samples int64 [T], logits float32 [T, n_classes])``;
    - ``B`` independent streams: ``cond [B, n_layers, gate, T]``, ``uniforms [B, T]`` →
      ``(samples [B, T], logits [B, T, n_classes])``.

    ``cond`` is :meth:`WaveNet.conditioning` of the stream's log mel; ``samples`` are
    µ-law classes (decode with :func:`neuralsynth.audio.mu_law_decode`).
    """

    def __init__(self, weights: dict[str, np.ndarray]):
        check_weights(weights)
        t = {k: torch.from_numpy(np.ascontiguousarray(weights[k])) for k in
             ("embedding", "dilated_prev", "dilated_cur", "dilated_bias", "residual_w",
              "residual_b", "skip_w", "skip_b", "head1_w", "head1_b", "head2_w", "head2_b")}
        self.w = t
        self.dilations = [int(d) for d in weights["dilations"]]
        self.n_layers = len(self.dilations)
        self.n_classes, self.residual_channels = t["embedding"].shape
        self.gate_channels = t["dilated_bias"].shape[1]

    @torch.no_grad()
    def generate(self, cond, uniforms) -> tuple[np.ndarray, np.ndarray]:
        cond = torch.as_tensor(cond, dtype=torch.float32)
        u = np.asarray(uniforms, dtype=np.float64)
        single = cond.dim() == 3
        if single:
            cond, u = cond[None], u[None]
        B, L, G, T = cond.shape
        if (L, G) != (self.n_layers, self.gate_channels) or u.shape != (B, T):
            raise ValueError(f"expected cond [B, {self.n_layers}, {self.gate_channels}, T] "
                             f"and uniforms [B, T], got {tuple(cond.shape)} and {u.shape}")
        if u.size and (u.min() < 0.0 or u.max() >= 1.0):
            raise ValueError("uniforms must lie in [0, 1)")

        w, H = self.w, G // 2
        # queues[i][:, j] holds h[t'] of layer i for the t' with t' % d == j: the slot
        # read at step t (h[t - d]) is the one overwritten with h[t] right after.
        queues = [torch.zeros(B, d, self.residual_channels) for d in self.dilations]
        prev = torch.full((B,), initial_class(self.n_classes), dtype=torch.long)
        samples = np.empty((B, T), np.int64)
        logits_out = np.empty((B, T, self.n_classes), np.float32)
        for t in range(T):
            h = w["embedding"][prev]  # [B, R]
            skip = None
            for i, d in enumerate(self.dilations):
                slot = t % d
                past = queues[i][:, slot]
                z = (past @ w["dilated_prev"][i].T + h @ w["dilated_cur"][i].T
                     + w["dilated_bias"][i] + cond[:, i, :, t])
                queues[i][:, slot] = h
                a = torch.tanh(z[:, :H]) * torch.sigmoid(z[:, H:])
                s = a @ w["skip_w"][i].T + w["skip_b"][i]
                skip = s if skip is None else skip + s
                if i < self.n_layers - 1:
                    h = h + a @ w["residual_w"][i].T + w["residual_b"][i]
            y = torch.relu(torch.relu(skip) @ w["head1_w"].T + w["head1_b"])
            logits = y @ w["head2_w"].T + w["head2_b"]
            logits_np = logits.numpy()
            logits_out[:, t] = logits_np
            drawn = sample_from_logits(logits_np, u[:, t])
            samples[:, t] = drawn
            prev = torch.from_numpy(drawn)
        if single:
            return samples[0], logits_out[0]
        return samples, logits_out
