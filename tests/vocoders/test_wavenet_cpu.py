"""The numba ``cpu`` WaveNet engine against the reference engine (the oracle)."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from neuralsynth.audio.constants import HOP_LENGTH
from neuralsynth.vocoders.wavenet import export_weights
from neuralsynth.vocoders.wavenet.engines import ReferenceEngine
from neuralsynth.vocoders.wavenet.engines.cpu import CpuEngine
from neuralsynth.vocoders.wavenet.engines.fast_math import load32, sigmoid32, tanh32
from tests.wavenet_factory import log_mel, paper_model, tiny_model


@njit
def _apply_tanh(x):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = tanh32(x[i])
    return out


@njit
def _apply_sigmoid(x):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = sigmoid32(x[i])
    return out


@njit
def _widen(bits):
    out = np.empty(bits.shape[0], np.float32)
    for i in range(bits.shape[0]):
        out[i] = load32(bits[i])
    return out


def test_fast_tanh_and_sigmoid_are_within_1e_6():
    x = np.linspace(-30, 30, 600_001).astype(np.float32)
    assert np.abs(_apply_tanh(x) - np.tanh(x.astype(np.float64))).max() < 1e-6
    assert np.abs(_apply_sigmoid(x) - 1 / (1 + np.exp(-x.astype(np.float64)))).max() < 1e-6
    # Odd and exactly zero at zero, like tanh.
    assert _apply_tanh(np.zeros(1, np.float32))[0] == 0.0


def test_fp16_bits_widen_to_the_same_floats_as_numpy():
    halves = np.random.default_rng(0).standard_normal(10_000).astype(np.float16)
    halves[:4] = [0.0, -0.0, 65504.0, 6e-8]       # zero, max, a subnormal
    assert np.array_equal(_widen(halves.view(np.uint16)), halves.astype(np.float32))


def _cond_and_uniforms(model, frames: int, batch: int, seed: int = 1):
    cond = model.conditioning(log_mel(frames, batch=batch, seed=seed)).detach().numpy()
    u = np.random.default_rng(seed).random((batch, frames * HOP_LENGTH))
    return cond, u


@pytest.mark.parametrize("threads", [1, 2])
def test_cpu_draws_the_reference_samples_fp32(threads):
    model = tiny_model()
    weights = export_weights(model)
    cond, u = _cond_and_uniforms(model, frames=9, batch=3)        # 1152 samples each
    ref_s, ref_l = ReferenceEngine(weights).generate(cond, u)
    s, logits = CpuEngine(weights, precision="fp32", threads=threads).generate(cond, u)
    assert np.array_equal(s, ref_s)
    np.testing.assert_allclose(logits, ref_l, atol=1e-4, rtol=0)
    assert len(np.unique(s)) > 20                               # really sampling


def test_cpu_matches_the_reference_on_the_paper_shape():
    model = paper_model()
    weights = export_weights(model)
    cond, u = _cond_and_uniforms(model, frames=8, batch=2)        # 1024 samples each
    ref_s, ref_l = ReferenceEngine(weights).generate(cond, u)
    s, logits = CpuEngine(weights, precision="fp32", threads=2).generate(cond, u)
    assert np.array_equal(s, ref_s)
    np.testing.assert_allclose(logits, ref_l, atol=1e-4, rtol=0)
    assert ref_l.std(axis=-1).mean() > 0.5                      # logits far from flat


def test_cpu_fp16_equals_the_reference_on_fp16_rounded_weights():
    model = tiny_model(seed=3)
    weights = export_weights(model)
    stored_half = ("dilated_prev", "dilated_cur", "residual_w", "skip_w", "head1_w", "head2_w")
    rounded = {k: (v.astype(np.float16).astype(np.float32) if k in stored_half else v)
               for k, v in weights.items()}
    cond, u = _cond_and_uniforms(model, frames=8, batch=2, seed=4)
    ref_s, ref_l = ReferenceEngine(rounded).generate(cond, u)
    s, logits = CpuEngine(weights, precision="fp16").generate(cond, u)
    assert np.array_equal(s, ref_s)
    np.testing.assert_allclose(logits, ref_l, atol=1e-4, rtol=0)
    # fp16 storage really changed the weights (otherwise this test proves nothing).
    s32, _ = CpuEngine(weights, precision="fp32").generate(cond, u)
    assert not np.array_equal(s32, s)


def test_state_carries_across_runs_like_one_long_run():
    model = tiny_model(seed=5)
    engine = CpuEngine(export_weights(model), precision="fp32", threads=2)
    cond, u = _cond_and_uniforms(model, frames=6, batch=3, seed=6)
    whole, _ = engine.run(engine.start(3), cond, u)
    state = engine.start(3)
    parts = [engine.run(state, cond[..., a:b], u[:, a:b])[0]
             for a, b in ((0, 100), (100, 101), (101, 768))]
    assert np.array_equal(np.concatenate(parts, axis=1), whole)
    assert state.t == 768


def test_streams_are_independent_of_their_batch():
    model = tiny_model(seed=7)
    engine = CpuEngine(export_weights(model), precision="fp32", threads=2)
    cond, u = _cond_and_uniforms(model, frames=3, batch=4, seed=8)
    together, _ = engine.generate(cond, u)
    for b in range(4):
        alone, _ = engine.generate(cond[b], u[b])
        assert np.array_equal(alone, together[b])


def test_time_major_views_are_accepted_without_changing_results():
    model = tiny_model(seed=9)
    engine = CpuEngine(export_weights(model), precision="fp32")
    cond, u = _cond_and_uniforms(model, frames=2, batch=2, seed=10)
    time_major = np.ascontiguousarray(cond.transpose(0, 3, 1, 2))      # [B, T, L, G]
    a, _ = engine.run(engine.start(2), cond, u)
    b, _ = engine.run(engine.start(2), time_major.transpose(0, 2, 3, 1), u)
    assert np.array_equal(a, b)


def test_cpu_engine_rejects_bad_inputs():
    model = tiny_model()
    with pytest.raises(ValueError, match="precision"):
        CpuEngine(export_weights(model), precision="int8")
    engine = CpuEngine(export_weights(model))
    cond, u = _cond_and_uniforms(model, frames=1, batch=2)
    with pytest.raises(ValueError, match="uniforms"):
        engine.run(engine.start(2), cond, u[:, :10])
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        engine.run(engine.start(2), cond, np.ones_like(u))
