"""`neuralsynth eval --data`: losses, stage correlations, the JSON, its plots, bad input."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from neuralsynth.cli.main import cli
from neuralsynth.errors import DataError, UsageError
from neuralsynth.evaluation.pieces import select_pieces, spread

INSTRUMENTS = {"grand_piano", "church_organ"}
FAST = ["--seconds", "1", "--vocoder-opt", "n_iter=8", "--no-progress"]


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (fails on anything not a PNG)."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", path
    return struct.unpack(">II", head[16:24])


def run_cli(*args) -> object:
    return CliRunner().invoke(cli, ["eval", *map(str, args)])


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, trained_checkpoint, small_dataset):
    """One CLI evaluation of the tiny trained model on the small dataset's val piece."""
    out = tmp_path_factory.mktemp("eval") / "sub" / "result.json"
    result = run_cli(trained_checkpoint, "--data", small_dataset, "--json", out, *FAST)
    assert result.exit_code == 0, (result.output, result.exception)
    return out, result.output


# -- the JSON --------------------------------------------------------------------------
def test_json_has_losses_and_stage_correlations(evaluated):
    out, _ = evaluated
    data = json.loads(out.read_text())
    assert set(data["losses"]) == {"abs_mse", "log_abs_mse", "tanh_log_abs_mse"}
    assert all(math.isfinite(v) and v > 0 for v in data["losses"].values())
    assert data["loss_scale"] == 1000
    corr = data["correlation"]
    assert set(corr) == {"mu_law", "ground_truth_mel", "predicted_mel"}
    for stage in corr.values():
        assert set(stage) >= {"mean", "per_octave", "per_instrument"}
        assert len(stage["per_octave"]) == 7
        assert set(stage["per_instrument"]) == INSTRUMENTS
        assert -1.0 <= stage["mean"] <= 1.0
    mu, gt, pred = (corr[s]["mean"] for s in ("mu_law", "ground_truth_mel", "predicted_mel"))
    # µ-law loses almost nothing; a vocoder on the true mel loses some; a 40-step model's
    # mel loses more again.
    assert mu > 0.95 and mu >= gt > pred
    assert len(data["items"]) == 2 and data["split"] == "val" and len(data["pieces"]) == 1


def test_per_instrument_losses_average_to_the_total(evaluated):
    """Both renderings of the piece have the same frames, so the overall (frame-weighted)
    loss is the plain mean of the two instruments' losses."""
    data = json.loads(evaluated[0].read_text())
    per = data["losses_per_instrument"]
    assert set(per) == INSTRUMENTS
    for name, total in data["losses"].items():
        assert np.mean([per[i][name] for i in INSTRUMENTS]) == pytest.approx(total, rel=1e-9)


def test_plots_next_to_the_json(evaluated):
    out, stdout = evaluated
    octaves = out.with_name("result-octaves.png")
    instruments = out.with_name("result-instruments.png")
    assert png_size(octaves) == (800, 500)
    assert png_size(instruments) == (800, 500)
    assert sorted(p.name for p in out.parent.iterdir()) == sorted(
        ["result.json", octaves.name, instruments.name])          # no temporary files left
    assert "losses x10^3" in stdout and "tanh_log_abs_mse" in stdout
    assert "predicted_mel" in stdout and f"wrote {out}" in stdout


# -- piece selection -------------------------------------------------------------------
def test_spread_picks_evenly_and_keeps_everything_when_asked_for_more():
    assert spread(list(range(24)), 4) == [0, 6, 12, 18]
    assert spread([1, 2, 3], 5) == [1, 2, 3] and spread([1, 2, 3], None) == [1, 2, 3]


