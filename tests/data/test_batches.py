"""Seeded training crops, padding and masks, and deterministic validation batches."""

from __future__ import annotations

import pytest
import torch

from neuralsynth.audio.constants import HOP_LENGTH, MAG_FLOOR
from neuralsynth.data.batches import SegmentSampler, segment_frames, validation_batches
from neuralsynth.data.features import FeatureSet
from neuralsynth.errors import DataError
from tests.dataset_factory import make_fake_dataset, pianoroll_encoder


@pytest.fixture
def features(tmp_path) -> FeatureSet:
    return FeatureSet(make_fake_dataset(tmp_path / "ds"), ["grand_piano", "church_organ"],
                      pianoroll_encoder(), cache=False)


def test_segment_frames():
    assert segment_frames(65536) == 512
    assert segment_frames(16384) == 16384 // HOP_LENGTH
    with pytest.raises(DataError):
        segment_frames(HOP_LENGTH - 1)


def test_random_crops_are_seeded_and_match_the_items(features):
    train = features.examples("train")

    def draw(seed):
        sampler = SegmentSampler(train, 64, 16, torch.Generator().manual_seed(seed))
        return [sampler.sample() for _ in range(3)]

    a, b, c = draw(1), draw(1), draw(2)
    for x, y in zip(a, b):
        assert torch.equal(x.x, y.x) and torch.equal(x.mel, y.mel) and torch.equal(x.mask, y.mask)
    assert any(not torch.equal(x.mel, z.mel) for x, z in zip(a, c))
    batch = a[0]
    assert batch.x.shape == (16, 64, 176) and batch.mel.shape == (16, 64, 80)
    assert batch.mask.shape == (16, 64) and batch.instrument.dtype == torch.long
    # Every crop is a real slice of its item's features.
    mels = {ex.instrument: [] for ex in train}
    for ex in train:
        mels[ex.instrument].append(ex.mel)
    for i in range(16):
        n = int(batch.mask[i].sum())
        crop = batch.mel[i, :n]
        found = any(torch.equal(crop, m[s:s + n]) for m in mels[int(batch.instrument[i])]
                    for s in range(m.shape[0] - n + 1))
        assert found


def test_short_items_are_padded_and_masked(features):
    short = [ex for ex in features.examples("train") if ex.id.startswith("b")]
    length = 64
    assert short[0].n_frames < length
    batch = SegmentSampler(short, length, 4, torch.Generator().manual_seed(0)).sample()
    n = short[0].n_frames
    assert batch.mask[:, :n].all() and not batch.mask[:, n:].any()
    assert torch.all(batch.mel[:, n:] == MAG_FLOOR) and torch.all(batch.x[:, n:] == 0)
    assert batch.n_frames == 4 * n


def test_long_items_are_drawn_more_often(features):
    train = features.examples("train")
    sampler = SegmentSampler(train, 8, 400, torch.Generator().manual_seed(0))
    batch = sampler.sample()
    # 'a' (1.5 s) has about 5x the frames of 'b' (0.3 s), so it fills most crops.
    a_like = sum(1 for i in range(400)
                 if any(torch.equal(batch.mel[i], ex.mel[s:s + 8])
                        for ex in train if ex.id.startswith("a")
                        for s in range(0, ex.n_frames - 7)))
    assert a_like > 0.7 * 400


def test_validation_batches_cover_every_frame_once(features):
    val = features.examples("val")
    length, batch_size = 50, 3
    batches = validation_batches(val, length, batch_size)
    again = validation_batches(val, length, batch_size)
    assert all(torch.equal(a.mel, b.mel) for a, b in zip(batches, again))
    assert sum(b.n_frames for b in batches) == sum(ex.n_frames for ex in val)
    assert all(b.x.shape[0] <= batch_size for b in batches)
    # Reassemble the first example from its crops.
    ex = val[0]
    crops = [(b.mel[i], b.mask[i]) for b in batches for i in range(b.mel.shape[0])]
    n_crops = -(-ex.n_frames // length)
    rebuilt = torch.cat([m[k] for m, k in crops[:n_crops]])
    assert torch.equal(rebuilt, ex.mel.float())   # stored in float16, batched in float32


def test_empty_training_set_is_an_error():
    with pytest.raises(DataError, match="no training items"):
        SegmentSampler([], 64, 4, torch.Generator())
