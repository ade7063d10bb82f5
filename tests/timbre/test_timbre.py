"""Timbre specs: every accepted form, every rejected one, and the embeddings they give."""

from __future__ import annotations

import pytest
import torch

from neuralsynth.errors import TimbreError, UsageError
from neuralsynth.model.mel2mel import Mel2Mel
from neuralsynth.timbre.point import Timbre
from neuralsynth.timbre.spec import parse_timbre

INSTRUMENTS = ["grand_piano", "church_organ", "trumpet"]


def parse(spec: str, dim: int = 2) -> Timbre:
    return parse_timbre(spec, INSTRUMENTS, dim)


@pytest.fixture(scope="module")
def model() -> Mel2Mel:
    torch.manual_seed(0)
    return Mel2Mel.from_spec({"sequence": {"name": "bilstm", "hidden_size": 8},
                              "conditioner": {"name": "film", "embedding_dim": 2}},
                             n_instruments=len(INSTRUMENTS)).eval()


# -- accepted forms -------------------------------------------------------------------
def test_single_canonical_name():
    t = parse("church_organ")
    assert t.weights == (0.0, 1.0, 0.0)
    assert t.coordinates is None
    assert t.describe() == "church_organ"


@pytest.mark.parametrize("alias, expected", [("piano", "grand_piano"), ("organ", "church_organ"),
                                             ("Grand Piano", "grand_piano"),
                                             ("acoustic_grand_piano", "grand_piano")])
def test_aliases_resolve_to_checkpoint_names(alias, expected):
    assert parse(alias).mix() == {expected: 1.0}


def test_mix_is_normalised():
    t = parse("piano:0.3,organ:0.7")
    assert t.weights == pytest.approx((0.3, 0.7, 0.0))
    t = parse("piano:3, organ:1")
    assert t.weights == pytest.approx((0.75, 0.25, 0.0))
    assert sum(t.weights) == pytest.approx(1.0)


def test_repeated_name_adds_up_and_missing_weight_counts_as_one():
    assert parse("piano:1,grand_piano:1,organ:2").weights == pytest.approx((0.5, 0.5, 0.0))
    assert parse("piano,trumpet").weights == pytest.approx((0.5, 0.0, 0.5))


def test_zero_weight_entries_are_allowed_when_another_is_positive():
    assert parse("piano:0,trumpet:2").weights == pytest.approx((0.0, 0.0, 1.0))


def test_raw_coordinates():
    t = parse("xy:0.5,-1.2")
    assert t.coordinates == (0.5, -1.2)
    assert t.weights is None
    assert parse("XY: 1e-1 , 3", dim=2).coordinates == (0.1, 3.0)
    assert parse("xy:1,2,3,4", dim=4).coordinates == (1.0, 2.0, 3.0, 4.0)


# -- errors -----------------------------------------------------------------------------
def _error(spec: str, dim: int = 2) -> str:
    with pytest.raises(TimbreError) as info:
        parse(spec, dim)
    message = str(info.value)
    assert "\n" not in message
    assert isinstance(info.value, UsageError) and info.value.exit_code == 2
    return message


@pytest.mark.parametrize("spec", ["", "   "])
def test_empty_spec(spec):
    assert "empty timbre spec" in _error(spec)


def test_unknown_name_suggests_close_match():
    message = _error("pian:1,organ:1")
    assert "unknown instrument 'pian'" in message and "did you mean 'piano'?" in message
    assert "trumpet" in message  # lists what this model knows


def test_gm_instrument_not_in_this_model():
    message = _error("violin")
    assert "'violin'" in message and "grand_piano" in message


def test_negative_weight():
    assert "negative" in _error("piano:0.5,organ:-0.5")


def test_all_zero_weights():
    assert "all weights are zero" in _error("piano:0,organ:0.0")


@pytest.mark.parametrize("spec, bad", [("piano:abc", "'abc'"), ("piano:", "''"),
                                       ("piano:nan", "'nan'"), ("organ:inf", "'inf'"),
                                       ("piano:1:2", "'1:2'")])
def test_unparsable_weight(spec, bad):
    message = _error(spec)
    assert bad in message and "number" in message


@pytest.mark.parametrize("spec, dim, got", [("xy:0.5", 2, "got 1"), ("xy:1,2,3", 2, "got 3"),
                                            ("xy:", 2, "got 0"), ("xy:1,2", 10, "got 2")])
def test_wrong_number_of_coordinates(spec, dim, got):
    message = _error(spec, dim)
    assert f"exactly {dim} numbers" in message and got in message


def test_bad_coordinate_and_empty_entries():
    assert "coordinate 'b'" in _error("xy:1,b")
    assert "empty" in _error("xy:1,,2")
    assert "empty entry" in _error("piano,,organ")
    assert "no instrument name" in _error(":0.5")


def test_at_sign_is_not_coordinate_syntax():
    # '@' marks morph keyframe times; '@x,y' is a keyframe without a timbre, and the
    # error shows the coordinate syntax the user probably meant.
    message = _error("@0.5,1")
    assert "no timbre before '@'" in message and "'xy:0.5,1'" in message


def test_separators_are_named_in_errors():
    assert "between commas" in _error("piano,,organ")
    assert "between commas" in _error("xy:1,,2")


# -- embeddings ------------------------------------------------------------------------
def test_single_instrument_embedding_is_its_table_row(model):
    table = model.instrument_embeddings().detach()
    assert torch.allclose(parse("organ").embedding(model), table[1])


def test_mix_embedding_is_weighted_sum_of_rows(model):
    table = model.instrument_embeddings().detach()
    emb = parse("piano:0.3,organ:0.7").embedding(model)
    assert emb.shape == (2,)
    assert torch.allclose(emb, 0.3 * table[0] + 0.7 * table[1], atol=1e-6)
    assert not torch.allclose(emb, table[0]) and not torch.allclose(emb, table[1])


def test_raw_coordinates_embedding(model):
    emb = parse("xy:0.5,-1.2").embedding(model)
    assert emb.dtype == torch.float32
    assert emb.tolist() == pytest.approx([0.5, -1.2])


def test_coordinates_for_another_dimension_are_refused_at_embedding(model):
    t = parse_timbre("xy:1,2,3", INSTRUMENTS, 3)
    with pytest.raises(TimbreError, match="3 coordinates"):
        t.embedding(model)


def test_trajectory_repeats_a_static_timbre(model):
    t = parse("piano:0.5,trumpet:0.5")
    traj = t.trajectory(model, 7)
    assert t.is_static
    assert traj.shape == (7, 2)
    assert torch.allclose(traj, t.embedding(model).expand(7, 2))


def test_timbre_needs_exactly_one_representation():
    with pytest.raises(ValueError):
        Timbre(spec="x", instruments=("a",))
    with pytest.raises(ValueError):
        Timbre(spec="x", instruments=("a",), weights=(1.0,), coordinates=(0.0, 0.0))
