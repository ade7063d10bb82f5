"""What every WaveNet inference engine provides, and the sampling rule they share.

Engines read the engine-neutral weight dict of :mod:`neuralsynth.vocoders.wavenet.weights`
and run the autoregressive loop on precomputed conditioning. They work in *runs*: a
:class:`StreamState` carries each stream's history (previous class, dilated-conv queues,
samples done) from one call of :meth:`Engine.run` to the next, so a long signal can be
generated block by block with the conditioning of only one block in memory.

Sampling rule (every engine follows it exactly, so equal inputs draw equal samples):
``p = softmax(logits)`` in float64, ``cdf = cumsum(p)`` in float64, and the drawn class
is the first ``k`` with ``cdf[k] > u`` for the step's uniform ``u`` in [0, 1) (the last
class if rounding leaves none). The first step's previous class is µ-law of 0.0.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any

import numpy as np

from neuralsynth.vocoders.wavenet.model import initial_class
from neuralsynth.vocoders.wavenet.weights import check_weights


def sample_from_logits(logits: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw per row: ``logits [B, C]``, ``uniforms [B]`` → classes int64 ``[B]``."""
    z = logits.astype(np.float64)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    cdf = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
    k = (cdf <= np.asarray(uniforms, np.float64)[:, None]).sum(axis=1)
    return np.minimum(k, logits.shape[1] - 1).astype(np.int64)


@dataclasses.dataclass
class StreamState:
    """History of ``B`` streams between runs.

    ``prev [B]`` int64: class of each stream's last sample; ``t``: samples generated so
    far (selects the queue slots); ``queues``: the engine's own store of past residual
    inputs (layout private to the engine that made the state).
    """

    prev: np.ndarray
    t: int
    queues: Any


class Engine(abc.ABC):
    """Autoregressive WaveNet sampling from an exported weight dict.

    ``run(state, cond, uniforms, want_logits=False)``: ``cond`` float32
    ``[B, n_layers, gate, t]`` (:meth:`WaveNet.conditioning` of each stream's log mel),
    ``uniforms`` float64 ``[B, t]`` in [0, 1) → ``(samples int64 [B, t], logits float32
    [B, t, n_classes] or None)``; ``state`` (from :meth:`start`) advances by ``t``.
    """

    #: Name used in ``kernel:`` and the benchmarks.
    name: str = ""

    def __init__(self, weights: dict[str, np.ndarray]):
        check_weights(weights)
        self.dilations = [int(d) for d in weights["dilations"]]
        self.n_layers = len(self.dilations)
        self.n_classes, self.residual_channels = weights["embedding"].shape
        self.gate_channels = int(weights["dilated_bias"].shape[1])
        self.skip_channels = int(weights["skip_b"].shape[1])

    def start(self, n_streams: int) -> StreamState:
        """Fresh state of ``n_streams`` streams: silence before the first sample."""
        prev = np.full(n_streams, initial_class(self.n_classes), dtype=np.int64)
        return StreamState(prev=prev, t=0, queues=self._new_queues(n_streams))

    @abc.abstractmethod
    def _new_queues(self, n_streams: int) -> Any:
        """Zeroed dilated-conv history for ``n_streams`` streams."""

    @abc.abstractmethod
    def _run(self, state: StreamState, cond: np.ndarray, uniforms: np.ndarray,
             samples: np.ndarray, logits: np.ndarray | None) -> None:
        """Fill ``samples [B, t]`` (and ``logits [B, t, C]`` when given); update ``state``."""

    def run(self, state: StreamState, cond: Any, uniforms: Any, *,
            want_logits: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        # Not made contiguous here: each engine copies into the layout it reads (a
        # time-major view, as the vocoder passes, is already the cpu engine's layout).
        cond = np.asarray(cond, dtype=np.float32)
        u = np.ascontiguousarray(np.asarray(uniforms, dtype=np.float64))
        B = state.prev.shape[0]
        if cond.ndim != 4 or cond.shape[:3] != (B, self.n_layers, self.gate_channels) \
                or u.shape != (B, cond.shape[3]):
            raise ValueError(f"expected cond [{B}, {self.n_layers}, {self.gate_channels}, t] "
                             f"and uniforms [{B}, t], got {cond.shape} and {u.shape}")
        if u.size and (u.min() < 0.0 or u.max() >= 1.0):
            raise ValueError("uniforms must lie in [0, 1)")
        T = cond.shape[3]
        samples = np.empty((B, T), np.int64)
        logits = np.empty((B, T, self.n_classes), np.float32) if want_logits else None
        if T:
            self._run(state, cond, u, samples, logits)
        return samples, logits

    def generate(self, cond: Any, uniforms: Any) -> tuple[np.ndarray, np.ndarray]:
        """One-shot sampling with logits, for tests and benchmarks.

        One stream: ``cond [L, G, T]``, ``uniforms [T]`` → ``(samples [T], logits
        [T, C])``; ``B`` streams: ``cond [B, L, G, T]``, ``uniforms [B, T]`` →
        ``(samples [B, T], logits [B, T, C])``.
        """
        cond = np.asarray(cond, dtype=np.float32)
        u = np.asarray(uniforms, dtype=np.float64)
        single = cond.ndim == 3
        if single:
            cond, u = cond[None], u[None]
        samples, logits = self.run(self.start(cond.shape[0]), cond, u, want_logits=True)
        assert logits is not None
        return (samples[0], logits[0]) if single else (samples, logits)
