"""``neuralsynth check``: in-process with CliRunner, plus real subprocesses for exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from neuralsynth.cli.main import cli

REPO = Path(__file__).resolve().parents[2]
_SCRIPT = Path(sys.executable).with_name("neuralsynth")
NEURALSYNTH = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m",
                                                       "neuralsynth.cli.main"]


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_check_accepts_the_shipped_recipes(monkeypatch):
    monkeypatch.chdir(REPO)
    result = invoke("check", "recipes/mel2mel_10inst.yaml")
    assert result.exit_code == 0, result.output
    assert result.stdout == ("ok: recipes/mel2mel_10inst.yaml (10 instruments, encoder pianoroll, "
                             "conditioner film, sequence bilstm, loss tanh_log_abs_mse, vocoder "
                             "griffin_lim, 100000 steps)\n")
    result = invoke("check", "recipes/mel2mel_small_cpu.yaml")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ok: recipes/mel2mel_small_cpu.yaml (2 instruments, ")
    assert "300 steps" in result.stdout


def test_check_applies_overrides(monkeypatch):
    monkeypatch.chdir(REPO)
    result = invoke("check", "recipes/mel2mel_small_cpu.yaml", "--set", "train.steps=10",
                    "--set", "data.instruments=[piano,organ,trumpet]")
    assert result.exit_code == 0, result.output
    assert "(3 instruments, " in result.stdout and "10 steps" in result.stdout
    assert result.stderr == ""


def test_check_old_o_still_works_with_one_warning(monkeypatch):
    monkeypatch.chdir(REPO)
    result = invoke("check", "recipes/mel2mel_small_cpu.yaml", "-o", "train.steps=10",
                    "--set", "train.steps=12")
    assert result.exit_code == 0, result.output
    assert "12 steps" in result.stdout          # -o first, --set after: --set wins
    assert result.stderr == "warning: -o key=value is deprecated; use --set key=value\n"


def test_check_quiet_and_verbose(monkeypatch):
    monkeypatch.chdir(REPO)
    quiet = invoke("check", "recipes/mel2mel_small_cpu.yaml", "-q", "--set", "train.steps=7")
    assert quiet.exit_code == 0 and quiet.output == ""
    verbose = invoke("check", "mel2mel_small_cpu", "-v", "--set", "train.steps=7")
    assert verbose.exit_code == 0, verbose.output
    lines = verbose.stdout.splitlines()
    recipe_file = REPO / "neuralsynth/assets/recipes/mel2mel_small_cpu.yaml"
    assert lines[0] == f"recipe file: {recipe_file.resolve()}"
    assert lines[1] == "override: train.steps=7"
    assert "    steps: 7" in lines and "      hidden_size: 64" in lines  # resolved values
    assert lines[-1].startswith("ok: mel2mel_small_cpu (2 instruments, ")


def test_check_lists_every_problem_and_exits_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("recipe: 1\nextends: " + str(REPO / "recipes/mel2mel_small_cpu.yaml")
                   + "\ntrain:\n  stepz: 3\nmodel:\n  sequence: {hidden_size: big}\n")
    result = invoke("check", str(bad), "--set", "loss.name=tanh_log_abs_mes")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: recipe has 3 problems:",
        f"  {bad}:4: train.stepz: unknown parameter 'stepz' (did you mean 'steps'?); allowed: "
        "batch_size, checkpoint_every, device, grad_clip, lr, lr_halve_every, out, precision, seed, "
        "segment_samples, steps, task, val_crops, val_every, val_pieces",
        f"  {bad}:6: model.sequence.hidden_size: expected int, got 'big' (str)",
        "  override -o loss.name=tanh_log_abs_mes: loss.name: unknown loss 'tanh_log_abs_mes' "
        "(did you mean 'tanh_log_abs_mse'?); available: abs_mse, log_abs_mse, tanh_log_abs_mse",
    ]


def test_check_missing_file_is_a_recipe_error(tmp_path):
    result = invoke("check", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2
    assert f"{tmp_path / 'nope.yaml'}: recipe file not found" in result.stderr


def test_check_exit_codes_in_a_real_process(tmp_path):
    ok = subprocess.run(NEURALSYNTH + ["check", "recipes/mel2mel_10inst.yaml"], cwd=REPO,
                        capture_output=True, text=True, timeout=180)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("ok: recipes/mel2mel_10inst.yaml (10 instruments")

    text = (REPO / "recipes/mel2mel_10inst.yaml").read_text()
    assert text.count("hidden_size") == 1
    typo = tmp_path / "typo.yaml"
    typo.write_text(text.replace("hidden_size", "hiden_size"))
    line = next(i for i, s in enumerate(text.splitlines(), 1) if "hidden_size" in s)
    bad = subprocess.run(NEURALSYNTH + ["check", str(typo)], cwd=REPO, capture_output=True,
                         text=True, timeout=180)
    assert bad.returncode == 2
    assert f"{typo}:{line}: model.sequence.hiden_size: unknown parameter 'hiden_size' " \
           "(did you mean 'hidden_size'?)" in bad.stderr
    assert "Traceback" not in bad.stderr
