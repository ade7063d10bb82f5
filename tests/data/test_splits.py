"""Train/validation split by MIDI file."""

from __future__ import annotations

import pytest

from neuralsynth.data import splits
from neuralsynth.errors import UsageError


def test_split_is_deterministic_and_order_independent():
    keys = [f"piece{i}" for i in range(20)]
    a = splits.split_files(keys, 0.2, seed=3)
    b = splits.split_files(list(reversed(keys)), 0.2, seed=3)
    assert a == b
    assert sum(v == "val" for v in a.values()) == 4
    others = [splits.split_files(keys, 0.2, seed=s) for s in range(4, 10)]
    assert any(o != a for o in others)


@pytest.mark.parametrize("n,fraction,expected", [(1, 0.2, 0), (2, 0.2, 1), (4, 0.25, 1),
                                                 (3, 0.9, 2), (10, 0.0, 0), (10, 0.2, 2)])
def test_number_of_validation_files(n, fraction, expected):
    assert splits.n_validation(n, fraction) == expected


def test_bad_validation_fraction():
    with pytest.raises(UsageError):
        splits.n_validation(4, 1.0)
