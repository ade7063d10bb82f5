"""Bundled recipes by name (`neuralsynth recipes`, `check NAME`, `train NAME`), and the
one-line message when a command's optional extra is missing."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from neuralsynth.cli.main import cli

REPO = Path(__file__).resolve().parents[2]
EXE = Path(sys.executable).parent / "neuralsynth"


def test_recipes_lists_every_bundled_recipe_by_name():
    result = CliRunner().invoke(cli, ["recipes"])
    assert result.exit_code == 0, result.output
    names = [line.split()[0] for line in result.output.splitlines()]
    expected = sorted(p.relative_to(REPO / "recipes").with_suffix("").as_posix()
                      for p in (REPO / "recipes").rglob("*.yaml"))
    assert names == expected
    assert "ablations/proposed" in names
    line = next(ln for ln in result.output.splitlines() if ln.split()[0] == "mel2mel_10inst")
    assert "10 instruments" in line and "100000 steps" in line


def test_recipes_dir_is_the_packaged_one():
    # recipes/ in the source tree links to the files that ship in the wheel.
    assert (REPO / "recipes").resolve() == (REPO / "neuralsynth" / "assets" / "recipes")


def test_check_a_bundled_recipe_by_name_from_anywhere(tmp_path):
    proc = subprocess.run([str(EXE), "check", "mel2mel_10inst"], capture_output=True,
                          text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok: mel2mel_10inst (10 instruments")
    by_path = CliRunner().invoke(cli, ["check", str(REPO / "recipes" / "mel2mel_10inst.yaml")])
    assert by_path.exit_code == 0
    nested = CliRunner().invoke(cli, ["check", "ablations/proposed.yaml"])
    assert nested.exit_code == 0, nested.output


def test_a_local_file_wins_over_a_bundled_name(tmp_path, monkeypatch):
    (tmp_path / "mel2mel_10inst").write_text("recipe: 1\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["check", "mel2mel_10inst"])
    assert result.exit_code == 2 and "missing required section" in result.output


def test_an_unknown_name_is_the_usual_missing_file_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["check", "mel2mel_10isnt"])
    assert result.exit_code == 2
    assert "mel2mel_10isnt" in result.output and "Traceback" not in result.output


def test_train_accepts_a_bundled_name(small_dataset, tmp_path):
    from tests.conftest import TINY_TRAIN

    args = ["train", "mel2mel_small_cpu", "--out", str(tmp_path / "run"), "--no-progress",
            "--set", f"data.dataset={small_dataset}", "--set", "train.steps=3",
            "--set", "train.val_every=3", "--set", "train.checkpoint_every=3"]
    for override in TINY_TRAIN:
        args += ["--set", override]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "best.pt").is_file()


@pytest.mark.parametrize("args, module, extra", [
    (["data", "synth", "x.mid", "-i", "piano", "-o", "out"], "fluidsynth", "data"),
    (["data", "corpus", "-o", "out", "--hours", "1"], "music21", "data"),
    (["eval", "default", "--embedding-map", "map.png"], "matplotlib", "eval"),
])
def test_a_missing_extra_is_named_in_one_line(args, module, extra, monkeypatch, tmp_path):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == module else real(name, *a))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].endswith(f"pip install 'neuralsynth[{extra}]'") and module in lines[0]
    assert not (tmp_path / "out").exists() and not (tmp_path / "map.png").exists()
