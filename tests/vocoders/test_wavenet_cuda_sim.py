"""The cuda WaveNet engine against the reference, on numba's CUDA simulator (no GPU needed).

The simulator runs one Python thread per GPU thread, so the shape is tiny (3 layers,
R=4, G=8, S=8, 16 classes, 3 streams × 48 samples). It runs in a subprocess
(tests/vocoders/wavenet_cuda_sim_worker.py) because NUMBA_ENABLE_CUDASIM only takes
effect before numba's first import. The real-GPU tests are in tests/cuda/.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from neuralsynth.errors import UsageError
from neuralsynth.vocoders.wavenet import export_weights, save_weights
from neuralsynth.vocoders.wavenet.engines import ReferenceEngine
from neuralsynth.vocoders.wavenet.engines.cuda import CudaEngine, cuda_available, pack_weights
from tests.wavenet_factory import log_mel, tiny_model

SIM_SHAPE = dict(n_layers=3, dilation_cycle=2, residual_channels=4, gate_channels=8,
                 skip_channels=8, n_classes=16)
STREAMS, STEPS = 3, 48
WORKER = Path(__file__).with_name("wavenet_cuda_sim_worker.py")


def fp16_rounded(weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The weights as the fp16 engine holds them, back in float32."""
    return {k: v.astype(np.float16).astype(np.float32)
            if v.dtype == np.float32 and v.ndim else v for k, v in weights.items()}


def common_prefix(a: np.ndarray, b: np.ndarray) -> int:
    """Steps before the first differing draw (the logits of that step still share history)."""
    diff = np.flatnonzero(a != b)
    return int(diff[0]) + 1 if diff.size else a.shape[0]


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cuda_sim")
    model = tiny_model(**SIM_SHAPE)
    weights = export_weights(model)
    cond = model.conditioning(log_mel(1, batch=STREAMS)).detach().numpy()[..., :STEPS]
    uniforms = np.random.default_rng(4).random((STREAMS, STEPS))
    save_weights(folder / "weights.npz", weights)
    np.save(folder / "cond.npy", cond)
    np.save(folder / "uniforms.npy", uniforms)

    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(WORKER), str(folder)], env=env,
                          capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr[-3000:]

    results = {}
    for name in ("grouped", "solo", "split", "fp16"):
        with np.load(folder / f"{name}.npz") as data:
            results[name] = (data["samples"], data["logits"])
    return dict(weights=weights, cond=cond, uniforms=uniforms, results=results,
                configs=json.loads((folder / "configs.json").read_text()),
                reference=ReferenceEngine(weights).generate(cond, uniforms))


def test_sim_draws_the_reference_samples_and_logits(sim):
    samples, logits = sim["results"]["grouped"]
    ref_samples, ref_logits = sim["reference"]
    # 2 blocks of 16 threads, 2 streams per block (the second block half full), weights
    # copied to shared memory.
    assert sim["configs"]["grouped"] == [2, 16, 2, True]
    assert samples.shape == (STREAMS, STEPS) and samples.dtype == np.int64
    assert logits.shape == (STREAMS, STEPS, 16) and logits.dtype == np.float32
    assert np.array_equal(samples, ref_samples)
    np.testing.assert_allclose(logits, ref_logits, atol=1e-4, rtol=0)
    assert len(np.unique(samples)) > 8  # really sampled, not stuck on one class


def test_sim_streams_are_independent(sim):
    grouped_samples, grouped_logits = sim["results"]["grouped"]
    solo_samples, solo_logits = sim["results"]["solo"]
    assert sim["configs"]["solo"] == [1, 16, 1, True]
    # Same arithmetic per stream whatever its neighbours: bit-identical.
    assert np.array_equal(solo_samples[0], grouped_samples[-1])
    assert np.array_equal(solo_logits[0], grouped_logits[-1])
    assert not np.array_equal(grouped_samples[0], grouped_samples[1])


def test_sim_state_carries_across_runs_with_weights_in_global_memory(sim):
    samples, logits = sim["results"]["split"]
    ref_samples, ref_logits = sim["reference"]
    assert sim["configs"]["split"] == [1, 16, 3, False]
    # Two runs (16 + 32 samples) continue exactly like one long run.
    assert np.array_equal(samples, ref_samples)
    np.testing.assert_allclose(logits, ref_logits, atol=1e-4, rtol=0)


def test_sim_fp16_weights(sim):
    samples, logits = sim["results"]["fp16"]
    assert sim["configs"]["fp16"] == [1, 16, 3, True]  # automatic: one block, 3 streams
    # float32 arithmetic on float16 weights: the reference given the same rounded
    # weights is matched like the fp32 engine matches it...
    r16_samples, r16_logits = ReferenceEngine(fp16_rounded(sim["weights"])).generate(
        sim["cond"], sim["uniforms"])
    assert np.array_equal(samples, r16_samples)
    np.testing.assert_allclose(logits, r16_logits, atol=1e-4, rtol=0)
    # ...and the logits stay close to the float32 ones while the histories agree.
    ref_samples, ref_logits = sim["reference"]
    for b in range(STREAMS):
        n = common_prefix(samples[b], ref_samples[b])
        assert n >= 16
        np.testing.assert_allclose(logits[b, :n], ref_logits[b, :n], atol=2e-2, rtol=0)
    assert np.abs(logits - ref_logits).max() > 1e-6  # the weights really were rounded


# --------------------------------------------------------------------------- in process
def test_packed_weights_are_transposed_for_coalesced_rows():
    weights = export_weights(tiny_model(**SIM_SHAPE))
    flat, off = pack_weights(weights)
    L, R, G, S, C, H = 3, 4, 8, 8, 16, 4
    assert flat.dtype == np.float32 and flat.size == off["b2"] + C
    wd = flat[off["wd"]:off["db"]].reshape(L, 2 * R, G)
    assert np.array_equal(wd[:, :R], weights["dilated_prev"].transpose(0, 2, 1))
    assert np.array_equal(wd[:, R:], weights["dilated_cur"].transpose(0, 2, 1))
    assert np.array_equal(flat[off["wr"]:off["br"]].reshape(L - 1, H, R),
                          weights["residual_w"].transpose(0, 2, 1))
    assert np.array_equal(flat[off["ws"]:off["bs"]].reshape(L, H, S),
                          weights["skip_w"].transpose(0, 2, 1))
    assert np.array_equal(flat[off["w2"]:off["b2"]].reshape(C, C), weights["head2_w"].T)
    half, _ = pack_weights(weights, np.float16)
    assert half.dtype == np.float16 and np.allclose(half, flat, atol=1e-2)


def test_unknown_precision_is_a_usage_error():
    with pytest.raises(UsageError, match="precision must be one of 'fp32', 'fp16'"):
        CudaEngine(export_weights(tiny_model(**SIM_SHAPE)), precision="fp8")


@pytest.mark.skipif(cuda_available(), reason="checks the message on a machine without GPU")
def test_without_a_gpu_the_engine_is_a_one_line_usage_error():
    with pytest.raises(UsageError) as info:
        CudaEngine(export_weights(tiny_model(**SIM_SHAPE)))
    message = str(info.value)
    assert message.startswith("cuda engine: no CUDA GPU is available (") and "\n" not in message
