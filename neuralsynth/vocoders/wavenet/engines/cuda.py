"""CUDA WaveNet engine: the whole sampling loop in one numba.cuda kernel launch per run.

Why one launch per run: a WaveNet sample costs ``3 * n_layers + 2`` small matrix-vector
products (a few hundred thousand multiply-adds at the paper shape) and the next sample
cannot start before this one is drawn. One kernel launch per layer, or even per sample,
would spend far more time launching than computing. So, as in nv-wavenet, a kernel
runs every time step of the run itself: the time loop is inside the kernel, the draw
happens on the GPU, and the host only sees the finished samples (and logits on request).

Layout
------
- **Grid**: one thread block per group of ``NS`` streams (``streams_per_block``). Each
  weight a thread loads is used for all ``NS`` streams of its block, so a group shares
  the weight traffic; one stream per block gives the most blocks (parallelism) when
  there are few streams.
- **Threads**: thread ``m`` computes output row ``m`` of every matrix-vector product
  (rows ``m + NT``, ``m + 2 NT``, … when a matrix has more rows than the block has
  threads), for each stream of its group; ``cuda.syncthreads()`` separates the
  stages. Per layer: (1) ``z = W_dil [h_past; h] + b + cond`` over ``G`` rows, (2) gate
  ``a = tanh(z[:H]) * sigmoid(z[H:])``, (3) ``skip += W_skip a + b`` over ``S`` rows and
  ``h += W_res a + b`` over ``R`` rows (while the ``R`` threads also fetch the next
  layer's ``h_past``). Then the two head products, a tree reduction for the maximum
  logit, ``exp`` in float64 by row, and the draw.
- **Shared memory** (per stream): the residual input ``[h_past; h]``, ``z``, ``a``, the
  skip sum, the head activations, the logits and the float64 probabilities.
- **Weights**: packed on the host into one flat array with every matrix transposed to
  ``[K, M]``, so the ``M`` threads of a row stage read consecutive addresses (coalesced)
  at each ``k``. When the weights and the activations fit in the 48 KB of static shared
  memory a block may use (small models), each block copies them there first; otherwise
  (the paper shape: about 3.4 MB in float32, 1.7 MB in float16, far beyond the 228 KB an
  SM has) they are read from global memory, where they stay resident in L2 across
  time steps. ``precision="fp16"`` stores them as float16 (half the traffic); the
  arithmetic is float32 either way.
- **Dilated-conv history**: per stream, per layer, a ring of ``d`` residual inputs of
  ``R`` floats in global memory (``[B, R * sum(d)]`` float32), kept between runs in the
  :class:`~.base.StreamState` (``queues`` is a device array). Slot ``t % d`` is read
  (``h[t - d]``) and then overwritten with ``h[t]``, like the reference engine; thread
  ``r`` is the only one touching element ``r`` of a slot, so no barrier is needed
  between the read and the write.
- **Sampling**: the exact rule of :func:`~.base.sample_from_logits`: logits in float32,
  ``p = exp(z - max)`` in float64, normalised, then one thread per stream walks the
  cumulative sum in class order (the order of numpy's ``cumsum``) to the first class
  whose CDF exceeds the uniform. The only rounding differences from numpy are the order
  of the normaliser's sum (numpy adds pairwise) and the last bit of ``exp``: ~1e-16 on
  the CDF.

Limits
------
- Logits agree with the reference to float32 summation-order rounding (~1e-6 for
  moderate logits), so draws agree unless a uniform lands within that distance of a
  CDF step (2.4e-6 between float32 and float64 at the paper shape with logits of a few
  units). fp16 weights move such logits by ~2e-3.
- At most 1024 threads per block (rows beyond are looped over) and 48 KB of static
  shared memory: the activations of one stream must fit (``C`` up to a few thousand).
- Each block works through its time steps serially; throughput comes from many streams.
- The uniforms and conditioning of the whole run are copied to the device first
  (``[B, T, L, G]`` float32), and one launch lasts the whole run (a GPU that also drives
  a display may kill kernels after a few seconds): run long signals in blocks of
  samples.

Runs on a real GPU, or on numba's CUDA simulator when ``NUMBA_ENABLE_CUDASIM=1`` is set
before numba is first imported (slow: one Python thread per GPU thread; tests use it
with tiny shapes).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from neuralsynth.errors import UsageError
from neuralsynth.vocoders.wavenet.engines.base import Engine, StreamState

#: Static shared memory one block may use without opting in to more (bytes).
SHARED_LIMIT = 48 * 1024
#: Most threads in one block.
MAX_THREADS = 1024
#: Most streams sharing one block (accumulators live in registers, one per stream).
MAX_STREAMS_PER_BLOCK = 8

_PRECISIONS = {"fp32": np.float32, "fp16": np.float16}

#: ``numba.cuda``, imported on first use (importing this module stays cheap). It must be
#: a module global: the simulator runs a kernel by swapping the globals that hold it.
cuda: Any = None


def _numba_cuda():
    global cuda
    if cuda is None:
        from numba import cuda as module
        cuda = module
    return cuda


def cuda_available() -> bool:
    """True when numba can run CUDA kernels here: a real GPU, or the simulator when
    ``NUMBA_ENABLE_CUDASIM=1`` was set before numba was imported."""
    try:
        return bool(_numba_cuda().is_available())
    except Exception:  # numba missing or its driver probe failing: no GPU for us
        return False


def _pow2_at_least(n: int) -> int:
    p = 1
    while p < n:
        p *= 2
    return p



# ----------------------------------------------------------------------------- weights
_PARTS = ("emb", "wd", "db", "wr", "br", "ws", "bs", "w1", "b1", "w2", "b2")


def pack_weights(weights: dict[str, np.ndarray], dtype=np.float32
                 ) -> tuple[np.ndarray, dict[str, int]]:
    """All weights in one flat array of ``dtype``, matrices transposed to ``[K, M]``.

    Returns ``(flat, offsets)``; part ``name`` starts at ``flat[offsets[name]]``:
    ``emb [C, R]``, ``wd [L, 2R, G]`` (rows ``0…R-1`` the tap on ``h[t-d]``, rows
    ``R…2R-1`` the tap on ``h[t]``), ``db [L, G]``, ``wr [L-1, H, R]``, ``br [L-1, R]``,
    ``ws [L, H, S]``, ``bs [L, S]``, ``w1 [S, C]``, ``b1 [C]``, ``w2 [C, C]``, ``b2 [C]``.
    """
    def t(a):  # [..., M, K] -> [..., K, M]
        return np.swapaxes(a, -1, -2)

    parts = {
        "emb": weights["embedding"],
        "wd": np.concatenate([t(weights["dilated_prev"]), t(weights["dilated_cur"])], 1),
        "db": weights["dilated_bias"],
        "wr": t(weights["residual_w"]),
        "br": weights["residual_b"],
        "ws": t(weights["skip_w"]),
        "bs": weights["skip_b"],
        "w1": t(weights["head1_w"]),
        "b1": weights["head1_b"],
        "w2": t(weights["head2_w"]),
        "b2": weights["head2_b"],
    }
    offsets, pos = {}, 0
    for name in _PARTS:
        offsets[name] = pos
        pos += parts[name].size
    flat = np.concatenate([np.ascontiguousarray(parts[n], np.float32).ravel()
                           for n in _PARTS]).astype(dtype)
    return flat, offsets


def _stream_shared_bytes(R: int, G: int, S: int, C: int) -> int:
    """Shared memory of one stream's activations (see the kernel's arrays), plus slack
    for alignment."""
    H, half = G // 2, _pow2_at_least(C) // 2
    return 4 * (2 * R + G + H + S + 2 * C + half) + 8 * C + 8 + 64


# ----------------------------------------------------------------------------- kernel
@functools.lru_cache(maxsize=None)
def _kernel(R: int, G: int, S: int, C: int, L: int, NS: int, NT: int,
            shared_weights: bool, half: bool, offsets: tuple[tuple[str, int], ...]):
    """Compile (lazily, once per shape) the sampling kernel for one configuration.

    Every size is a closure constant, so shared and local arrays have static shapes
    and the inner loops have known trip counts.
    """
    from numba import float32, float64, int64
    _numba_cuda()

    H, R2 = G // 2, 2 * R
    HALF = _pow2_at_least(C) // 2
    o = dict(offsets)
    O_EMB, O_WD, O_DB, O_WR, O_BR = o["emb"], o["wd"], o["db"], o["wr"], o["br"]
    O_WS, O_BS, O_W1, O_B1, O_W2, O_B2 = o["ws"], o["bs"], o["w1"], o["b1"], o["w2"], o["b2"]
    NW = O_B2 + C
    NWS = NW if shared_weights else 1
    WDT = np.float16 if half else np.float32
    ZERO, ONE = np.float32(0.0), np.float32(1.0)
    # Below this a float32 sigmoid is 0 anyway; the clamp keeps the simulator's math.exp
    # (Python floats, which raise on overflow) finite and moves the gate by < 1e-34.
    GATE_FLOOR = np.float32(-80.0)

    @cuda.jit
    def kernel(wg, dil, qoff, cond, uniforms, prev, queues, samples, logits, want, t0):
        tid = cuda.threadIdx.x
        b0 = cuda.blockIdx.x * NS
        B = prev.shape[0]
        T = uniforms.shape[1]
        # One cuda.shared.array per line: the simulator tells them apart by line.
        ws = cuda.shared.array(NWS, WDT)
        xin = cuda.shared.array((NS, R2), float32)   # [h[t-d]; h[t]] of the layer
        z = cuda.shared.array((NS, G), float32)      # dilated conv + conditioning
        a = cuda.shared.array((NS, H), float32)      # gate output
        skip = cuda.shared.array((NS, S), float32)   # skip sum (relu'd after the last)
        y = cuda.shared.array((NS, C), float32)      # relu(head1)
        lg = cuda.shared.array((NS, C), float32)     # logits
        red = cuda.shared.array((NS, HALF), float32)  # max-reduction scratch
        p = cuda.shared.array((NS, C), float64)      # exp(z - max)
        cls = cuda.shared.array(NS, int64)           # each stream's previous class
        acc = cuda.local.array(NS, float32)
        # Stream of each group slot; a last, partial group repeats its last stream
        # (reads only: slots past B write nothing). No builtin min/max in this kernel:
        # numba's CUDA target cannot compile their star-args overloads here.
        sid = cuda.local.array(NS, int64)
        for j in range(NS):
            sid[j] = b0 + j if b0 + j < B else B - 1

        if shared_weights:
            j = tid
            while j < NW:
                ws[j] = wg[j]
                j += NT
            w = ws
        else:
            w = wg
        if tid < NS:
            cls[tid] = prev[sid[tid]]
        cuda.syncthreads()

        for k in range(T):
            t = t0 + k
            # Input: embedding of the previous class; layer 0's h[t-d]; skip reset.
            m = tid
            while m < R:
                q = qoff[0] + (t % dil[0]) * R + m
                for j in range(NS):
                    xin[j, R + m] = float32(w[O_EMB + cls[j] * R + m])
                    xin[j, m] = queues[sid[j], q]
                m += NT
            m = tid
            while m < S:
                for j in range(NS):
                    skip[j, m] = ZERO
                m += NT
            cuda.syncthreads()

            for i in range(L):
                # (1) z = W_dil [h[t-d]; h[t]] + bias + cond, and h[t] into the ring.
                m = tid
                while m < G:
                    for j in range(NS):
                        acc[j] = ZERO
                    base = O_WD + i * R2 * G + m
                    for kk in range(R2):
                        wv = float32(w[base + kk * G])
                        for j in range(NS):
                            acc[j] += wv * xin[j, kk]
                    bias = float32(w[O_DB + i * G + m])
                    for j in range(NS):
                        z[j, m] = acc[j] + bias + cond[sid[j], k, i, m]
                    m += NT
                m = tid
                while m < R:
                    q = qoff[i] + (t % dil[i]) * R + m
                    for j in range(NS):
                        if b0 + j < B:
                            queues[b0 + j, q] = xin[j, R + m]
                    m += NT
                cuda.syncthreads()

                # (2) gate.
                m = tid
                while m < H:
                    for j in range(NS):
                        th = float32(math.tanh(z[j, m]))
                        zs = z[j, m + H]
                        if zs < GATE_FLOOR:
                            zs = GATE_FLOOR
                        e = float32(math.exp(-zs))
                        a[j, m] = th * (ONE / (ONE + e))
                    m += NT
                cuda.syncthreads()

                # (3) skip += W_skip a + b; h += W_res a + b; next layer's h[t-d].
                m = tid
                while m < S:
                    for j in range(NS):
                        acc[j] = ZERO
                    base = O_WS + i * H * S + m
                    for kk in range(H):
                        wv = float32(w[base + kk * S])
                        for j in range(NS):
                            acc[j] += wv * a[j, kk]
                    bias = float32(w[O_BS + i * S + m])
                    for j in range(NS):
                        v = skip[j, m] + (acc[j] + bias)
                        if i == L - 1 and v < ZERO:
                            v = ZERO  # the head's first relu, once per row
                        skip[j, m] = v
                    m += NT
                if i < L - 1:
                    m = tid
                    while m < R:
                        for j in range(NS):
                            acc[j] = ZERO
                        base = O_WR + i * H * R + m
                        for kk in range(H):
                            wv = float32(w[base + kk * R])
                            for j in range(NS):
                                acc[j] += wv * a[j, kk]
                        bias = float32(w[O_BR + i * R + m])
                        q = qoff[i + 1] + (t % dil[i + 1]) * R + m
                        for j in range(NS):
                            xin[j, R + m] += acc[j] + bias
                            xin[j, m] = queues[sid[j], q]
                        m += NT
                cuda.syncthreads()

            # Head: relu(W1 relu(skip) + b1), then logits = W2 y + b2.
            m = tid
            while m < C:
                for j in range(NS):
                    acc[j] = ZERO
                for s in range(S):
                    wv = float32(w[O_W1 + s * C + m])
                    for j in range(NS):
                        acc[j] += wv * skip[j, s]
                bias = float32(w[O_B1 + m])
                for j in range(NS):
                    v = acc[j] + bias
                    y[j, m] = v if v > ZERO else ZERO
                m += NT
            cuda.syncthreads()
            m = tid
            while m < C:
                for j in range(NS):
                    acc[j] = ZERO
                for c in range(C):
                    wv = float32(w[O_W2 + c * C + m])
                    for j in range(NS):
                        acc[j] += wv * y[j, c]
                bias = float32(w[O_B2 + m])
                for j in range(NS):
                    v = acc[j] + bias
                    lg[j, m] = v
                    if want != 0 and b0 + j < B:
                        logits[b0 + j, k, m] = v
                m += NT
            cuda.syncthreads()

            # Maximum logit: tree reduction (exact in any order).
            m = tid
            while m < HALF:
                for j in range(NS):
                    v = lg[j, m]
                    if m + HALF < C and lg[j, m + HALF] > v:
                        v = lg[j, m + HALF]
                    red[j, m] = v
                m += NT
            cuda.syncthreads()
            width = HALF // 2
            while width > 0:
                m = tid
                while m < width:
                    for j in range(NS):
                        if red[j, m + width] > red[j, m]:
                            red[j, m] = red[j, m + width]
                    m += NT
                cuda.syncthreads()
                width //= 2
            m = tid
            while m < C:
                for j in range(NS):
                    p[j, m] = math.exp(float64(lg[j, m]) - float64(red[j, 0]))
                m += NT
            cuda.syncthreads()

            # Draw: first class whose float64 CDF exceeds u, else the last class.
            if tid < NS:
                total = float64(0.0)
                for c in range(C):
                    total += p[tid, c]
                u = uniforms[sid[tid], k]
                cdf = float64(0.0)
                pick = C - 1
                for c in range(C):
                    cdf += p[tid, c] / total
                    if cdf > u:
                        pick = c
                        break
                cls[tid] = pick
                if b0 + tid < B:
                    samples[b0 + tid, k] = pick
            cuda.syncthreads()

    return kernel


# ----------------------------------------------------------------------------- engine
class CudaEngine(Engine):
    """WaveNet sampling on a CUDA GPU, one kernel launch per :meth:`run` (see the module
    doc for the design; shapes as in :class:`~.base.Engine`).

    ``precision``: ``"fp32"`` or ``"fp16"`` (weights stored as float16 on the device,
    float32 arithmetic). ``streams_per_block``: streams sharing one thread block (None:
    enough to give each multiprocessor about one block). ``shared_weights``: copy the
    weights to shared memory (None: when they fit).
    """

    name = "cuda"

    def __init__(self, weights: dict[str, np.ndarray], *, precision: str = "fp32",
                 streams_per_block: int | None = None, shared_weights: bool | None = None):
        super().__init__(weights)
        if precision not in _PRECISIONS:
            raise UsageError(f"cuda engine: precision must be one of "
                             f"{', '.join(map(repr, _PRECISIONS))}, got {precision!r}")
        if streams_per_block is not None and not (
                isinstance(streams_per_block, int)
                and 1 <= streams_per_block <= MAX_STREAMS_PER_BLOCK):
            raise UsageError(f"cuda engine: streams_per_block must be an integer in "
                             f"1…{MAX_STREAMS_PER_BLOCK}, got {streams_per_block!r}")
        if not cuda_available():
            raise UsageError("cuda engine: no CUDA GPU is available (numba found no CUDA "
                             "driver or device; use kernel 'cpu' or 'reference')")
        self._cuda = _numba_cuda()
        self.precision = precision
        self.streams_per_block = streams_per_block
        self.shared_weights = shared_weights
        R, G, S, C = (self.residual_channels, self.gate_channels, self.skip_channels,
                      self.n_classes)
        if _stream_shared_bytes(R, G, S, C) > SHARED_LIMIT:
            raise UsageError(f"cuda engine: the activations of one stream "
                             f"({_stream_shared_bytes(R, G, S, C)} bytes) exceed the "
                             f"{SHARED_LIMIT} bytes of shared memory of a block")
        flat, offsets = pack_weights(weights, _PRECISIONS[precision])
        if not np.all(np.isfinite(flat)):
            raise UsageError(f"cuda engine: weights overflow {precision} "
                             "(|w| > 65504); use precision 'fp32'")
        self._offsets = tuple(offsets.items())
        self._weight_bytes = flat.nbytes
        self._threads = max(min(MAX_THREADS, max(R, G, S, C)), MAX_STREAMS_PER_BLOCK)
        self._w = self._cuda.to_device(flat)
        self._dil = self._cuda.to_device(np.asarray(self.dilations, np.int64))
        starts = np.concatenate([[0], np.cumsum(self.dilations)[:-1]]) * R
        self._qoff = self._cuda.to_device(starts.astype(np.int64))
        self._queue_len = int(sum(self.dilations)) * R
        self._no_logits = self._cuda.device_array((1, 1, 1), np.float32)

    # ------------------------------------------------------------------ configuration
    def launch_config(self, n_streams: int) -> tuple[int, int, int, bool]:
        """``(blocks, threads, streams_per_block, shared_weights)`` for ``n_streams``."""
        R, G, S, C = (self.residual_channels, self.gate_channels, self.skip_channels,
                      self.n_classes)
        per_stream = _stream_shared_bytes(R, G, S, C)
        fit = max(1, min(MAX_STREAMS_PER_BLOCK, SHARED_LIMIT // per_stream))
        ns = self.streams_per_block
        if ns is None:
            sms = self._multiprocessors()
            ns = min(fit, max(1, -(-n_streams // sms)))
        elif ns > fit:
            raise UsageError(f"cuda engine: {ns} streams per block need "
                             f"{ns * per_stream} bytes of shared memory, more than "
                             f"{SHARED_LIMIT}")
        ns = min(ns, max(1, n_streams))
        fits = self._weight_bytes + ns * per_stream <= SHARED_LIMIT
        shared = fits if self.shared_weights is None else bool(self.shared_weights)
        if shared and not fits:
            raise UsageError(f"cuda engine: the weights ({self._weight_bytes} bytes) do not "
                             f"fit in shared memory beside {ns} streams")
        return -(-n_streams // ns), self._threads, ns, shared

    def _multiprocessors(self) -> int:
        try:
            return int(self._cuda.get_current_device().MULTIPROCESSOR_COUNT)
        except Exception:  # the simulator's device has no such attribute
            return 1

    # ------------------------------------------------------------------ runs
    def _new_queues(self, n_streams: int) -> Any:
        return self._cuda.to_device(np.zeros((n_streams, self._queue_len), np.float32))

    def _run(self, state: StreamState, cond: np.ndarray, uniforms: np.ndarray,
             samples: np.ndarray, logits: np.ndarray | None) -> None:
        cuda = self._cuda
        B, T = uniforms.shape
        if tuple(getattr(state.queues, "shape", ())) != (B, self._queue_len):
            raise ValueError("state was not made by this cuda engine (queues shape "
                             f"{getattr(state.queues, 'shape', None)})")
        blocks, threads, ns, shared = self.launch_config(B)
        kernel = _kernel(self.residual_channels, self.gate_channels, self.skip_channels,
                         self.n_classes, self.n_layers, ns, threads, shared,
                         self.precision == "fp16", self._offsets)
        # [B, L, G, T] -> [B, T, L, G]: the G rows of a step are contiguous (coalesced).
        cond_d = cuda.to_device(np.ascontiguousarray(cond.transpose(0, 3, 1, 2)))
        u_d = cuda.to_device(uniforms)
        prev_d = cuda.to_device(np.ascontiguousarray(state.prev, np.int64))
        samples_d = cuda.device_array((B, T), np.int64)
        logits_d = (cuda.device_array((B, T, self.n_classes), np.float32)
                    if logits is not None else self._no_logits)
        kernel[blocks, threads](self._w, self._dil, self._qoff, cond_d, u_d, prev_d,
                                state.queues, samples_d, logits_d,
                                int(logits is not None), int(state.t))
        samples[...] = samples_d.copy_to_host()
        if logits is not None:
            logits[...] = logits_d.copy_to_host()
        state.prev = samples[:, -1].astype(np.int64)
        state.t += T
