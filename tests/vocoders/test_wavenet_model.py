"""WaveNet model, weight export and the reference (oracle) sampler on tiny shapes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuralsynth.audio.constants import HOP_LENGTH
from neuralsynth.audio.spectral import mu_law_encode
from neuralsynth.errors import CheckpointError, RecipeError
from neuralsynth.vocoders.wavenet import (
    WaveNet,
    WaveNetConfig,
    export_weights,
    initial_class,
    load_weights,
    save_weights,
)
from neuralsynth.vocoders.wavenet.engines import ReferenceEngine, sample_from_logits
from tests.wavenet_factory import log_mel, teacher_prev, tiny_model


# --------------------------------------------------------------------------- config
def test_default_config_is_the_paper_shape_and_valid():
    c = WaveNetConfig()
    assert c.check() == []
    assert c.dilations() == [2 ** i for i in range(10)] * 2
    # Each kernel-2 layer reaches back its dilation: 2 * (1 + ... + 512) + 1.
    assert c.receptive_field == 2 * 1023 + 1 == 2047


@pytest.mark.parametrize("overrides, field", [
    (dict(upsample_strides=[8, 8]), "upsample_strides"),          # product 64 != 128
    (dict(upsample_strides=[8, 16, 2], upsample_windows=[16, 32, 4]), "upsample_strides"),
    (dict(upsample_windows=[16]), "upsample_windows"),             # count mismatch
    (dict(upsample_windows=[4, 32]), "upsample_windows"),          # window < stride
    (dict(upsample_strides=[0, 16]), "upsample_strides"),
    (dict(residual_channels=0), "residual_channels"),
    (dict(n_layers=-1), "n_layers"),
    (dict(gate_channels=15), "gate_channels"),
    (dict(n_classes=1), "n_classes"),
])
def test_config_check_reports_bad_values(overrides, field):
    problems = WaveNetConfig(**overrides).check()
    assert field in [k for k, _ in problems]


def test_model_refuses_an_invalid_config_with_a_recipe_error():
    with pytest.raises(RecipeError, match="upsample_strides.*equal the hop length 128"):
        WaveNet(WaveNetConfig(upsample_strides=[4, 16]))


# --------------------------------------------------------------------------- model
def test_forward_and_conditioning_shapes():
    model = tiny_model()
    mel = log_mel(3, batch=2)
    T = 3 * HOP_LENGTH
    prev = torch.randint(0, 256, (2, T))
    assert model(prev, mel).shape == (2, 256, T)
    assert model.conditioning(mel).shape == (2, 4, 16, T)
    assert model.receptive_field == sum([1, 2, 4, 1]) + 1
    with pytest.raises(ValueError, match="T = frames"):
        model(prev[:, :-1], mel)


@pytest.mark.parametrize("windows, strides", [([16, 32], [8, 16]), ([3, 64], [2, 64])])
def test_upsampled_conditioning_has_one_vector_per_sample(windows, strides):
    # The paper shape comes out exact; an odd window - stride is trimmed to length.
    model = tiny_model(upsample_windows=windows, upsample_strides=strides)
    for frames in (1, 5):
        assert model.conditioning(log_mel(frames)).shape[-1] == frames * HOP_LENGTH


def test_forward_is_causal_in_the_previous_samples():
    model = tiny_model()
    mel = log_mel(2)
    T = 2 * HOP_LENGTH
    prev = torch.randint(0, 256, (1, T))
    t = 100
    changed = prev.clone()
    changed[:, t + 1:] = torch.randint(0, 256, (1, T - t - 1))
    a, b = model(prev, mel), model(changed, mel)
    # logits[t] predicts sample t from prev[:t+1] (= samples before t): unaffected.
    assert torch.equal(a[..., :t + 1], b[..., :t + 1])
    assert not torch.allclose(a[..., t + 1], b[..., t + 1])


def test_forward_depends_on_the_mel():
    model = tiny_model()
    prev = torch.randint(0, 256, (1, HOP_LENGTH))
    assert not torch.allclose(model(prev, log_mel(1, seed=1)), model(prev, log_mel(1, seed=2)))


def test_forward_reaches_back_exactly_the_receptive_field():
    model = tiny_model()
    rf = model.receptive_field
    mel = torch.zeros(1, 2, 80)
    prev = torch.randint(0, 256, (1, 2 * HOP_LENGTH))
    t = 200
    for back, affects in ((rf - 1, True), (rf, False)):
        changed = prev.clone()
        changed[0, t - back] = (prev[0, t - back] + 1) % 256
        same = torch.equal(model(prev, mel)[..., t], model(changed, mel)[..., t])
        assert same is not affects


# --------------------------------------------------------------------------- weights
def test_export_save_load_round_trip_is_exact(tmp_path):
    weights = export_weights(tiny_model())
    path = tmp_path / "vocoder.weights"  # any suffix: savez must not append ".npz"
    save_weights(path, weights)
    loaded = load_weights(path)
    assert sorted(loaded) == sorted(weights)
    for key in weights:
        assert loaded[key].dtype == weights[key].dtype, key
        assert np.array_equal(loaded[key], weights[key]), key
    assert [p.name for p in tmp_path.iterdir()] == ["vocoder.weights"]
    assert weights["dilated_prev"].shape == (4, 16, 8)
    assert weights["residual_w"].shape == (3, 8, 8)


@pytest.mark.parametrize("content", [b"not an archive", "npy", "npz-other", "npz-trunc"])
def test_load_rejects_other_files_with_one_line(tmp_path, content):
    path = tmp_path / "bad.npz"
    if content == "npy":
        with open(path, "wb") as f:
            np.save(f, np.zeros(3))
    elif content == "npz-other":
        with open(path, "wb") as f:
            np.savez(f, a=np.zeros(3))
    elif content == "npz-trunc":
        weights = export_weights(tiny_model())
        del weights["skip_w"]
        with open(path, "wb") as f:
            np.savez(f, **weights)
    else:
        path.write_bytes(content)
    with pytest.raises(CheckpointError) as info:
        load_weights(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message


def test_load_reports_a_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="no such WaveNet weight file"):
        load_weights(tmp_path / "absent.npz")


# --------------------------------------------------------------------------- reference
def test_sampling_rule_is_the_first_class_whose_cdf_exceeds_u():
    logits = np.log(np.array([[0.25, 0.25, 0.5]] * 5))
    u = np.array([0.0, 0.2499, 0.25, 0.7, 0.9999999])
    assert sample_from_logits(logits, u).tolist() == [0, 0, 1, 2, 2]


def test_initial_class_is_mu_law_of_silence():
    assert initial_class(256) == int(mu_law_encode(0.0)) == 128


def test_reference_matches_the_teacher_forced_forward():
    model = tiny_model()
    mel = log_mel(8)
    cond = model.conditioning(mel)[0].detach()
    uniforms = np.random.default_rng(3).random(8 * HOP_LENGTH)
    samples, logits = ReferenceEngine(export_weights(model)).generate(cond.numpy(), uniforms)
    assert samples.shape == (1024,) and samples.dtype == np.int64
    assert logits.shape == (1024, 256) and logits.dtype == np.float32
    assert len(np.unique(samples)) > 20  # really sampled, not stuck on one class

    with torch.no_grad():
        forced = model(teacher_prev(samples, 256), mel)[0].T.numpy()
    np.testing.assert_allclose(logits, forced, atol=1e-4, rtol=0)
    # And the draws follow the documented rule from those logits.
    assert np.array_equal(samples, sample_from_logits(forced, uniforms))


def test_reference_streams_are_independent():
    model = tiny_model()
    mel = log_mel(2, batch=3, seed=5)
    cond = model.conditioning(mel).detach().numpy()
    uniforms = np.random.default_rng(7).random((3, 2 * HOP_LENGTH))
    engine = ReferenceEngine(export_weights(model))
    samples, logits = engine.generate(cond, uniforms)
    assert samples.shape == (3, 256) and logits.shape == (3, 256, 256)
    for b in range(3):
        s1, l1 = engine.generate(cond[b], uniforms[b])
        assert np.array_equal(s1, samples[b])
        np.testing.assert_allclose(l1, logits[b], atol=1e-5, rtol=0)
    assert not np.array_equal(samples[0], samples[1])


def test_reference_rejects_mismatched_inputs():
    model = tiny_model()
    engine = ReferenceEngine(export_weights(model))
    cond = model.conditioning(log_mel(1)).detach().numpy()[0]
    with pytest.raises(ValueError, match="uniforms"):
        engine.generate(cond, np.zeros(10))
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        engine.generate(cond, np.ones(HOP_LENGTH))
