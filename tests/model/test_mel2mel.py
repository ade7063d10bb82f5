"""Mel2Mel wiring: registries, derived sizes, every ablation switch, timbre, overfitting."""

from __future__ import annotations

import itertools
import time

import pytest
import torch

from neuralsynth.errors import RecipeError
from neuralsynth.losses import LOSSES
from neuralsynth.model.conditioners.film import FiLM
from neuralsynth.model.encoders.pianoroll import PianoRoll
from neuralsynth.model.mel2mel import Mel2Mel
from neuralsynth.model.sequences.bilstm import BiLSTM


def spec(onsets=True, frames=True, sites=("pre", "post"), d=2, hidden=8, layers=1,
         bidirectional=True, relu=False, k=1):
    return {
        "encoder": {"name": "pianoroll", "onsets": onsets, "frames": frames},
        "conditioner": {"name": "film", "embedding_dim": d, "sites": list(sites)},
        "sequence": {"name": "bilstm", "hidden_size": hidden, "num_layers": layers,
                     "bidirectional": bidirectional, "input_relu": relu, "conv_kernel": k},
    }


def test_paper_model_from_defaults():
    model = Mel2Mel.from_spec({}, n_instruments=10)
    assert isinstance(model.encoder, PianoRoll)
    assert isinstance(model.conditioner, FiLM)
    assert isinstance(model.sequence, BiLSTM)
    assert model.in_dim == 176 and model.embedding_dim == 2
    assert model.instrument_embeddings().shape == (10, 2)
    assert model.conditioner.channels == {"pre": 256, "post": 512}
    assert model.sequence.out_dim == 80
    assert model.spec["sequence"] == {"name": "bilstm", "hidden_size": 256, "num_layers": 1,
                                      "bidirectional": True, "input_relu": False,
                                      "conv_kernel": 1}
    # The resolved spec rebuilds the same architecture (what checkpoints rely on).
    again = Mel2Mel.from_spec(model.spec, n_instruments=10)
    assert {k: v.shape for k, v in again.state_dict().items()} == \
        {k: v.shape for k, v in model.state_dict().items()}


ROLLS = [(True, True), (False, True), (True, False)]       # both / frame only / onset only
SITES = [("pre", "post"), ("pre",), ("post",)]              # FiLM sites
# Encoder x conditioner switches with the paper trunk, then every trunk switch with the
# paper encoder and conditioner: each ablation of the paper is one of these rows.
ABLATIONS = (
    [(r, s, True, False, 1, 1) for r, s in itertools.product(ROLLS, SITES)]
    + [(ROLLS[0], SITES[0], bi, relu, k, layers)
       for bi, relu, k, layers in itertools.product([True, False], [False, True], [1, 3, 5],
                                                    [1, 2])]
)


@pytest.mark.parametrize("rolls, sites, bidirectional, relu, k, layers", ABLATIONS)
def test_shapes_for_every_ablation(rolls, sites, bidirectional, relu, k, layers):
    torch.manual_seed(0)
    model = Mel2Mel.from_spec(spec(*rolls, sites=sites, bidirectional=bidirectional,
                                   relu=relu, k=k, layers=layers), n_instruments=3, n_mels=80)
    in_dim = 88 * (rolls[0] + rolls[1])
    assert model.in_dim == in_dim
    x = torch.rand(2, 9, in_dim)
    t = model.embed(torch.eye(3)[[0, 2]])
    out = model(x, t)
    assert out.shape == (2, 9, 80)
    assert torch.isfinite(out).all()
    assert sorted(model.conditioner.gamma) == sorted(sites)


def test_film_is_identity_at_init_so_timbre_does_not_matter_yet():
    torch.manual_seed(0)
    model = Mel2Mel.from_spec(spec(), n_instruments=4)
    x = torch.rand(1, 12, 176)
    a = model(x, model.embed(torch.eye(4)[[0]]))
    b = model(x, model.embed(torch.eye(4)[[3]]))
    torch.testing.assert_close(a, b)


def test_encoder_output_feeds_the_model():
    """Notes → encoder → model, for the frame-only ablation (88 inputs)."""
    import numpy as np

    from neuralsynth.midi.notes import Notes

    model = Mel2Mel.from_spec(spec(onsets=False), n_instruments=2)
    notes = Notes(start=np.array([0.0, 0.1]), end=np.array([0.2, 0.3]),
                  pitch=np.array([60, 64], dtype=np.int16),
                  velocity=np.array([100, 80], dtype=np.int16),
                  program=np.zeros(2, dtype=np.int16))
    n_frames = model.encoder.frames_for(notes.duration)
    x = torch.from_numpy(model.encoder.encode(notes, n_frames))[None]
    assert x.shape == (1, n_frames, model.in_dim) == (1, n_frames, 88)
    out = model(x, model.embed(torch.tensor([[0.5, 0.5]])))
    assert out.shape == (1, n_frames, 80)


