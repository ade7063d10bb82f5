"""Frame-aligned features of a dataset's items and their disk cache."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from neuralsynth.audio.constants import MAG_FLOOR
from neuralsynth.audio.spectral import n_frames
from neuralsynth.data.features import STORAGE_DTYPE, FeatureSet
from tests.dataset_factory import FAKE_PIECES, make_fake_dataset, pianoroll_encoder

RECIPE = ["grand_piano", "church_organ"]


@pytest.fixture
def fake(tmp_path) -> Path:
    return make_fake_dataset(tmp_path / "ds")


def test_features_are_frame_aligned_and_shared_per_piece(fake):
    fs = FeatureSet(fake, RECIPE, pianoroll_encoder(), cache=False)
    train, val = fs.examples("train"), fs.examples("val")
    assert len(train) == 4 and len(val) == 2
    for ex in train + val:
        seconds = FAKE_PIECES[ex.id.split(".")[0]][1]
        assert ex.n_frames == n_frames(int(seconds * 16000))
        assert ex.x.shape == (ex.n_frames, 176) and ex.mel.shape == (ex.n_frames, 80)
        assert ex.x.dtype == ex.mel.dtype == STORAGE_DTYPE
        assert float(ex.mel.min()) >= MAG_FLOOR
        assert float(ex.x.max()) > 0                         # the notes are there
    by_id = {ex.id: ex for ex in train}
    assert by_id["a.grand_piano"].x is by_id["a.church_organ"].x
    assert {by_id["a.grand_piano"].instrument, by_id["a.church_organ"].instrument} == {0, 1}


def test_items_of_instruments_outside_the_recipe_are_skipped(fake):
    fs = FeatureSet(fake, ["church_organ"], pianoroll_encoder(), cache=False)
    examples = fs.examples("train") + fs.examples("val")
    assert len(examples) == 3
    assert all(ex.id.endswith("church_organ") and ex.instrument == 0 for ex in examples)


def test_feature_cache_is_reused_and_invalidated(fake):
    first = FeatureSet(fake, RECIPE, pianoroll_encoder())
    mels = sorted((fake / "cache" / "mel").glob("*.pt"))
    rolls = sorted((fake / "cache" / "x").glob("*.pt"))
    n_pieces = len({ex.x.data_ptr() for ex in first.examples("train") + first.examples("val")})
    assert len(mels) == 6 and len(rolls) == n_pieces < 6   # one roll per piece, not per item
    files = mels + rolls
    stamps = {f: f.stat().st_mtime_ns for f in files}
    second = FeatureSet(fake, RECIPE, pianoroll_encoder())
    assert {f: f.stat().st_mtime_ns for f in files} == stamps    # read, not rewritten
    for a, b in zip(first.examples("train"), second.examples("train")):
        assert torch.equal(a.mel, b.mel) and torch.equal(a.x, b.x)
    # New audio for one item: its cache entry no longer matches and is recomputed.
    audio = fake / "audio" / "grand_piano" / "a.wav"
    sf.write(str(audio), np.zeros(16000, dtype=np.float32), 16000)
    third = FeatureSet(fake, RECIPE, pianoroll_encoder())
    ex = next(e for e in third.examples("train") if e.id == "a.grand_piano")
    assert ex.n_frames == n_frames(16000) and float(ex.mel.max()) == pytest.approx(MAG_FLOOR, rel=2e-3)
    # Another encoder configuration does not use the piano-roll cache either.
    fourth = FeatureSet(fake, RECIPE, pianoroll_encoder(onsets=False))
    assert fourth.examples("val")[0].x.shape[1] == 88


def test_small_dataset_loads(small_dataset):
    fs = FeatureSet(small_dataset, RECIPE, pianoroll_encoder())
    assert len(fs.examples("train")) == 6 and len(fs.examples("val")) == 2
    ex = fs.examples("train")[0]
    # Rendered audio is loud where the roll has notes: the mel is far above the floor.
    assert float(ex.mel.max()) > 1e3 * MAG_FLOOR
    assert os.path.isdir(small_dataset / "cache")
