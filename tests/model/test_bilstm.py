"""BiLSTM trunk: shapes for every switch, 'same' padding, causality of the forward-only LSTM."""

from __future__ import annotations

import itertools

import pytest
import torch

from neuralsynth.errors import RecipeError
from neuralsynth.model.sequences import SEQUENCES
from neuralsynth.model.sequences.bilstm import INITIAL_LOG_MEL, BiLSTM


def make(**kw) -> BiLSTM:
    torch.manual_seed(0)
    cfg = BiLSTM.Config(**{"hidden_size": 8, **kw})
    return BiLSTM(cfg, in_dim=12, out_dim=5)


@pytest.mark.parametrize("num_layers, bidirectional, input_relu, conv_kernel",
                         list(itertools.product([1, 2], [True, False], [False, True], [1, 3, 5])))
def test_shapes_for_every_switch(num_layers, bidirectional, input_relu, conv_kernel):
    seq = make(num_layers=num_layers, bidirectional=bidirectional, input_relu=input_relu,
               conv_kernel=conv_kernel)
    assert seq.pre_channels == 8
    assert seq.post_channels == (16 if bidirectional else 8)
    x = torch.randn(3, 11, 12)
    h = seq.project_in(x)
    assert h.shape == (3, 11, 8)
    if input_relu:
        assert (h >= 0).all()
    r = seq.run(h)
    assert r.shape == (3, 11, seq.post_channels)
    assert seq.project_out(r).shape == (3, 11, 5)


def test_registered_with_paper_defaults():
    seq = SEQUENCES.build({"name": "bilstm"}, in_dim=176, out_dim=80)
    assert isinstance(seq, BiLSTM)
    assert (seq.pre_channels, seq.post_channels) == (256, 512)
    assert seq.conv_in.kernel_size == (1,) and seq.conv_out.kernel_size == (1,)


def test_input_projection_is_linear_without_relu():
    seq = make()
    a, b = torch.randn(1, 4, 12), torch.randn(1, 4, 12)
    bias = seq.project_in(torch.zeros(1, 4, 12))
    torch.testing.assert_close(seq.project_in(a + b) - bias,
                               (seq.project_in(a) - bias) + (seq.project_in(b) - bias))


@pytest.mark.parametrize("k", [1, 3, 5])
def test_conv_receptive_field_matches_kernel(k):
    """An impulse at frame 10 reaches frames 10 ± k//2 of the input projection only."""
    seq = make(conv_kernel=k)
    x = torch.zeros(1, 21, 12)
    base = seq.project_in(x)
    x[0, 10] = 1.0
    changed = (seq.project_in(x) - base).abs().sum(-1)[0] > 0
    assert changed.nonzero().flatten().tolist() == list(range(10 - k // 2, 10 + k // 2 + 1))


def test_forward_only_lstm_is_causal_bidirectional_is_not():
    h = torch.randn(1, 12, 8)
    h2 = h.clone()
    h2[0, 8:] += 1.0                               # change the future only
    fwd = make(bidirectional=False)
    assert torch.allclose(fwd.run(h)[0, :8], fwd.run(h2)[0, :8])
    bi = make(bidirectional=True)
    assert not torch.allclose(bi.run(h)[0, :8], bi.run(h2)[0, :8])


def test_untrained_output_sits_at_a_plausible_log_mel_level():
    seq = SEQUENCES.build({"name": "bilstm"}, in_dim=176, out_dim=80)
    x = torch.zeros(1, 30, 176)
    out = seq.project_out(seq.run(seq.project_in(x)))
    assert abs(out.mean().item() - INITIAL_LOG_MEL) < 1.0


def test_gradients_reach_every_parameter():
    seq = make(num_layers=2, conv_kernel=3)
    seq.project_out(seq.run(seq.project_in(torch.randn(2, 9, 12)))).square().mean().backward()
    for name, p in seq.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_bad_values_raise_recipe_error():
    with pytest.raises(RecipeError, match="conv_kernel"):
        SEQUENCES.build({"name": "bilstm", "conv_kernel": 2}, in_dim=4, out_dim=4)
    with pytest.raises(RecipeError, match="hidden_size"):
        SEQUENCES.build({"name": "bilstm", "hidden_size": 0}, in_dim=4, out_dim=4)
    with pytest.raises(RecipeError, match="num_layers"):
        SEQUENCES.build({"name": "bilstm", "num_layers": -1}, in_dim=4, out_dim=4)


def test_wrong_input_width_is_rejected():
    with pytest.raises(ValueError, match=r"\[B, T, 12\]"):
        make().project_in(torch.randn(1, 4, 13))
