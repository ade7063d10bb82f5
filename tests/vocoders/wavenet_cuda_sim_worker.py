"""Runs the cuda WaveNet engine on numba's CUDA simulator, for tests/vocoders/test_wavenet_cuda_sim.py.

Usage: ``NUMBA_ENABLE_CUDASIM=1 python wavenet_cuda_sim_worker.py DIR``. ``DIR`` holds
``weights.npz``, ``cond.npy [B, L, G, T]`` and ``uniforms.npy [B, T]``; the worker writes
one ``NAME.npz`` (samples, logits) per scenario and ``configs.json`` (the launch
configuration each scenario used). A separate process because the simulator is chosen
when numba is first imported, and the test process has imported numba already.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

# The simulator runs each GPU thread as a Python thread and polls them for barriers from
# the main thread; with the default 5 ms GIL switch interval every barrier waits out
# whole intervals. A short interval makes the same run about 15x faster.
sys.setswitchinterval(5e-5)


def main(folder: Path) -> None:
    if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
        raise SystemExit("set NUMBA_ENABLE_CUDASIM=1 (this worker tests the simulator)")
    from neuralsynth.vocoders.wavenet import load_weights
    from neuralsynth.vocoders.wavenet.engines.cuda import CudaEngine

    weights = load_weights(folder / "weights.npz")
    cond = np.load(folder / "cond.npy")
    uniforms = np.load(folder / "uniforms.npy")
    B, T = uniforms.shape
    split = T // 3  # any point inside the run
    configs = {}

    def save(name, engine, n_streams, samples, logits):
        configs[name] = list(engine.launch_config(n_streams))
        np.savez(folder / f"{name}.npz", samples=samples, logits=logits)

    # Streams in groups of two: the last group is partial (B = 3); weights in shared memory.
    engine = CudaEngine(weights, streams_per_block=2)
    # A first, discarded launch: one cold full-suite run drew the last class throughout
    # block 0 of the process's first simulated launch (as if its weights were unset) and
    # no rerun reproduced it; the simulator sets up its thread machinery on that launch.
    engine.generate(cond[..., :2], uniforms[:, :2])
    save("grouped", engine, B, *engine.generate(cond, uniforms))
    # The last stream alone: its draws must not depend on the streams beside it.
    save("solo", engine, 1, *engine.generate(cond[B - 1:], uniforms[B - 1:]))
    # Two consecutive runs, weights read from global memory (automatic grouping: the
    # simulator reports one multiprocessor, so all streams share one block).
    engine = CudaEngine(weights, shared_weights=False)
    state = engine.start(B)
    first = engine.run(state, cond[..., :split], uniforms[:, :split], want_logits=True)
    second = engine.run(state, cond[..., split:], uniforms[:, split:], want_logits=True)
    save("split", engine, B, np.concatenate([first[0], second[0]], axis=1),
         np.concatenate([first[1], second[1]], axis=1))
    # float16 weights, automatic launch configuration.
    engine = CudaEngine(weights, precision="fp16")
    save("fp16", engine, B, *engine.generate(cond, uniforms))

    (folder / "configs.json").write_text(json.dumps(configs))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
