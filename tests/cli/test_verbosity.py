"""What -q, -v, --device and -o do in each command (check has its own in test_check.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from neuralsynth.cli.main import cli

REPO = Path(__file__).resolve().parents[2]
SMALL = str(REPO / "recipes" / "mel2mel_small_cpu.yaml")


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def one_error_line(result, code: int = 2) -> str:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_components_quiet_and_verbose():
    quiet = invoke("components", "vocoder", "-q")
    assert quiet.exit_code == 0 and quiet.output == ""
    normal = invoke("components", "vocoder")
    verbose = invoke("components", "vocoder", "-v")
    assert "class: neuralsynth.vocoders.griffin_lim.GriffinLim" in verbose.stdout
    assert "class:" not in normal.stdout
    assert len(verbose.stdout.splitlines()) > len(normal.stdout.splitlines())


def test_recipes_quiet_and_verbose():
    assert invoke("recipes", "-q").output == ""
    verbose = invoke("recipes", "-v").stdout.splitlines()
    assert verbose[0].startswith("bundled recipes in ") and verbose[0].endswith("recipes:")
    i = next(i for i, line in enumerate(verbose) if line.split()[:1] == ["mel2mel_small_cpu"])
    assert verbose[i + 1].strip().endswith("mel2mel_small_cpu.yaml")
    assert verbose[i + 2].strip() == "trains to runs/mel2mel_small_cpu"


def test_examples_quiet_and_verbose(tmp_path):
    assert invoke("examples", "-q").output == ""
    verbose = invoke("examples", "-v").stdout.splitlines()
    assert verbose and all(" notes, MIDI " in line for line in verbose)
    quiet_copy = invoke("examples", "--copy", tmp_path / "ex", "-q")
    assert quiet_copy.exit_code == 0 and quiet_copy.output == ""
    assert sorted(p.suffix for p in (tmp_path / "ex").iterdir())[0] == ".mid"


def test_info_verbose_names_the_file_and_why():
    result = invoke("info", "-v")
    if result.exit_code == 2:                      # no bundled model in this install
        pytest.skip(result.output)
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert first.startswith("model file: ") and first.endswith(".pt (the bundled default)")
    assert invoke("info", "-q").output == ""


def test_train_o_is_the_run_directory_and_refuses_an_old_override(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = one_error_line(invoke("train", SMALL, "-o", "train.steps=3"))
    assert "use --set train.steps=3" in line
    assert list(tmp_path.iterdir()) == []


def test_train_device_errors_are_one_line_and_early(tmp_path):
    run = tmp_path / "run"
    line = one_error_line(invoke("train", SMALL, "-o", run, "--device", "gpu"))
    assert "--device 'gpu'" in line and "cuda:N" in line
    missing = torch.cuda.device_count() + 1          # a GPU index that is never there
    line = one_error_line(invoke("train", SMALL, "-o", run, "--device", f"cuda:{missing}"))
    assert f"cuda:{missing}" in line
    assert not run.exists()


def test_train_verbose_shows_the_resolved_settings_first(tmp_path):
    run = tmp_path / "run"
    result = invoke("train", SMALL, "-v", "-o", run, "--device", "cpu", "--no-progress",
                    "--set", f"data.dataset={tmp_path / 'no_data'}", "--set", "train.steps=5")
    assert result.exit_code != 0            # no dataset: fails, but after the -v lines
    err = result.stderr.splitlines()
    assert err[0].endswith("mel2mel_small_cpu.yaml") and err[0].startswith("recipe file: ")
    assert "override: train.steps=5" in err
    assert "    steps: 5" in err
    assert f"run directory: {run.resolve()}" in err
    assert "device: cpu (asked: cpu)" in err
    assert err[-1].startswith("error: ")


def test_eval_device_is_checked_before_loading(tmp_path):
    line = one_error_line(invoke("eval", tmp_path / "missing.pt", "--embedding-map",
                                 tmp_path / "m.png", "--device", "cuda0"))
    assert "--device 'cuda0'" in line


def test_data_info_quiet_and_verbose(small_dataset):
    assert invoke("data", "info", small_dataset, "-q").output == ""
    verbose = invoke("data", "info", small_dataset, "-v")
    assert verbose.exit_code == 0, verbose.output
    lines = verbose.stdout.splitlines()
    assert lines[0] == f"manifest: {(Path(small_dataset) / 'manifest.json').resolve()}"
    assert any(line.startswith("  grand_piano: ") and "min, val " in line for line in lines)
