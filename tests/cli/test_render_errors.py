"""`neuralsynth render` with bad inputs: one-line errors, right exit codes, no files left.

Every failure must (1) print a single ``error: ...`` line and no traceback, (2) exit with
the error's code (1 for bad files, 2 for bad flags/specs), and (3) leave no output file
and no temporary file behind, nor touch an existing output.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from neuralsynth.cli.main import cli
from tests.midi_factory import random_melody, write_midi


@pytest.fixture(scope="module")
def good_midi(tmp_path_factory) -> Path:
    return write_midi(tmp_path_factory.mktemp("midi") / "ok.mid",
                      random_melody(1, seconds=1.0, polyphony=1))


@pytest.fixture
def out_dir(tmp_path) -> Path:
    """A directory that must stay empty (it does not exist yet: render creates parents)."""
    return tmp_path / "out"


def assert_nothing_written(out_dir: Path) -> None:
    assert not out_dir.exists() or sorted(out_dir.iterdir()) == [], \
        sorted(p.name for p in out_dir.iterdir())


def run_cli(args: list[str], *, code: int, needles: tuple[str, ...]) -> str:
    result = CliRunner().invoke(cli, ["render", *map(str, args)])
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == code, result.output
    err = result.stderr
    assert "Traceback" not in result.output
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert result.stdout == ""
    return lines[0]


def neuralsynth_exe() -> str:
    exe = Path(sys.executable).parent / "neuralsynth"
    return str(exe) if exe.exists() else shutil.which("neuralsynth")


def run_subprocess(args: list[str], *, code: int, needles: tuple[str, ...],
                   cwd: Path | None = None) -> str:
    proc = subprocess.run([neuralsynth_exe(), "render", *map(str, args)], capture_output=True,
                          text=True, timeout=120, cwd=cwd)
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.startswith("error: ")]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


# -- bad MIDI files ----------------------------------------------------------------------
def test_empty_midi(tmp_path, untrained_ckpt, out_dir):
    midi = tmp_path / "empty.mid"
    midi.write_bytes(b"")
    run_cli([midi, "-o", out_dir / "o.wav", "--model", untrained_ckpt], code=1,
            needles=("empty.mid",))
    assert_nothing_written(out_dir)


def test_missing_midi(tmp_path, untrained_ckpt, out_dir):
    run_cli([tmp_path / "nope.mid", "-o", out_dir / "o.wav", "--model", untrained_ckpt], code=1,
            needles=("nope.mid",))
    assert_nothing_written(out_dir)


def test_random_bytes_midi_subprocess(tmp_path, untrained_ckpt, out_dir):
    midi = tmp_path / "noise.mid"
    midi.write_bytes(os.urandom(3000))
    run_subprocess([midi, "-o", out_dir / "o.wav", "--model", untrained_ckpt], code=1,
                   needles=("noise.mid",))
    assert_nothing_written(out_dir)


def test_truncated_midi(tmp_path, untrained_ckpt, good_midi, out_dir):
    data = good_midi.read_bytes()
    midi = tmp_path / "cut.mid"
    midi.write_bytes(data[: len(data) // 2])
    run_cli([midi, "-o", out_dir / "o.wav", "--model", untrained_ckpt], code=1,
            needles=("cut.mid",))
    assert_nothing_written(out_dir)


def test_drums_only_midi(tmp_path, untrained_ckpt, out_dir):
    midi = write_midi(tmp_path / "drums.mid", [], drum_notes=[(36, 0.0, 0.5, 100),
                                                               (38, 0.5, 1.0, 100)])
    run_cli([midi, "-o", out_dir / "o.wav", "--model", untrained_ckpt], code=1,
            needles=("drums.mid", "drum"))
    assert_nothing_written(out_dir)


# -- bad timbre specs --------------------------------------------------------------------
@pytest.mark.parametrize("spec, needles", [
    ("pian", ("unknown instrument 'pian'", "did you mean 'piano'?")),
    ("piano:0.5,organ:-0.5", ("negative",)),
    ("piano:0,organ:0", ("all weights are zero",)),
    ("xy:0.5", ("exactly 2 numbers", "got 1")),
    ("xy:1,2,3", ("exactly 2 numbers", "got 3")),
    ("piano:lots", ("'lots'", "not a number")),
    ("", ("empty timbre spec",)),
])
def test_bad_timbre(good_midi, untrained_ckpt, out_dir, spec, needles):
    run_cli([good_midi, "-o", out_dir / "o.wav", "--model", untrained_ckpt,
             "--timbre", spec], code=2,
            needles=needles)
    assert_nothing_written(out_dir)


# -- bad checkpoints ---------------------------------------------------------------------
def test_missing_checkpoint(tmp_path, good_midi, out_dir):
    run_cli([good_midi, "-o", out_dir / "o.wav", "--model", tmp_path / "gone.pt"], code=1,
            needles=("gone.pt", "not found"))
    assert_nothing_written(out_dir)


def test_corrupt_checkpoint(tmp_path, good_midi, out_dir):
    bad = tmp_path / "corrupt.pt"
    bad.write_bytes(os.urandom(5000))
    line = run_cli([good_midi, "-o", out_dir / "o.wav", "--model", bad], code=1,
                   needles=("checkpoint", "corrupt.pt"))
    # Random bytes can fail as a broken zip or as an invalid pickle opcode; either way
    # the file is rejected by the loader, never half-used.
    assert "not a valid checkpoint" in line or "refused" in line
    assert_nothing_written(out_dir)


class _RunsCode:
    """Unpickling this would run a shell command (what safe loading must refuse)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_checkpoint_that_would_run_code_subprocess(tmp_path, good_midi, out_dir):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    torch.save({"format": 1, "model_state": {}, "recipe": _RunsCode(marker),
                "instruments": ["grand_piano"], "step": 0}, evil)
    assert not marker.exists()
    line = run_subprocess([good_midi, "-o", out_dir / "o.wav", "--model", evil], code=1,
                          needles=("evil.pt", "refused"))
    assert "weights_only" in line or "safe loading" in line
    assert not marker.exists(), "the checkpoint's pickle ran code"
    assert_nothing_written(out_dir)


