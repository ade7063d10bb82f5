"""The shipped model tells the paper's 10 instruments apart (the timbre check, small scale).

Pieces made here are rendered by FluidSynth as all 10 instruments; for each instrument,
the bundled model's render as that instrument must be nearer its own rendering than any
other instrument's for at least 9 of the 10, and 50/50 mixes must land between the two
instruments. The whole-validation-split version is benchmarks/timbre_check.py.
The renders use the small MuseScore font the tests install; the model was trained on the
full MuseScore_General, whose instruments share their samples' character.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import pytest

from neuralsynth.midi.instruments import PAPER_INSTRUMENTS
from tests.conftest import rendered_dataset
from tests.midi_factory import random_melody, write_midi

BUNDLED = Path(str(importlib.resources.files("neuralsynth") / "assets" / "models" / "default.pt"))
N_PIECES = 6
MIX_PAIRS = [("grand_piano", "church_organ"), ("trumpet", "string_ensemble"),
             ("vibraphone", "acoustic_guitar")]

pytestmark = pytest.mark.skipif(not BUNDLED.is_file(),
                                reason="no bundled model (neuralsynth/assets/models/default.pt)")


@pytest.fixture(scope="module")
def ten_instrument_dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("q_midis")
    midis = [write_midi(root / f"q{i}.mid", random_melody(500 + i, seconds=6.0, polyphony=3))
             for i in range(N_PIECES)]
    # val_fraction close to 1: every piece but one is checked
    return rendered_dataset(midis, tmp_path_factory.mktemp("q_dataset"), PAPER_INSTRUMENTS,
                            val_fraction=0.9)


@pytest.fixture(scope="module")
def result(ten_instrument_dataset):
    from neuralsynth.evaluation import timbre_check
    from neuralsynth.inference.load import load_trained_model

    return timbre_check(load_trained_model(BUNDLED), ten_instrument_dataset, split="val",
                        mix_pairs=MIX_PAIRS, progress=False)


def test_bundled_model_tells_at_least_9_of_10_instruments_apart(result):
    assert result.n == 10
    failed = [name for name, ok in zip(result.instruments, result.passed) if not ok]
    assert result.n_pass >= 9, f"instruments rendered nearer another's truth: {failed}"


def test_bundled_model_mixes_lie_between_the_instruments(result):
    for mix in result.mixes:
        assert mix.between_truths, mix.to_dict()
