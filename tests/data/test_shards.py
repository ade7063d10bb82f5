"""Sharded synthesis (`data synth --shard I/N`) and `data merge`: the merged dataset is
the unsharded one, item for item and sample for sample."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from neuralsynth.cli.main import cli
from neuralsynth.data.merge import merge_shards
from neuralsynth.data.synth import synthesize_dataset
from neuralsynth.errors import DataError
from tests.conftest import LITE_SOUNDFONT, SMALL_INSTRUMENTS, synth_skip_reason
from tests.midi_factory import random_melody, write_midi

pytestmark = pytest.mark.skipif(synth_skip_reason() is not None,
                                reason=f"dataset synthesis unavailable: {synth_skip_reason()}")


def _manifest(root: Path) -> dict:
    return json.loads((root / "manifest.json").read_text())


@pytest.fixture(scope="module")
def collection(tmp_path_factory) -> Path:
    """Five short pieces, one of them not MIDI (skipped the same way everywhere)."""
    root = tmp_path_factory.mktemp("collection")
    for i in range(5):
        write_midi(root / f"p{i}.mid", random_melody(200 + i, seconds=1.5))
    (root / "zz_broken.mid").write_bytes(b"not midi")
    return root


def _synth(collection: Path, out: Path, shard=None) -> Path:
    synthesize_dataset([collection], list(SMALL_INSTRUMENTS), out, soundfont=LITE_SOUNDFONT,
                       val_fraction=0.4, workers=1, seed=3, progress=False, shard=shard)
    return out


def test_merged_shards_equal_the_unsharded_dataset(collection, tmp_path):
    whole = _synth(collection, tmp_path / "whole")
    shards = [_synth(collection, tmp_path / f"s{i}", (i, 3)) for i in (1, 2, 3)]
    sizes = [len(_manifest(s)["items"]) for s in shards]
    assert sizes == [4, 4, 2]                   # pieces 0,3 / 1,4 / 2, two instruments each
    # CLI, shards given in any order.
    result = CliRunner().invoke(cli, ["data", "merge", str(shards[2]), str(shards[0]),
                                      str(shards[1]), "--out", str(tmp_path / "merged")])
    assert result.exit_code == 0, result.output
    merged = tmp_path / "merged"
    assert _manifest(merged) == _manifest(whole)
    for item in _manifest(whole)["items"]:
        for field in ("audio", "midi"):
            assert (merged / item[field]).read_bytes() == (whole / item[field]).read_bytes()
    splits = {item["split"] for item in _manifest(merged)["items"]}
    assert splits == {"train", "val"}


def test_merge_refuses_mismatched_missing_and_repeated_shards(collection, tmp_path):
    one = _synth(collection, tmp_path / "one", (1, 2))
    two = _synth(collection, tmp_path / "two", (2, 2))
    other = tmp_path / "other"
    shutil.copytree(two, other)
    data = _manifest(other)
    data["seed"] = 4
    (other / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(DataError, match="another seed"):
        merge_shards([one, other], tmp_path / "m1")
    with pytest.raises(DataError, match=r"shard\(s\) 2/2 missing"):
        merge_shards([one], tmp_path / "m2")
    with pytest.raises(DataError, match="given twice"):
        merge_shards([one, one], tmp_path / "m3")
    whole = _synth(collection, tmp_path / "whole")
    with pytest.raises(DataError, match="not a shard"):
        merge_shards([one, whole], tmp_path / "m4")
    for m in ("m1", "m2", "m3", "m4"):
        assert not (tmp_path / m).exists()          # refused before anything was copied
    bad = CliRunner().invoke(cli, ["data", "synth", str(collection), "-i", "piano", "-o",
                                   str(tmp_path / "x"), "--shard", "3/2"])
    assert bad.exit_code == 2 and "write I/N with 1 <= I <= N" in bad.output