# -- bad vocoder -------------------------------------------------------------------------
def test_unknown_vocoder(good_midi, untrained_ckpt, out_dir):
    run_cli([good_midi, "-o", out_dir / "o.wav", "--model", untrained_ckpt,
             "--vocoder", "griffin_lin"],
            code=2, needles=("unknown vocoder 'griffin_lin'", "did you mean 'griffin_lim'?"))
    assert_nothing_written(out_dir)


def test_unknown_vocoder_option(good_midi, untrained_ckpt, out_dir):
    run_cli([good_midi, "-o", out_dir / "o.wav", "--model", untrained_ckpt,
             "--vocoder", "griffin_lim",
             "--vocoder-opt", "n_itr=3"], code=2, needles=("n_itr", "did you mean 'n_iter'?"))
    assert_nothing_written(out_dir)


def test_wrongly_typed_vocoder_option(good_midi, untrained_ckpt, out_dir):
    run_cli([good_midi, "-o", out_dir / "o.wav", "--model", untrained_ckpt,
             "--vocoder-opt", "n_iter=many"], code=2, needles=("n_iter", "int"))
    assert_nothing_written(out_dir)


# -- outputs -----------------------------------------------------------------------------
def test_bad_output_suffix(good_midi, untrained_ckpt, out_dir):
    run_cli([good_midi, "-o", out_dir / "o.mp3", "--model", untrained_ckpt], code=2,
            needles=(".wav",))
    assert_nothing_written(out_dir)


def test_negative_tail(good_midi, untrained_ckpt, out_dir):
    run_cli([good_midi, "-o", out_dir / "o.wav", "--model", untrained_ckpt, "--tail", "-2"], code=2,
            needles=("tail",))
    assert_nothing_written(out_dir)


@pytest.mark.parametrize("bad_args", [["--timbre", "organ:-1"], ["--vocoder", "wavenot"]])
def test_failed_render_keeps_existing_output(tmp_path, good_midi, untrained_ckpt, bad_args):
    out = tmp_path / "keep.wav"
    out.write_bytes(b"precious earlier render")
    result = CliRunner().invoke(cli, ["render", str(good_midi), "-o", str(out), "--model",
                                      str(untrained_ckpt), *bad_args])
    assert result.exit_code == 2
    assert out.read_bytes() == b"precious earlier render"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.wav"]
