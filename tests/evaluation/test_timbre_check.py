"""Timbre and mix checks on a small real dataset (FluidSynth renderings) and a tiny trained model.

The session's ``trained_checkpoint`` (40 steps on 3 training pieces of 3 s) is too weak for
these checks: its validation error is larger than the distance between the piano and organ
renderings, so its organ renders sit nearer the piano truth. This module trains its own
tiny model on 18 training pieces for 400 steps (~8 s with the dataset). Over training
seeds 0-4 its timbre margins were at least 0.24 of the piano-organ distance and its mix
at most 0.68 of it from either truth, so the assertions below have room.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from neuralsynth.errors import DataError, UsageError
from neuralsynth.evaluation import (
    METRICS,
    format_result,
    mix_pairs_from_spec,
    spectral_distance,
    timbre_check,
)
from tests.conftest import SMALL_INSTRUMENTS, rendered_dataset, tiny_recipe
from tests.midi_factory import random_melody, write_midi

N_PIECES = 24          # 18 train + 6 val at val_fraction 0.25
PIECE_SECONDS = 3.0
TRAIN = ("train.steps=400", "train.val_every=100", "train.checkpoint_every=400")


@pytest.fixture(scope="module")
def timbre_dataset(tmp_path_factory):
    """24 random 3 s pieces rendered as grand_piano and church_organ (~6 s to build)."""
    root = tmp_path_factory.mktemp("timbre_midis")
    midis = [write_midi(root / f"piece{i:02d}.mid",
                        random_melody(100 + i, seconds=PIECE_SECONDS, polyphony=2))
             for i in range(N_PIECES)]
    return rendered_dataset(midis, tmp_path_factory.mktemp("timbre_dataset"))


@pytest.fixture(scope="module")
def timbre_model(tmp_path_factory, timbre_dataset):
    """The tiny small-CPU model trained 400 steps on ``timbre_dataset`` (~4 s)."""
    from neuralsynth.inference.load import load_trained_model
    from neuralsynth.training.loop import train

    run = tmp_path_factory.mktemp("timbre_run") / "run"
    result = train(tiny_recipe(timbre_dataset, run, *TRAIN), progress=False)
    return load_trained_model(result.best_checkpoint)


@pytest.fixture(scope="module")
def val_result(timbre_model, timbre_dataset):
    return timbre_check(timbre_model, timbre_dataset, split="val", progress=False)


def _with_embeddings(loaded, rows: torch.Tensor):
    """A copy of ``loaded`` whose instrument embedding table is ``rows``."""
    other = copy.deepcopy(loaded)
    with torch.no_grad():
        other.model.conditioner.embedding.copy_(rows)
    return other


# ----------------------------------------------------------------------------- the checks
def test_each_instrument_renders_nearest_its_own_fluidsynth_rendering(val_result):
    r = val_result
    assert r.instruments == SMALL_INSTRUMENTS
    assert r.split == "val" and r.n_pieces == 6 and r.skipped_pieces == 0
    assert r.passed == [True, True] and r.n_pass == 2
    for i in range(2):
        assert r.distance[i, i] < r.distance[i, 1 - i]
        assert r.margin[i] == pytest.approx(r.distance[i, 1 - i] - r.distance[i, i])
    # Every piece is counted once per rendered instrument.
    assert r.wins.sum(axis=1).tolist() == [6, 6]
    # The truths differ from each other, and not from themselves.
    assert np.diag(r.truth_distance).tolist() == [0.0, 0.0]
    assert r.truth_distance[0, 1] == pytest.approx(r.truth_distance[1, 0])
    assert r.truth_distance[0, 1] > 0


def test_half_and_half_mix_lies_between_the_two_instruments(val_result):
    (mix,) = val_result.mixes
    assert (mix.a, mix.b) == ("grand_piano", "church_organ")
    assert mix.between_truths, mix
    assert mix.mix_truth_a < mix.truth_ab and mix.mix_truth_b < mix.truth_ab
    assert mix.between_preds, mix
    assert mix.truth_ab == pytest.approx(val_result.truth_distance[0, 1])


def test_swapped_embeddings_fail_every_instrument(timbre_model, timbre_dataset, val_result):
    # Rendering 'piano' with the organ's embedding must be caught: the matrix is the
    # original one with its rows swapped, and no instrument passes.
    table = timbre_model.model.instrument_embeddings().detach()
    swapped = _with_embeddings(timbre_model, table.flip(0))
    r = timbre_check(swapped, timbre_dataset, mix_pairs=None, progress=False)
    assert r.n_pass == 0 and r.passed == [False, False]
    np.testing.assert_allclose(r.distance, val_result.distance[::-1], rtol=1e-5)
    assert r.mixes == []


def test_one_timbre_for_all_instruments_cannot_pass_both(timbre_model, timbre_dataset):
    table = timbre_model.model.instrument_embeddings().detach()
    same = _with_embeddings(timbre_model, table.mean(0, keepdim=True).expand_as(table))
    r = timbre_check(same, timbre_dataset, progress=False)
    np.testing.assert_allclose(r.distance[0], r.distance[1], rtol=1e-6)
    assert r.n_pass <= 1
    (mix,) = r.mixes
    # Mix and both renders are one spectrogram: nothing lies strictly between them.
    assert mix.pred_ab == 0.0 and not mix.between_preds


def test_pieces_limit_and_metrics(timbre_model, timbre_dataset, val_result):
    one = timbre_check(timbre_model, timbre_dataset, pieces=1, mix_pairs=None, progress=False)
    assert one.n_pieces == 1 and one.wins.sum() == 2
    assert 0 < one.n_frames < val_result.n_frames
    r = timbre_check(timbre_model, timbre_dataset, pieces=2, metric="log_l1",
                     mix_pairs=[("organ", "piano")], progress=False)
    assert r.metric == "log_l1" and r.n_pieces == 2
    assert (r.mixes[0].a, r.mixes[0].b) == ("church_organ", "grand_piano")
    text = format_result(val_result)
    assert "n_pass: 2/2" in text and "grand_piano + church_organ" in text


def test_untrained_checkpoint_checks_only_instruments_in_the_dataset(untrained_ckpt,
                                                                      timbre_dataset):
    from neuralsynth.inference.load import load_trained_model

    loaded = load_trained_model(untrained_ckpt)       # grand_piano, church_organ, trumpet
    r = timbre_check(loaded, timbre_dataset, progress=False)
    assert r.instruments == ["grand_piano", "church_organ"]
    assert r.not_in_dataset == ["trumpet"]
    assert "not checked (no renderings in the dataset): trumpet" in format_result(r)
    # Random weights render both instruments as nearly the same spectrum, far from any
    # truth: at most one can be nearest its own, and the mix is not between the truths
    # (6 of 6 factory seeds tried; renders were ~1.5x the truths' distance away).
    assert r.n_pass < 2
    assert not r.mixes[0].between_truths
    with pytest.raises(UsageError, match="trumpet is not checked"):
        timbre_check(loaded, timbre_dataset, mix_pairs=[("piano", "trumpet")], progress=False)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"pieces": 0}, UsageError, "pieces"),
    ({"split": "test"}, UsageError, "split"),
    ({"metric": "l7"}, UsageError, "unknown metric 'l7'"),
    ({"batch_size": 0}, UsageError, "batch_size"),
    ({"instruments": ["grand_piano"]}, DataError, "at least two"),
    ({"mix_pairs": [("piano", "grand_piano")]}, UsageError, "same instrument twice"),
])
def test_bad_arguments_are_one_line_errors(timbre_model, timbre_dataset, kwargs, error, match):
    with pytest.raises(error, match=match) as info:
        timbre_check(timbre_model, timbre_dataset, progress=False, **kwargs)
    assert "\n" not in str(info.value)


def test_missing_dataset_is_a_data_error(timbre_model, tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        timbre_check(timbre_model, tmp_path / "nope", progress=False)


# ----------------------------------------------------------------------------- helpers
def test_spectral_distance_properties():
    g = torch.Generator().manual_seed(0)
    a = torch.rand(50, 80, generator=g) + 1e-3
    b = torch.rand(50, 80, generator=g) + 1e-3
    for name in METRICS:
        assert spectral_distance(a, a, name) == 0.0
        assert spectral_distance(a, b, name) == pytest.approx(spectral_distance(b, a, name))
        assert spectral_distance(a, b, name) > 0
    # Below the -100 dB floor every level is the same level.
    assert spectral_distance(torch.full((3, 80), 1e-7), torch.full((3, 80), 1e-9)) == 0.0
    # log_l1 is in nats: a factor e everywhere is a distance of 1.
    assert spectral_distance(a, a * np.e, "log_l1") == pytest.approx(1.0, rel=1e-5)
    with pytest.raises(ValueError, match="same shape"):
        spectral_distance(a, b[:10])


def test_mix_pairs_from_spec():
    assert mix_pairs_from_spec("all") == "all"
    assert mix_pairs_from_spec("none") is None
    assert mix_pairs_from_spec("piano+organ, harp+trumpet") == [("piano", "organ"),
                                                               ("harp", "trumpet")]
    with pytest.raises(UsageError, match="joined by '\\+'"):
        mix_pairs_from_spec("piano,organ")
