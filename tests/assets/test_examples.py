"""Example MIDI files shipped in the package, and `neuralsynth examples [--copy DIR]`."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from neuralsynth.assets import copy_examples, example_paths
from neuralsynth.cli.main import cli
from neuralsynth.errors import UsageError
from neuralsynth.midi.read import load_notes

REPO_EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NAMES = ["etude_1", "etude_2", "etude_3", "quartet"]


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_bundled_examples_are_the_composed_etudes():
    paths = example_paths()
    assert [p.stem for p in paths] == NAMES
    for p in paths:
        assert p.is_file() and p.parent.name == "examples" and p.parent.parent.name == "assets"
        notes = load_notes(p)
        assert notes.duration > 10 and len(notes) > 50
        repo_copy = REPO_EXAMPLES / p.name
        if repo_copy.is_file():           # a source checkout: the two copies agree
            assert p.read_bytes() == repo_copy.read_bytes()


def test_cli_lists_names_lengths_and_paths():
    result = invoke("examples")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 4
    for line, path in zip(lines, example_paths()):
        name, seconds, unit, shown = line.split()
        assert name == path.stem and unit == "s" and Path(shown) == path
        assert float(seconds) == pytest.approx(load_notes(path).duration, abs=0.05)


def test_cli_copy(tmp_path):
    dest = tmp_path / "new" / "midi"
    result = invoke("examples", "--copy", dest)
    assert result.exit_code == 0, result.output
    assert f"copied 4 example MIDI files to {dest}" in result.stdout
    assert sorted(p.name for p in dest.iterdir()) == [f"{n}.mid" for n in NAMES]
    for p in example_paths():
        assert (dest / p.name).read_bytes() == p.read_bytes()
    # Copying again over identical files is fine.
    assert invoke("examples", "--copy", dest).exit_code == 0


def test_copy_does_not_clobber_other_files_without_force(tmp_path):
    mine = tmp_path / "etude_2.mid"
    mine.write_bytes(b"my own piece")
    result = invoke("examples", "--copy", tmp_path)
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"error: etude_2.mid already exists in '{tmp_path}' "
                                     f"with other content; use --force to replace them")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["etude_2.mid"]   # nothing copied
    assert mine.read_bytes() == b"my own piece"
    assert invoke("examples", "--copy", tmp_path, "--force").exit_code == 0
    assert mine.read_bytes() == example_paths()[1].read_bytes()


def test_copy_errors(tmp_path):
    afile = tmp_path / "f.txt"
    afile.write_text("x")
    with pytest.raises(UsageError, match="not a directory"):
        copy_examples(afile)
    (tmp_path / "d" / "etude_1.mid").mkdir(parents=True)
    with pytest.raises(UsageError, match="cannot copy over directory etude_1.mid"):
        copy_examples(tmp_path / "d", force=True)
    result = invoke("examples", "--force")
    assert result.exit_code == 2 and "--force only applies with --copy" in result.stderr


def test_cli_help_has_examples():
    result = invoke("examples", "--help")
    assert result.exit_code == 0 and "Examples:" in result.output
