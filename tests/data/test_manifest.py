"""Reading and checking manifest.json, and mapping its instruments onto a recipe's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from neuralsynth.data.manifest import instrument_indices, read_manifest
from neuralsynth.errors import DataError
from tests.dataset_factory import make_fake_dataset


def _edit_manifest(root: Path, fn) -> None:
    path = root / "manifest.json"
    data = json.loads(path.read_text())
    fn(data)
    path.write_text(json.dumps(data))


@pytest.fixture
def fake(tmp_path) -> Path:
    return make_fake_dataset(tmp_path / "ds")


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
