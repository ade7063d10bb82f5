"""``neuralsynth data corpus``: music21's scores exported as performance-like MIDI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
from click.testing import CliRunner

pytest.importorskip("music21")

from neuralsynth.cli.main import cli
from neuralsynth.data.corpus import export_corpus, interleave, list_corpus
from neuralsynth.midi.read import load_notes

# Small collections of quick-to-convert scores keep the test fast (5 pieces, ~3 min of music).
SMALL = ["ciconia", "schoenberg", "corelli", "johnson_j_r"]
_SCRIPT = Path(sys.executable).with_name("neuralsynth")
NEURALSYNTH = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m",
                                                       "neuralsynth.cli.main"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    report = export_corpus(out, collections=SMALL, seed=3, workers=1, progress=False)
    return out, report


def test_listing_and_round_robin_order():
    pieces = list_corpus(SMALL)
    assert {p.collection for p in pieces} == set(SMALL)
    order = interleave(pieces, seed=0)
    assert sorted(p.name for p in order) == sorted(p.name for p in pieces)
    # round-robin: the first two come from different collections
    assert order[0].collection != order[1].collection
    assert [p.name for p in interleave(pieces, 0)] == [p.name for p in order]


def test_export_writes_readable_humanised_midi(exported):
    out, report = exported
    assert len(report.files) >= 5 and report.seconds > 60
    manifest = json.loads((out / "corpus.json").read_text())
    assert manifest["settings"]["humanize"] is not None
    assert len(manifest["files"]) == len(report.files)
    velocities = []
    for record in report.files:
        path = out / record["file"]
        pm = pretty_midi.PrettyMIDI(str(path))       # the default MAX_TICK guard accepts it
        assert len(pm.instruments) == 1 and pm.resolution == 480
        notes = load_notes(path)
        assert notes.duration == pytest.approx(record["seconds"], abs=0.01)
        velocities.extend(notes.velocity.tolist())
    assert np.std(velocities) > 3                    # humanised dynamics, not one velocity


def test_export_is_deterministic_and_resumable(exported, tmp_path):
    out, report = exported
    again = export_corpus(tmp_path, collections=SMALL, seed=3, workers=2, progress=False)
    first = {r["name"]: (out / r["file"]).read_bytes() for r in report.files}
    second = {r["name"]: (tmp_path / r["file"]).read_bytes() for r in again.files}
    assert first == second                           # worker count does not matter
    rerun = export_corpus(tmp_path, collections=SMALL, seed=3, workers=1, progress=False)
    assert rerun.reused == len(again.files) and len(rerun.files) == len(again.files)


def test_hours_budget_stops_early(tmp_path):
    report = export_corpus(tmp_path, collections=SMALL, hours=0.001, workers=1,
                           progress=False, humanized=None)
    assert len(report.files) == 1
    assert sorted(p.name for p in tmp_path.rglob("*.mid")) == [Path(report.files[0]["file"]).name]


def test_other_settings_need_a_new_directory(exported):
    out, _ = exported
    result = CliRunner().invoke(cli, ["data", "corpus", "--out", str(out), "--collections",
                                      ",".join(SMALL), "--seed", "4", "--no-progress"])
    assert result.exit_code != 0
    assert "other settings" in result.output and "Traceback" not in result.output


def test_unknown_collection_is_one_line_error(tmp_path):
    proc = subprocess.run([*NEURALSYNTH, "data", "corpus", "--out", str(tmp_path / "c"),
                           "--collections", "bachh"], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "unknown corpus collection(s) bachh" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not any((tmp_path / "c").rglob("*.mid"))


def test_slow_scores_are_skipped_with_a_reason(tmp_path):
    report = export_corpus(tmp_path, collections=["beach"], timeout=0.05, workers=1,
                           progress=False)
    assert report.files == []
    assert len(report.failed) == 1 and "longer than 0.05 s" in report.failed[0][1]


def test_one_file_per_output_name():
    # beethoven/opus18no1 has movements as both .mxl and .krn; they must not both export
    pieces = list_corpus(["beethoven"])
    names = [p.name for p in pieces]
    assert len(names) == len(set(names))
    movement = [p for p in pieces if p.name == "beethoven/opus18no1_movement4"]
    assert len(movement) == 1 and movement[0].path.endswith(".mxl")
