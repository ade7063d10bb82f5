"""The cuda WaveNet engine on a real GPU: paper shape, 4 streams × 1000 samples.

Skipped without an NVIDIA GPU (and under numba's simulator, which would take hours on
this shape; tests/vocoders/test_wavenet_cuda_sim.py covers the simulator on a tiny shape).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuralsynth.vocoders.wavenet import WaveNet, WaveNetConfig, export_weights
from neuralsynth.vocoders.wavenet.engines import ReferenceEngine
from neuralsynth.vocoders.wavenet.engines.cuda import CudaEngine, cuda_available
from tests.vocoders.test_wavenet_cuda_sim import SIM_SHAPE, common_prefix, fp16_rounded
from tests.wavenet_factory import log_mel, tiny_model


def _real_gpu() -> bool:
    if not cuda_available():
        return False
    import numba
    return not numba.config.ENABLE_CUDASIM


pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not _real_gpu(), reason="needs an NVIDIA GPU "
                                 "(numba.cuda.is_available() is false)")]

STREAMS, STEPS = 4, 1000


def fan_in_paper_model(seed: int = 0) -> WaveNet:
    """The paper shape (L=20, R=64, G=128, S=256, C=256) with spread random weights.

    Normal weights of std 1/sqrt(fan-in) (biases 0.3): logits of a few units and ~200
    distinct classes drawn per 1000 samples. A fixed std like tiny_model's 0.3 would
    saturate the gates at this width, leaving logits in the hundreds whose float32
    rounding alone exceeds the 1e-4 the engines must agree to. Here float32 and float64
    references agree to 2.4e-6 and draw the same 4 × 1000 samples (wavenet_factory's
    paper_model, twice the default init, parts after 785 samples), so a mismatch
    points at the engine, not at rounding luck.
    """
    torch.manual_seed(seed)
    model = WaveNet(WaveNetConfig()).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if not name.startswith(("upsample", "cond_proj")):
                p.normal_(0.0, 0.3 if p.ndim == 1 else p[0].numel() ** -0.5)
    return model


@pytest.fixture(scope="module")
def paper():
    model = fan_in_paper_model()
    weights = export_weights(model)
    cond = model.conditioning(log_mel(8, batch=STREAMS, seed=11)).detach().numpy()
    cond = np.ascontiguousarray(cond[..., :STEPS])
    uniforms = np.random.default_rng(5).random((STREAMS, STEPS))
    return dict(weights=weights, cond=cond, uniforms=uniforms,
                reference=ReferenceEngine(weights).generate(cond, uniforms))


@pytest.mark.parametrize("streams_per_block", [None, 4])
def test_paper_shape_fp32_draws_the_reference_samples(paper, streams_per_block):
    engine = CudaEngine(paper["weights"], streams_per_block=streams_per_block)
    blocks, threads, ns, shared = engine.launch_config(STREAMS)
    assert threads == 256 and not shared  # 3.4 MB of weights: read from global/L2
    assert streams_per_block is None or (blocks, ns) == (1, 4)
    samples, logits = engine.generate(paper["cond"], paper["uniforms"])
    ref_samples, ref_logits = paper["reference"]
    assert np.array_equal(samples, ref_samples)
    np.testing.assert_allclose(logits, ref_logits, atol=1e-4, rtol=0)
    assert min(len(np.unique(s)) for s in samples) > 50


def test_paper_shape_state_carries_across_runs(paper):
    engine = CudaEngine(paper["weights"])
    state = engine.start(STREAMS)
    parts, start = [], 0
    for stop in (1, 300, STEPS):  # a one-sample run, then runs crossing dilation 512
        parts.append(engine.run(state, paper["cond"][..., start:stop],
                                paper["uniforms"][:, start:stop], want_logits=True))
        start = stop
    assert state.t == STEPS
    ref_samples, ref_logits = paper["reference"]
    assert np.array_equal(np.concatenate([p[0] for p in parts], axis=1), ref_samples)
    np.testing.assert_allclose(np.concatenate([p[1] for p in parts], axis=1), ref_logits,
                               atol=1e-4, rtol=0)
    # Without logits requested the draws are the same.
    again = engine.run(engine.start(STREAMS), paper["cond"], paper["uniforms"])
    assert again[1] is None and np.array_equal(again[0], ref_samples)


def test_paper_shape_fp16_weights(paper):
    engine = CudaEngine(paper["weights"], precision="fp16")
    samples, logits = engine.generate(paper["cond"], paper["uniforms"])
    # float32 arithmetic on the float16-rounded weights: exact parity with the reference
    # given those weights...
    r16_samples, r16_logits = ReferenceEngine(fp16_rounded(paper["weights"])).generate(
        paper["cond"], paper["uniforms"])
    assert np.array_equal(samples, r16_samples)
    np.testing.assert_allclose(logits, r16_logits, atol=1e-4, rtol=0)
    # ...and close to the float32 logits while the drawn histories agree.
    ref_samples, ref_logits = paper["reference"]
    for b in range(STREAMS):
        n = common_prefix(samples[b], ref_samples[b])
        assert n >= 20
        np.testing.assert_allclose(logits[b, :n], ref_logits[b, :n], atol=2e-2, rtol=0)


def test_small_model_with_weights_in_shared_memory():
    model = tiny_model(**SIM_SHAPE)
    weights = export_weights(model)
    cond = model.conditioning(log_mel(8, batch=STREAMS)).detach().numpy()[..., :STEPS]
    uniforms = np.random.default_rng(6).random((STREAMS, STEPS))
    engine = CudaEngine(weights, streams_per_block=2)
    assert engine.launch_config(STREAMS) == (2, 16, 2, True)
    samples, logits = engine.generate(cond, uniforms)
    ref_samples, ref_logits = ReferenceEngine(weights).generate(cond, uniforms)
    assert np.array_equal(samples, ref_samples)
    np.testing.assert_allclose(logits, ref_logits, atol=1e-4, rtol=0)
