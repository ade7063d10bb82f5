"""`neuralsynth render` refuses bad input with one line, a non-zero exit, before any
rendering, and leaves no file behind nor clobbers an existing one."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from neuralsynth.cli.main import cli
from tests.midi_factory import random_melody, write_midi
from tests.model_factory import make_checkpoint

#: Every refusal below comes before the model runs: well under this many seconds.
BEFORE_WORK_S = 2.0


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("m") / "m.pt")


@pytest.fixture(scope="module")
def long_midi(tmp_path_factory) -> Path:
    # Long enough that rendering it would take far longer than BEFORE_WORK_S.
    return write_midi(tmp_path_factory.mktemp("midi") / "long.mid",
                      random_melody(3, seconds=240.0))


def _refused(args: list[str], *, code: int | None = None) -> tuple[str, float]:
    started = time.perf_counter()
    result = CliRunner().invoke(cli, ["render", *map(str, args)])
    took = time.perf_counter() - started
    assert result.exit_code != 0, result.output
    if code is not None:
        assert result.exit_code == code
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert took < BEFORE_WORK_S, took
    return lines[0], took


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_output_under_a_file(tmp_path, ckpt, long_midi):
    (tmp_path / "notadir").write_text("x")
    line, _ = _refused([long_midi, "-o", tmp_path / "notadir" / "out.wav", "--model", ckpt])
    assert "is a file, not a folder" in line
    assert _leftovers(tmp_path) == ["notadir"]


def test_output_parent_that_cannot_be_created(tmp_path, ckpt, long_midi):
    (tmp_path / "f").write_text("x")
    line, _ = _refused([long_midi, "-o", tmp_path / "f" / "a" / "b" / "out.wav",
                        "--model", ckpt])
    assert "in its path is a file, not a folder" in line
    assert _leftovers(tmp_path) == ["f"]


def test_read_only_file_system(tmpfs, ckpt, long_midi):
    ro = tmpfs("1m", ro=True)
    line, _ = _refused([long_midi, "-o", ro / "out.wav", "--model", ckpt])
    assert "read-only file system" in line


def test_a_disk_too_small_is_found_before_rendering(tmpfs, ckpt, long_midi):
    """4 minutes at 16 kHz need about 8 MB (and as much again while spooling): on a
    256 kB disk the render is refused up front, not after minutes of work."""
    small = tmpfs("256k")
    line, _ = _refused([long_midi, "-o", small / "out.wav", "--model", ckpt])
    assert "disk space" in line and "MB" in line
    assert _leftovers(small) == []


def test_immutable_directory(tmp_path, immutable, ckpt, long_midi):
    (tmp_path / "locked").mkdir()
    folder = immutable(tmp_path / "locked")
    line, _ = _refused([long_midi, "-o", folder / "out.wav", "--model", ckpt])
    assert "not permitted" in line
    assert _leftovers(folder) == []


def test_an_existing_output_survives_a_refused_render(tmp_path, ckpt, long_midi):
    out = tmp_path / "keep.wav"
    out.write_bytes(b"precious")
    line, _ = _refused([long_midi, "-o", out, "--model", ckpt, "--timbre", "xy:1e30,1e30"])
    assert "non-finite" in line or "silent" in line
    assert out.read_bytes() == b"precious"
    assert _leftovers(tmp_path) == ["keep.wav"]


def test_notes_outside_the_keyboard(tmp_path, ckpt):
    midi = write_midi(tmp_path / "high.mid", [(120, 0.0, 1.0, 90), (10, 1.0, 2.0, 90)])
    line, _ = _refused([midi, "-o", tmp_path / "x.wav", "--model", ckpt])
    assert "outside the model's key range" in line
    assert not (tmp_path / "x.wav").exists()


def test_model_with_non_finite_weights(tmp_path, ckpt, long_midi):
    data = torch.load(ckpt, weights_only=True)
    first = next(k for k, v in data["model_state"].items() if v.is_floating_point())
    data["model_state"][first] = torch.full_like(data["model_state"][first], float("nan"))
    bad = tmp_path / "nan.pt"
    torch.save(data, bad)
    line, _ = _refused([long_midi, "-o", tmp_path / "x.wav", "--model", bad])
    assert "non-finite" in line and first in line
    assert not (tmp_path / "x.wav").exists()


@pytest.mark.parametrize("tail", ["1e9", "-1", "nan"])
def test_absurd_tail(tmp_path, ckpt, long_midi, tail):
    line, _ = _refused([long_midi, "-o", tmp_path / "x.wav", "--model", ckpt, "--tail", tail])
    assert "tail" in line
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("args,needle", [
    (["--loudness", "loud"], "--loudness"),
    (["--track", "nosuchtrack=piano"], "--track"),
    (["--bit-depth", "float", "-o", "x.flac"], "bit depth"),
])
def test_bad_options(tmp_path, ckpt, long_midi, args, needle):
    out = ["-o", tmp_path / "x.wav"] if "-o" not in args else []
    line, _ = _refused([long_midi, *out, "--model", ckpt, *args])
    assert needle in line
    assert _leftovers(tmp_path) == []
