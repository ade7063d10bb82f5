"""Training: learning, reproducibility, checkpoints and resuming (also after SIGKILL)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from neuralsynth.checkpoint import load_checkpoint
from neuralsynth.cli.main import cli
from neuralsynth.device import resolve_device
from neuralsynth.errors import UsageError
from neuralsynth.inference.load import load_trained_model
from neuralsynth.training.loop import train
from tests.conftest import SMALL_RECIPE, TINY_TRAIN, tiny_recipe


def _metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def _cli_args(dataset: Path, out: Path, *overrides: str) -> list[str]:
    args = [str(SMALL_RECIPE), "--set", f"data.dataset={dataset}"]
    for o in (*TINY_TRAIN, *overrides):
        args += ["--set", o]
    return args + ["--out", str(out), "--no-progress"]


def _neuralsynth() -> list[str]:
    return [sys.executable, "-c", "from neuralsynth.cli.main import main; main()"]


def test_validation_loss_goes_down(trained_checkpoint):
    run = trained_checkpoint.parent
    records = _metrics(run)
    assert [r["step"] for r in records] == [0, 10, 20, 30, 40]
    untrained, *trained = [r["val_loss"] for r in records]
    # The untrained model already predicts a plausible level (the output bias starts
    # near the data's mean log mel); learning the notes and timbres takes it well below.
    assert min(trained) < 0.85 * untrained
    assert trained[-1] < 0.9 * untrained
    best = load_checkpoint(trained_checkpoint)
    assert best["best_val_loss"] == pytest.approx(min(trained))
    assert best["step"] == 10 * (1 + trained.index(min(trained)))
    last = load_checkpoint(run / "last.pt")
    assert last["step"] == 40 and "optimizer_state" in last and "rng_state" in last
    assert "optimizer_state" not in best                     # best.pt is for inference


def test_same_seed_gives_same_losses(small_dataset, tmp_path):
    def run(name, seed):
        recipe = tiny_recipe(small_dataset, tmp_path / name, "train.steps=6", "train.val_every=3",
                             "train.checkpoint_every=6", f"train.seed={seed}")
        return train(recipe, progress=False)

    a, b, c = run("a", 0), run("b", 0), run("c", 1)
    assert len(a.train_losses) == 6
    assert a.train_losses == b.train_losses and a.val_losses == b.val_losses
    assert a.train_losses != c.train_losses
    sa = load_checkpoint(a.last_checkpoint)["model_state"]
    sb = load_checkpoint(b.last_checkpoint)["model_state"]
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_resumed_run_equals_uninterrupted_run(small_dataset, tmp_path):
    common = ("train.val_every=2", "train.checkpoint_every=2", "train.lr_halve_every=3")
    whole = train(tiny_recipe(small_dataset, tmp_path / "whole", "train.steps=8", *common),
                  progress=False)
    part = train(tiny_recipe(small_dataset, tmp_path / "part", "train.steps=4", *common),
                 progress=False)
    rest = train(tiny_recipe(small_dataset, tmp_path / "part", "train.steps=8", *common),
                 resume=True, progress=False)
    assert rest.resumed_from == 4 and rest.step == 8
    assert part.train_losses + rest.train_losses == whole.train_losses
    a = load_checkpoint(whole.last_checkpoint)
    b = load_checkpoint(rest.last_checkpoint)
    assert all(torch.equal(a["model_state"][k], b["model_state"][k]) for k in a["model_state"])
    assert b["scheduler_state"]["last_epoch"] == 8
    assert [r["val_loss"] for r in _metrics(tmp_path / "part")] == \
        [r["val_loss"] for r in _metrics(tmp_path / "whole")]


def test_killed_run_resumes_and_finishes(small_dataset, tmp_path):
    run = tmp_path / "run"
    args = _cli_args(small_dataset, run, "train.steps=150", "train.checkpoint_every=10",
                     "train.val_every=50")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([*_neuralsynth(), "train", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not (run / "last.pt").exists():
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "no checkpoint appeared"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    killed_at = load_checkpoint(run / "last.pt")["step"]
    assert 10 <= killed_at < 150
    # What a kill in the middle of a checkpoint write leaves behind: a partial temp file.
    (run / ".last.pt.abc123.tmp.pt").write_bytes(b"PK\x03\x04partial")

    result = CliRunner().invoke(cli, ["train", *args, "--resume"])
    assert result.exit_code == 0, result.output
    assert f"resuming {run} from step {killed_at}" in result.output
    assert "trained to step 150" in result.output
    assert not list(run.glob(".*.tmp*"))
    assert load_checkpoint(run / "last.pt")["step"] == 150
    model = load_trained_model(run / "best.pt")
    assert model.instruments == ["grand_piano", "church_organ"]
    steps = [r["step"] for r in _metrics(run)]
    assert steps == [0, 50, 100, 150]                       # no duplicates after resuming

    again = CliRunner().invoke(cli, ["train", *args, "--resume"])
    assert again.exit_code == 0
    assert "already complete (step 150 of 150)" in again.output


def test_existing_run_needs_resume_and_same_model(trained_checkpoint, small_dataset):
    run = trained_checkpoint.parent
    base = _cli_args(small_dataset, run, "train.steps=40", "train.val_every=10",
                     "train.checkpoint_every=20")
    result = CliRunner().invoke(cli, ["train", *base])
    assert result.exit_code == 2 and "pass --resume" in result.output
    changed = CliRunner().invoke(cli, ["train", *base, "--set", "model.sequence.hidden_size=8",
                                       "--resume"])
    assert changed.exit_code == 2
    assert "differs from the run's in model.sequence.hidden_size" in changed.output


def test_bad_override_key_exits_2(tmp_path):
    proc = subprocess.run([*_neuralsynth(), "train", str(SMALL_RECIPE),
                           "--set", "train.stepz=5",
                           "--out", str(tmp_path / "run")], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "train.stepz" in proc.stderr and "did you mean 'steps'" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "run").exists()


def test_missing_dataset_is_a_one_line_error(tmp_path):
    result = CliRunner().invoke(cli, ["train", *_cli_args(tmp_path / "nowhere", tmp_path / "r")])
    assert result.exit_code == 1
    assert "does not exist" in result.output and "Traceback" not in result.output


def test_device_resolution():
    if torch.cuda.is_available():
        assert resolve_device("auto").type == "cuda"
    else:
        assert resolve_device("auto").type == "cpu"
        with pytest.raises(UsageError, match="no CUDA GPU"):
            resolve_device("cuda")
    with pytest.raises(UsageError, match="unknown device"):
        resolve_device("tpu7")


def test_dataset_without_validation_items(tmp_path):
    from tests.dataset_factory import make_dataset

    data = make_dataset(tmp_path / "ds", {"a": ("train", 1.0), "b": ("train", 0.8)})
    recipe = tiny_recipe(data, tmp_path / "run", "train.steps=4", "train.val_every=2",
                         "train.checkpoint_every=2")
    result = train(recipe, progress=False)
    assert result.step == 4 and result.best_val_loss is None and result.val_losses == []
    best = load_checkpoint(result.best_checkpoint)
    last = load_checkpoint(result.last_checkpoint)
    assert best["step"] == last["step"] == 4                # best.pt follows last.pt
    assert [r["val_loss"] for r in _metrics(tmp_path / "run")] == [None, None]
