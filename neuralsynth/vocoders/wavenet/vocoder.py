"""The ``wavenet`` vocoder: a trained WaveNet sampled by one of the inference engines.

Recipe fields are the network's shape (used when training it, ``train.task: vocoder``)
and the inference settings (used when rendering). At render time the shape comes from
the trained checkpoint (``checkpoint``, set by ``render --vocoder-model``), so only the
inference settings matter there.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import torch
from tqdm import tqdm

from neuralsynth.audio.spectral import mu_law_decode
from neuralsynth.components.params import ensure_valid, param
from neuralsynth.errors import UsageError
from neuralsynth.vocoders.base import Vocoder
from neuralsynth.vocoders.wavenet.chunks import join_chunks, plan_chunks
from neuralsynth.vocoders.wavenet.conditioning import PieceConditioning
from neuralsynth.vocoders.wavenet.config import WaveNetConfig
from neuralsynth.vocoders.wavenet.model import mel_input
from neuralsynth.vocoders.wavenet.weights import export_weights

KERNELS = ("auto", "reference", "cpu", "cuda")
PRECISIONS = ("fp16", "fp32")


@dataclasses.dataclass
class WaveNetVocoderConfig(WaveNetConfig):
    checkpoint: str = param("", "trained vocoder checkpoint (a run of a recipe with "
                                "train.task: vocoder, or its export); `render "
                                "--vocoder-model` sets it")
    kernel: str = param("auto", "inference engine: reference (PyTorch oracle), cpu "
                                "(numba), cuda (GPU); auto picks cuda when a GPU is "
                                "present, else cpu", choices=KERNELS)
    precision: str = param("fp16", "storage of the weights in the cpu and cuda engines "
                                   "(arithmetic is float32 either way); fp16 halves the "
                                   "memory traffic per sample", choices=PRECISIONS)
    streams: int = param(0, "independent streams a render is split into (0: automatic, "
                            "enough to keep every thread busy); chunks overlap by the "
                            "receptive field so the joins do not click")
    threads: int = param(0, "CPU threads for the cpu engine (0: all cores)")
    seed: int = param(0, "seed of the random numbers the samples are drawn with")

    def check(self, hop_length: int | None = None) -> list[tuple[str, str]]:
        problems = super().check() if hop_length is None else super().check(hop_length)
        for key in ("streams", "threads"):
            v = getattr(self, key)
            if not (isinstance(v, int) and v >= 0):
                problems.append((key, f"must be an integer >= 0, got {v!r}"))
        return problems

    def shape(self) -> WaveNetConfig:
        """Only the network-shape fields, as a :class:`WaveNetConfig`."""
        names = [f.name for f in dataclasses.fields(WaveNetConfig)]
        return WaveNetConfig(**{n: getattr(self, n) for n in names})


def _auto_kernel() -> str:
    from neuralsynth.vocoders.wavenet.engines.cuda import cuda_available

    return "cuda" if cuda_available() else "cpu"


def make_engine(kernel: str, weights: dict, *, precision: str = "fp32", threads: int = 0):
    """The inference engine ``kernel`` (``auto`` resolved) over exported ``weights``."""
    from neuralsynth.vocoders.wavenet.engines import ReferenceEngine

    kernel = _auto_kernel() if kernel == "auto" else kernel
    if kernel == "reference":
        return ReferenceEngine(weights)
    if kernel == "cpu":
        from neuralsynth.vocoders.wavenet.engines.cpu import CpuEngine

        return CpuEngine(weights, precision=precision, threads=threads or None)
    if kernel == "cuda":
        from neuralsynth.vocoders.wavenet.engines.cuda import CudaEngine

        return CudaEngine(weights, precision=precision)
    raise UsageError(f"unknown wavenet kernel {kernel!r}; choose one of {', '.join(KERNELS)}")


class WaveNetVocoder(Vocoder):
    """Trained WaveNet vocoder (``vocoder: {name: wavenet, checkpoint: ...}``).

    ``synthesize(mel)``: linear mel float32 ``[T, n_mels]`` → waveform float32
    ``[T * hop_length]`` in [-1, 1] (µ-law decoded). The render is split into streams
    (:mod:`.chunks`) run by the engine ``kernel`` in lockstep, block by block.
    """

    Config = WaveNetVocoderConfig
    trainer = "neuralsynth.training.vocoder:VocoderTrainer"

    #: Samples per engine call and stream are chosen so one block's conditioning takes
    #: about this many bytes.
    BLOCK_BYTES = 64 * 2 ** 20
    #: Owned frames per stream at least (1 s): shorter chunks would spend more time
    #: warming up than producing.
    MIN_CHUNK_FRAMES = 125
    #: Frames of cross-fade at each join (16 ms).
    OVERLAP_FRAMES = 2
    #: Streams per CPU thread when ``streams`` is 0: batching amortises weight reads.
    STREAMS_PER_THREAD = 4

    def __init__(self, config: WaveNetVocoderConfig, *, n_mels: int = 80,
                 sample_rate: int = 16000, hop_length: int = 128):
        super().__init__(config, n_mels=n_mels, sample_rate=sample_rate, hop_length=hop_length)
        ensure_valid("vocoder", config)
        if not config.checkpoint:
            raise UsageError("the wavenet vocoder needs a trained model: pass "
                             "--vocoder-model CKPT (or set vocoder.checkpoint)")
        from neuralsynth.vocoders.wavenet.checkpoint import load_wavenet

        self.model = load_wavenet(config.checkpoint)
        if (self.model.n_mels, self.model.hop_length) != (n_mels, hop_length):
            raise UsageError(f"vocoder {config.checkpoint} was trained on {self.model.n_mels} "
                             f"mels with hop {self.model.hop_length}, the model gives "
                             f"{n_mels} mels with hop {hop_length}")
        self.threads = int(config.threads or os.cpu_count() or 1)
        self.engine = make_engine(config.kernel, export_weights(self.model),
                                  precision=config.precision, threads=self.threads)
        rf = self.model.receptive_field
        self.warmup_frames = -(-rf // hop_length)

    def _n_streams(self) -> int:
        if self.config.streams:
            return int(self.config.streams)
        if self.engine.name == "cuda":
            return 256
        return self.threads * self.STREAMS_PER_THREAD

    def synthesize(self, mel: np.ndarray) -> np.ndarray:
        """Waveform float32 ``[T * hop]`` for linear mel ``[T, n_mels]``."""
        m = torch.as_tensor(np.asarray(mel, dtype=np.float32))
        if m.dim() != 2 or m.shape[1] != self.n_mels:
            raise ValueError(f"expected a mel spectrogram [T, {self.n_mels}], got "
                             f"{tuple(m.shape)}")
        hop = self.hop_length
        chunks = plan_chunks(m.shape[0], self._n_streams(), warmup=self.warmup_frames,
                             overlap=self.OVERLAP_FRAMES,
                             min_frames=max(self.MIN_CHUNK_FRAMES, self.OVERLAP_FRAMES))
        if not chunks:
            return np.zeros(0, np.float32)
        cond = PieceConditioning(self.model, mel_input(torch.nan_to_num(m, nan=0.0)))
        B = len(chunks)
        length = max(c.end - c.start for c in chunks) * hop
        L, G = cond.shape
        block = max(hop, min(length, self.BLOCK_BYTES // (4 * B * L * G) // hop * hop))
        rng = np.random.default_rng(int(self.config.seed))
        state = self.engine.start(B)
        classes = np.empty((B, length), np.int64)
        with tqdm(total=B * length, unit="sample", unit_scale=True, dynamic_ncols=True,
                  desc=f"wavenet {self.engine.name} ({B} streams)",
                  disable=not self.progress, leave=False) as bar:
            for s in range(0, length, block):
                n = min(block, length - s)
                c = cond.block([ch.start * hop + s for ch in chunks], n)
                u = rng.random((B, n))
                # [B, n, L, G] → the engine's [B, L, G, n] as a view (no copy).
                classes[:, s:s + n], _ = self.engine.run(state, c.transpose(0, 2, 3, 1), u)
                bar.update(B * n)
        waves = [mu_law_decode(classes[b, :(ch.end - ch.start) * hop],
                               mu=self.model.config.n_classes - 1).astype(np.float32)
                 for b, ch in enumerate(chunks)]
        return np.clip(join_chunks(waves, chunks, hop), -1.0, 1.0)
