"""Spectral losses: hand-computed values, the magnitude floor, masks, gradients."""

from __future__ import annotations

import math

import pytest
import torch

from neuralsynth.audio.constants import MAG_FLOOR
from neuralsynth.losses import LOSSES
from neuralsynth.losses.spectral import AbsMSE, LogAbsMSE, TanhLogAbsMSE

NAMES = ["abs_mse", "log_abs_mse", "tanh_log_abs_mse"]


def build(name):
    return LOSSES.build({"name": name})


def test_registered_classes():
    assert isinstance(build("abs_mse"), AbsMSE)
    assert isinstance(build("log_abs_mse"), LogAbsMSE)
    assert isinstance(build("tanh_log_abs_mse"), TanhLogAbsMSE)


def pair():
    # One batch, two frames, two bins; values chosen so logs are simple.
    target = torch.tensor([[[1.0, math.e], [math.e ** 2, 1.0]]])
    pred = torch.tensor([[[math.e, math.e], [1.0, math.e ** -2]]])
    return pred, target


def test_abs_mse_by_hand():
    pred, target = pair()
    e = math.e
    expected = ((1 - e) ** 2 + 0 + (e * e - 1) ** 2 + (1 - e ** -2) ** 2) / 4
    assert build("abs_mse")(pred, target).item() == pytest.approx(expected, rel=1e-6)


def test_log_abs_mse_by_hand():
    pred, target = pair()
    # log target = [[0, 1], [2, 0]], log pred = [[1, 1], [0, -2]]
    expected = (1 + 0 + 4 + 4) / 4
    assert build("log_abs_mse")(pred, target).item() == pytest.approx(expected, rel=1e-6)


def test_tanh_log_abs_mse_by_hand():
    pred, target = pair()
    th = math.tanh
    expected = ((th(0) - th(0.25)) ** 2 + 0 + (th(0.5) - th(0)) ** 2
                + (th(0) - th(-0.5)) ** 2) / 4
    assert build("tanh_log_abs_mse")(pred, target).item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_zero_for_identical_inputs(name):
    s = torch.rand(2, 5, 80) + 1e-3
    assert build(name)(s, s.clone()).item() == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("name", ["log_abs_mse", "tanh_log_abs_mse"])
def test_values_below_the_floor_are_clipped_before_the_log(name):
    target = torch.full((1, 3, 4), MAG_FLOOR)
    pred = torch.full((1, 3, 4), MAG_FLOOR * 1e-3)      # -160 dB vs -100 dB
    zero = torch.zeros((1, 3, 4))
    loss = build(name)
    assert loss(pred, target).item() == pytest.approx(0.0, abs=1e-12)
    assert torch.isfinite(loss(zero, target))
    # Against a loud target the clipped prediction counts as log(1e-5).
    loud = torch.ones((1, 3, 4))
    expected = math.log(MAG_FLOOR) ** 2 if name == "log_abs_mse" \
        else math.tanh(math.log(MAG_FLOOR) / 4) ** 2
    assert loss(pred, loud).item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("name", ["log_abs_mse", "tanh_log_abs_mse"])
def test_prediction_below_floor_still_gets_pushed_up_by_a_loud_target(name):
    pred = torch.full((1, 2, 3), 1e-8, requires_grad=True)
    build(name)(pred, torch.ones(1, 2, 3)).backward()
    assert (pred.grad < 0).all()          # gradient descent increases the prediction


@pytest.mark.parametrize("name", NAMES)
def test_mask_excludes_frames(name):
    torch.manual_seed(0)
    target = torch.rand(2, 6, 8) + 0.1
    pred = torch.rand(2, 6, 8) + 0.1
    mask = torch.zeros(2, 6, dtype=torch.bool)
    mask[0, :4] = True
    mask[1, :2] = True
    garbage = pred.clone()
    garbage[~mask] = 1e3                  # masked frames must not matter at all
    loss = build(name)
    masked = loss(garbage, target, mask)
    kept = loss(torch.cat([pred[0, :4], pred[1, :2]])[None],
                torch.cat([target[0, :4], target[1, :2]])[None])
    assert masked.item() == pytest.approx(kept.item(), rel=1e-6)
    assert loss(garbage, target).item() > masked.item()
    # A float mask of ones is the same as no mask.
    assert loss(pred, target, torch.ones(2, 6)).item() == pytest.approx(
        loss(pred, target).item(), rel=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_empty_mask_gives_zero_not_nan(name):
    s = torch.rand(1, 3, 4, requires_grad=True)
    out = build(name)(s, torch.rand(1, 3, 4), torch.zeros(1, 3, dtype=torch.bool))
    assert out.item() == 0.0
    out.backward()


@pytest.mark.parametrize("name", NAMES)
def test_gradients_flow_and_point_towards_the_target(name):
    target = torch.rand(1, 4, 5) + 0.5
    pred = (target * 0.5).requires_grad_(True)
    loss = build(name)
    before = loss(pred, target)
    before.backward()
    assert (pred.grad < 0).all()
    with torch.no_grad():
        after = loss(pred - 0.01 * pred.grad / pred.grad.abs().max(), target)
    assert after < before


def test_shape_mismatch_is_rejected():
    with pytest.raises(ValueError, match=r"\[B, T, M\]"):
        build("abs_mse")(torch.rand(1, 3, 4), torch.rand(1, 3, 5))
    with pytest.raises(ValueError, match="mask"):
        build("abs_mse")(torch.rand(1, 3, 4), torch.rand(1, 3, 4), torch.ones(1, 4))