def test_select_pieces_by_split(small_dataset):
    names = ["church_organ", "trumpet", "grand_piano"]
    val = select_pieces(small_dataset, names, split="val")
    assert len(val) == 1 and [it.instrument for it in val[0].items] == ["church_organ",
                                                                        "grand_piano"]
    assert val[0].rows == [0, 2]                     # rows of the model's table
    every = select_pieces(small_dataset, names, split="all")
    assert len(every) == 4
    assert [p.midi for p in select_pieces(small_dataset, names, split="all", pieces=2)] \
        == [every[0].midi, every[2].midi]
    with pytest.raises(UsageError, match="unknown split"):
        select_pieces(small_dataset, names, split="test")
    with pytest.raises(DataError, match="no recordings of the model's instruments"):
        select_pieces(small_dataset, ["trumpet"], split="val")


# -- bad input: one line, non-zero exit, nothing written ----------------------------------
def assert_one_line_error(result, code: int, needle: str) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], lines


@pytest.mark.parametrize("args, code, needle", [
    (["--data", "{missing}"], 2, "does not exist"),
    (["--data", "{data}", "--split", "test"], 2, "unknown split 'test'"),
    (["--data", "{data}", "--json", "{out}/dir.json"], 2, "is a directory"),
    (["--data", "{data}", "--json", "{out}/r.txt"], 2, "must end in .json"),
    (["--embedding-map", "{out}/m.jpg"], 2, "must end in .png"),
    ([], 2, "nothing to do"),
    (["--data", "{out}/empty"], 1, "no manifest.json"),
])
def test_cli_errors(tmp_path, untrained_ckpt, small_dataset, args, code, needle):
    out = tmp_path / "out"
    (out / "dir.json").mkdir(parents=True)
    (out / "empty").mkdir()
    fill = {"missing": tmp_path / "nope", "data": small_dataset, "out": out}
    result = run_cli(untrained_ckpt, *[a.format(**fill) for a in args], *FAST)
    assert_one_line_error(result, code, needle)
    assert sorted(p.name for p in out.iterdir()) == ["dir.json", "empty"]


def test_cli_missing_checkpoint(tmp_path, small_dataset):
    result = run_cli(tmp_path / "none.pt", "--data", small_dataset, "--json",
                     tmp_path / "r.json", *FAST)
    assert_one_line_error(result, 1, "not found")
    assert list(tmp_path.iterdir()) == []


# -- the log-spectral distance and a score-informed vocoder ----------------------------
def test_json_and_table_have_the_log_spectral_distance(evaluated):
    out, text = evaluated
    corr = json.loads(out.read_text())["correlation"]
    for stage in corr.values():
        assert stage["lsd_db"] > 0 and set(stage["lsd_db_per_instrument"]) == INSTRUMENTS
        assert len(next(iter(stage["per_instrument_octave"].values()))) == 7
    assert "log-spectral distance" in text
    # A vocoder on the true mel is nearer to the recording than one on a 40-step model's.
    assert corr["ground_truth_mel"]["lsd_db"] < corr["predicted_mel"]["lsd_db"]


def test_eval_gives_the_harmonic_vocoder_each_excerpts_notes(
        tmp_path, trained_checkpoint, small_dataset, monkeypatch):
    from neuralsynth.vocoders.harmonic.vocoder import HarmonicVocoder

    seen = []
    real = HarmonicVocoder.synthesize

    def spy(self, mel, score=None):
        seen.append((mel.shape[0], score))
        return real(self, mel, score=score)

    monkeypatch.setattr(HarmonicVocoder, "synthesize", spy)
    out = tmp_path / "h.json"
    result = run_cli(trained_checkpoint, "--data", small_dataset, "--json", out,
                     "--vocoder", "harmonic", *FAST)
    assert result.exit_code == 0, result.output
    assert len(seen) == 4                  # 2 items x (ground-truth mel, predicted mel)
    for n, score in seen:
        assert score is not None and score.n_frames == n and len(score.notes) > 0
        # Excerpt times: every note that sounds in the excerpt starts before its end.
        assert score.notes.start.min() < n * 128 / 16000
    data = json.loads(out.read_text())
    assert data["vocoder"]["name"] == "harmonic"
    assert data["correlation"]["ground_truth_mel"]["mean"] > 0.5
