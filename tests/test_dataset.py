"""Dataset reading, features, crops and validation batches."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from neuralsynth.audio import HOP_LENGTH, MAG_FLOOR, n_frames
from neuralsynth.data.dataset import (FeatureSet, SegmentSampler, instrument_indices,
                                      read_manifest, segment_frames, validation_batches)
from neuralsynth.encoders.base import ENCODERS
from neuralsynth.errors import DataError
from tests.midi_factory import random_melody, write_midi


def _encoder():
    return ENCODERS.build({"name": "pianoroll"})


def make_dataset(root: Path, pieces: dict[str, tuple[str, float]],
                 instruments=("grand_piano", "church_organ")) -> Path:
    """A dataset without FluidSynth: noise WAVs next to real MIDI files.

    ``pieces`` maps a piece name to ``(split, seconds)``.
    """
    rng = np.random.default_rng(0)
    items = []
    (root / "midi").mkdir(parents=True, exist_ok=True)
    for name, (split, seconds) in pieces.items():
        write_midi(root / "midi" / f"{name}.mid",
                   random_melody(ord(name[0]), seconds=seconds, polyphony=1))
        for inst in instruments:
            audio = root / "audio" / inst / f"{name}.wav"
            audio.parent.mkdir(parents=True, exist_ok=True)
            sf.write(str(audio), 0.1 * rng.standard_normal(int(seconds * 16000)), 16000)
            items.append({"id": f"{name}.{inst}", "midi": f"midi/{name}.mid",
                          "audio": f"audio/{inst}/{name}.wav", "instrument": inst,
                          "split": split, "seconds": seconds})
    manifest = {"format": 1, "sample_rate": 16000, "instruments": list(instruments),
                "items": items}
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


def _edit_manifest(root: Path, fn) -> None:
    path = root / "manifest.json"
    data = json.loads(path.read_text())
    fn(data)
    path.write_text(json.dumps(data))


@pytest.fixture
def fake(tmp_path) -> Path:
    return make_dataset(tmp_path / "ds", {"a": ("train", 1.5), "b": ("train", 0.3),
                                          "c": ("val", 1.2)})


# ------------------------------------------------------------------------------ errors
def test_missing_directory_and_manifest(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_manifest(tmp_path / "nope")
    with pytest.raises(DataError, match="has no manifest.json"):
        read_manifest(tmp_path)


def test_bad_json(fake):
    (fake / "manifest.json").write_text('{"format": 1,\n "items": [}')
    with pytest.raises(DataError, match=r"invalid JSON at line 2"):
        read_manifest(fake)


@pytest.mark.parametrize("edit,message", [
    (lambda d: d.update(format=2), "unsupported manifest format 2"),
    (lambda d: d.update(sample_rate=44100), "sample_rate is 44100"),
    (lambda d: d["items"][0].pop("audio"), "missing or empty 'audio'"),
    (lambda d: d["items"][0].update(split="test"), "unknown split 'test'"),
    (lambda d: d["items"][0].update(instrument="trumpet"), "instrument 'trumpet' is not in"),
    (lambda d: d["items"][1].update(id=d["items"][0]["id"]), "duplicate id"),
    (lambda d: d["items"][0].update(split="val"), "in both the train and the val split"),
    (lambda d: d.update(items=[]), "has no items"),
])
def test_malformed_manifest(fake, edit, message):
    _edit_manifest(fake, edit)
    with pytest.raises(DataError, match=message) as info:
        read_manifest(fake)
    assert "\n" not in str(info.value)


def test_missing_files_are_counted(fake):
    (fake / "audio" / "church_organ" / "a.wav").unlink()
    (fake / "midi" / "c.mid").unlink()
    with pytest.raises(DataError, match=r"2 file\(s\) listed in manifest.json are missing"):
        read_manifest(fake)


def test_recipe_may_use_a_subset_of_the_dataset_instruments(fake):
    manifest = read_manifest(fake)
    assert instrument_indices(manifest, ["grand_piano"]) == {"grand_piano": 0}
    with pytest.raises(DataError, match="no training items for recipe instrument.*trumpet"):
        instrument_indices(manifest, ["grand_piano", "church_organ", "trumpet"])


def test_instrument_index_is_the_recipe_position(fake):
    manifest = read_manifest(fake)
    assert instrument_indices(manifest, ["church_organ", "grand_piano"]) == \
        {"grand_piano": 1, "church_organ": 0}
    # GM-name spelling of the same program maps onto the recipe's name.
    _edit_manifest(fake, lambda d: (d.update(instruments=["acoustic_grand_piano", "church_organ"]),
                                    [it.update(instrument="acoustic_grand_piano")
                                     for it in d["items"] if it["instrument"] == "grand_piano"]))
    assert instrument_indices(read_manifest(fake), ["grand_piano", "church_organ"]) == \
        {"acoustic_grand_piano": 0, "church_organ": 1}


# ---------------------------------------------------------------------------- features
def test_features_are_frame_aligned_and_shared_per_piece(fake):
    fs = FeatureSet(fake, ["grand_piano", "church_organ"], _encoder(), cache=False)
    train, val = fs.examples("train"), fs.examples("val")
    assert len(train) == 4 and len(val) == 2
    for ex in train + val:
        seconds = 1.5 if ex.id.startswith("a") else 0.3 if ex.id.startswith("b") else 1.2
        assert ex.n_frames == n_frames(int(seconds * 16000))
        assert ex.x.shape == (ex.n_frames, 176) and ex.mel.shape == (ex.n_frames, 80)
        assert ex.x.dtype == torch.float32 and float(ex.mel.min()) >= MAG_FLOOR
        assert float(ex.x.max()) > 0                         # the notes are there
    by_id = {ex.id: ex for ex in train}
    assert by_id["a.grand_piano"].x is by_id["a.church_organ"].x
    assert {by_id["a.grand_piano"].instrument, by_id["a.church_organ"].instrument} == {0, 1}


def test_items_of_instruments_outside_the_recipe_are_skipped(fake):
    fs = FeatureSet(fake, ["church_organ"], _encoder(), cache=False)
    examples = fs.examples("train") + fs.examples("val")
    assert len(examples) == 3
    assert all(ex.id.endswith("church_organ") and ex.instrument == 0 for ex in examples)


def test_feature_cache_is_reused_and_invalidated(fake):
    recipe = ["grand_piano", "church_organ"]
    first = FeatureSet(fake, recipe, _encoder())
    files = sorted((fake / "cache").glob("*.pt"))
    assert len(files) == 6
    stamps = {f: f.stat().st_mtime_ns for f in files}
    second = FeatureSet(fake, recipe, _encoder())
    assert {f: f.stat().st_mtime_ns for f in files} == stamps    # read, not rewritten
    for a, b in zip(first.examples("train"), second.examples("train")):
        assert torch.equal(a.mel, b.mel) and torch.equal(a.x, b.x)
    # New audio for one item: its cache entry no longer matches and is recomputed.
    audio = fake / "audio" / "grand_piano" / "a.wav"
    sf.write(str(audio), np.zeros(16000, dtype=np.float32), 16000)
    third = FeatureSet(fake, recipe, _encoder())
    ex = next(e for e in third.examples("train") if e.id == "a.grand_piano")
    assert ex.n_frames == n_frames(16000) and float(ex.mel.max()) == pytest.approx(MAG_FLOOR)
    # Another encoder configuration does not use the piano-roll cache either.
    frames_only = ENCODERS.build({"name": "pianoroll", "onsets": False})
    fourth = FeatureSet(fake, recipe, frames_only)
    assert fourth.examples("val")[0].x.shape[1] == 88


# ------------------------------------------------------------------------------ batches
def _examples(fake):
    return FeatureSet(fake, ["grand_piano", "church_organ"], _encoder(), cache=False)


def test_segment_frames():
    assert segment_frames(65536) == 512
    assert segment_frames(16384) == 16384 // HOP_LENGTH
    with pytest.raises(DataError):
        segment_frames(HOP_LENGTH - 1)


def test_random_crops_are_seeded_and_match_the_items(fake):
    fs = _examples(fake)
    train = fs.examples("train")

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


def test_short_items_are_padded_and_masked(fake):
    fs = _examples(fake)
    short = [ex for ex in fs.examples("train") if ex.id.startswith("b")]
    length = 64
    assert short[0].n_frames < length
    batch = SegmentSampler(short, length, 4, torch.Generator().manual_seed(0)).sample()
    n = short[0].n_frames
    assert batch.mask[:, :n].all() and not batch.mask[:, n:].any()
    assert torch.all(batch.mel[:, n:] == MAG_FLOOR) and torch.all(batch.x[:, n:] == 0)
    assert batch.n_frames == 4 * n


def test_long_items_are_drawn_more_often(fake):
    fs = _examples(fake)
    train = fs.examples("train")
    sampler = SegmentSampler(train, 8, 400, torch.Generator().manual_seed(0))
    batch = sampler.sample()
    # 'a' (1.5 s) has about 5x the frames of 'b' (0.3 s), so it fills most crops.
    a_like = sum(1 for i in range(400)
                 if any(torch.equal(batch.mel[i], ex.mel[s:s + 8])
                        for ex in train if ex.id.startswith("a")
                        for s in range(0, ex.n_frames - 7)))
    assert a_like > 0.7 * 400


def test_validation_batches_cover_every_frame_once(fake):
    fs = _examples(fake)
    val = fs.examples("val")
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
    assert torch.equal(rebuilt, ex.mel)


def test_empty_training_set_is_an_error():
    with pytest.raises(DataError, match="no training items"):
        SegmentSampler([], 64, 4, torch.Generator())


def test_small_dataset_loads(small_dataset):
    fs = FeatureSet(small_dataset, ["grand_piano", "church_organ"], _encoder())
    assert len(fs.examples("train")) == 6 and len(fs.examples("val")) == 2
    ex = fs.examples("train")[0]
    # Rendered audio is loud where the roll has notes: the mel is far above the floor.
    assert float(ex.mel.max()) > 1e3 * MAG_FLOOR
    assert os.path.isdir(small_dataset / "cache")


def test_data_info_cli(small_dataset, tmp_path):
    from click.testing import CliRunner

    from neuralsynth.cli.main import cli

    result = CliRunner().invoke(cli, ["data", "info", str(small_dataset)])
    assert result.exit_code == 0, result.output
    assert "8 items, 2 instruments" in result.output
    lines = result.output.splitlines()
    assert any(line.split()[:3] == ["train", "3", "pieces"] for line in lines)
    assert any(line.split()[:3] == ["val", "1", "pieces"] for line in lines)
    bad = CliRunner().invoke(cli, ["data", "info", str(tmp_path)])
    assert bad.exit_code == 1 and "has no manifest.json" in bad.output