def test_predict_mel_is_exp_of_log_mel():
    torch.manual_seed(0)
    model = Mel2Mel.from_spec(spec(), n_instruments=2)
    x, t = torch.rand(1, 6, 176), torch.randn(1, 2)
    torch.testing.assert_close(model.predict_mel(x, t), torch.exp(model(x, t)))
    assert (model.predict_mel(x, t) > 0).all()


def test_embed_mixes_rows_linearly():
    model = Mel2Mel.from_spec(spec(d=3), n_instruments=4)
    rows = model.instrument_embeddings()
    torch.testing.assert_close(model.embed(torch.eye(4)), rows)
    w = torch.tensor([0.3, 0.0, 0.7, 0.0])
    torch.testing.assert_close(model.embed(w), 0.3 * rows[0] + 0.7 * rows[2])
    with pytest.raises(ValueError, match="4 mixing weights"):
        model.embed(torch.ones(3))


def trained_like(model: Mel2Mel) -> None:
    """Give the FiLM layers non-trivial weights, as training would."""
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.conditioner.parameters():
            p.add_(0.5 * torch.randn_like(p))


def test_morph_per_frame_matches_static_timbres_at_the_ends():
    torch.manual_seed(0)
    model = Mel2Mel.from_spec(spec(bidirectional=False, sites=("post",)), n_instruments=2)
    trained_like(model)
    x = torch.rand(1, 10, 176)
    ta, tb = model.embed(torch.eye(2))                 # [D] each
    alpha = torch.linspace(0, 1, 10)[:, None]
    morph = ((1 - alpha) * ta + alpha * tb)[None]      # [1, 10, D]
    out = model(x, morph)
    assert out.shape == (1, 10, 80)
    # Post-FiLM with 1x1 output conv acts per frame: each end equals the static timbre.
    torch.testing.assert_close(out[:, 0], model(x, ta[None])[:, 0])
    torch.testing.assert_close(out[:, -1], model(x, tb[None])[:, -1])
    assert not torch.allclose(model(x, ta[None]), model(x, tb[None]))


def test_gradients_flow_to_every_parameter():
    torch.manual_seed(0)
    model = Mel2Mel.from_spec(spec(), n_instruments=3)
    trained_like(model)
    x = torch.rand(2, 7, 176)
    t = model.embed(torch.eye(3)[[0, 1]])
    target = torch.rand(2, 7, 80) + 0.01
    LOSSES.build({"name": "tanh_log_abs_mse"})(model.predict_mel(x, t), target).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        if name == "conditioner.embedding":
            assert p.grad[:2].abs().sum() > 0 and p.grad[2].abs().sum() == 0
        else:
            assert p.grad.abs().sum() > 0, name


def test_providers_name_the_distribution():
    model = Mel2Mel.from_spec(spec(), n_instruments=2)
    prov = model.providers()
    assert set(prov) == {"encoder", "conditioner", "sequence"}
    assert prov["conditioner"]["film"][0] == "neuralsynth"
    assert prov["sequence"]["bilstm"] == prov["encoder"]["pianoroll"]


def test_all_spec_problems_are_reported_together():
    bad = {
        "encoder": {"name": "pianorol"},
        "conditioner": {"name": "film", "embeding_dim": 2},
        "sequence": {"name": "bilstm", "conv_kernel": 4},
        "decoder": {},
    }
    with pytest.raises(RecipeError) as info:
        Mel2Mel.from_spec(bad, n_instruments=2)
    text = str(info.value)
    assert len(info.value.problems) == 4
    assert "model.encoder:" in text and "did you mean 'pianoroll'" in text
    assert "model.conditioner.embeding_dim" in text and "did you mean 'embedding_dim'" in text
    assert "model.sequence.conv_kernel" in text
    assert "model.decoder" in text


def test_tiny_model_overfits_one_batch():
    """Notes map to mel bins with an instrument-dependent level: learnable by Mel2Mel."""
    torch.manual_seed(0)
    model = Mel2Mel.from_spec(spec(hidden=16, d=2), n_instruments=2)
    loss_fn = LOSSES.build({"name": "tanh_log_abs_mse"})
    b, n = 2, 32
    # Notes of 6 frames every 8 frames (onset roll + frame roll), random keys.
    x = torch.zeros(b, n, 176)
    for i in range(b):
        for start in range(0, n, 8):
            key = int(torch.randint(20, 60, ()))
            x[i, start, key] = 0.8
            x[i, start:start + 6, 88 + key] = 0.8
    key_to_bin = torch.zeros(88, 80)
    key_to_bin[torch.arange(88), (torch.arange(88) * 79) // 87] = 1.0
    level = torch.tensor([0.0, -2.0])                                   # per instrument
    log_target = -9.0 + 6.0 * (x[..., 88:] @ key_to_bin) + level.view(b, 1, 1)
    target = torch.exp(log_target)
    t_weights = torch.eye(2)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    start = time.perf_counter()
    losses = []
    for _ in range(100):
        opt.zero_grad()
        loss = loss_fn(model.predict_mel(x, model.embed(t_weights)), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    elapsed = time.perf_counter() - start
    assert losses[-1] < losses[0] / 5, (losses[0], losses[-1])
    assert elapsed < 10.0
