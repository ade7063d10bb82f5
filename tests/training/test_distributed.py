"""Distributed training under torchrun (gloo, 2 CPU processes): the step equals a single
process's step on the same global batch, a killed run resumes (with the same or another
number of processes), and one rank's failure stops every rank with one message."""

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

from neuralsynth.checkpoint import load_checkpoint
from neuralsynth.data.batches import SegmentSampler
from neuralsynth.data.features import Example
from neuralsynth.device import resolve_device
from neuralsynth.training.distributed import World
from neuralsynth.training.loop import _build_trainer
from tests.conftest import REPO, SMALL_RECIPE, TINY_TRAIN, tiny_recipe

HERE = Path(__file__).resolve().parent
# The gradient of one distributed step against one single-process step: the same sums
# in another order (two partial sums of float32 then their sum), so they agree to a few
# float32 ulps of the largest gradient, far inside this bound.
GRAD_RTOL = 1e-5


def _torchrun(nproc: int, *args: str) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc_per_node={nproc}", *args]


def _env() -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    env.pop("CI", None)
    return env


def _train_args(dataset: Path, out: Path, *overrides: str) -> list[str]:
    args = ["-m", "neuralsynth", "train", str(SMALL_RECIPE), "--set",
            f"data.dataset={dataset}", "--out", str(out), "--no-progress"]
    for o in (*TINY_TRAIN, *overrides):
        args += ["--set", o]
    return args


# ------------------------------------------------------------------------- unit parts
def test_world_shares_cover_the_batch_once():
    for n in (2, 7, 16):
        for size in (1, 2, 3):
            parts = [World(r, size).share(n) for r in range(size)]
            assert parts[0][0] == 0 and parts[-1][1] == n
            assert all(a[1] == b[0] for a, b in zip(parts, parts[1:]))
            assert max(hi - lo for lo, hi in parts) - min(hi - lo for lo, hi in parts) <= 1


def _examples() -> list[Example]:
    g = torch.Generator().manual_seed(0)
    return [Example(id=f"e{i}", x=torch.rand(n, 4, generator=g),
                    mel=torch.rand(n, 3, generator=g), instrument=i % 2)
            for i, n in enumerate((30, 90, 200, 45))]


def test_shards_are_the_batch_and_advance_the_generator_alike():
    whole = SegmentSampler(_examples(), 64, 7, torch.Generator().manual_seed(3)).sample()
    shards, shares, states = [], [], []
    for lo, hi in [World(r, 2).share(7) for r in range(2)]:
        sampler = SegmentSampler(_examples(), 64, 7, torch.Generator().manual_seed(3))
        batch, share = sampler.sample_shard(lo, hi)
        shards.append(batch)
        shares.append(share)
        states.append(sampler.generator.get_state())
    assert torch.equal(torch.cat([b.x for b in shards]), whole.x)
    assert torch.equal(torch.cat([b.mask for b in shards]), whole.mask)
    # The share is of the real (unpadded) frames: crops of short examples are padded.
    assert shares == pytest.approx([float(b.mask.sum()) / float(whole.mask.sum())
                                    for b in shards])
    assert 0 < shares[0] < 1 and sum(shares) == pytest.approx(1.0)
    assert torch.equal(states[0], states[1])


def test_bf16_autocast_runs_the_loss(small_dataset, tmp_path):
    # train.precision bf16 is refused off CUDA; the autocast path itself is device-generic.
    recipe = tiny_recipe(small_dataset, tmp_path / "run")
    trainer = _build_trainer(recipe, resolve_device("cpu"), World(), progress=False,
                             say=lambda m: None)
    batch = trainer.sampler.sample()
    with torch.no_grad():
        fp32 = float(trainer._loss_of(batch))
        trainer.precision = "bf16"
        bf16 = trainer._loss_of(batch)
    assert bf16.dtype == torch.float32 and torch.isfinite(bf16)
    assert float(bf16) == pytest.approx(fp32, rel=0.05) and float(bf16) != fp32


def test_bf16_off_cuda_is_refused_before_work(small_dataset, tmp_path):
    from neuralsynth.errors import UsageError
    from neuralsynth.training.loop import train

    recipe = tiny_recipe(small_dataset, tmp_path / "run", "train.precision=bf16")
    with pytest.raises(UsageError, match="bf16 needs a CUDA device"):
        train(recipe, progress=False)
    assert not (tmp_path / "run").exists()


def test_ranks_leaving_together_wait_for_each_other(tmp_path):
    # Rank 1 must not tear down its connections while rank 0 is still busy (writing its
    # checkpoint): that early exit aborted a rank on CI.
    proc = subprocess.run(_torchrun(2, str(HERE / "ddp_close_worker.py"), str(tmp_path)),
                          env=_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert float((tmp_path / "rank1").read_text()) >= 1.0      # rank 0 is busy 1.5 s


# ------------------------------------------------------------------ one step, 2 ranks
@pytest.mark.parametrize("batch_size", [8, 7])
def test_distributed_gradient_equals_single_process(small_dataset, tmp_path, batch_size):
    # 512-frame crops are longer than the 3 s pieces, so crops carry different numbers of
    # real frames and the per-rank weighting matters; 7 splits unevenly (3 + 4).
    recipe = tiny_recipe(small_dataset, tmp_path / "run", f"train.batch_size={batch_size}",
                         "train.segment_samples=65536")
    recipe_json = tmp_path / "recipe.json"
    recipe_json.write_text(json.dumps(recipe.to_dict()))
    out = tmp_path / "grads.pt"
    proc = subprocess.run(_torchrun(2, str(HERE / "ddp_gradient_worker.py"), str(recipe_json),
                                    str(out)), env=_env(), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    shared = torch.load(out, weights_only=True)
    assert shared["world_size"] == 2

    trainer = _build_trainer(recipe, resolve_device("cpu"), World(), progress=False,
                             say=lambda m: None)
    loss = trainer._batch_loss(trainer.sampler.sample())
    loss.backward()
    assert shared["loss"] == pytest.approx(float(loss.detach()), rel=1e-6)
    grads = dict(trainer.model.named_parameters())
    assert set(grads) == set(shared["grads"])
    scale = max(float(p.grad.abs().max()) for p in grads.values())
    assert scale > 0
    for name, p in grads.items():
        assert float((p.grad - shared["grads"][name]).abs().max()) <= GRAD_RTOL * scale, name


# ------------------------------------------------------------- killed run, resumed
def _params(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path)["model_state"]


def _max_diff(a: dict, b: dict) -> float:
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def _wait_for_step(last: Path, step: int, proc: subprocess.Popen, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the run ended before it could be killed"
        if last.is_file():
            got = int(load_checkpoint(last)["step"])
            if got >= step:
                return got
        time.sleep(0.2)
    raise AssertionError(f"no checkpoint of step {step} within {timeout} s")


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (torchrun starts its workers in sessions of their own,
    so killing torchrun's process group would leave them running)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        out += kids
        todo += kids
    return out


def _kill_all(proc: subprocess.Popen) -> None:
    for pid in [*_descendants(proc.pid), proc.pid]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.communicate(timeout=60)


def test_killed_two_process_run_resumes(small_dataset, tmp_path):
    steps = ["train.steps=300", "train.checkpoint_every=10", "train.val_every=100"]
    # The reference: the same run, never interrupted.
    ref = subprocess.run(_torchrun(2, *_train_args(small_dataset, tmp_path / "ref", *steps)),
                         env=_env(), capture_output=True, text=True, timeout=300)
    assert ref.returncode == 0, ref.stderr[-3000:]

    run = tmp_path / "run"
    proc = subprocess.Popen(_torchrun(2, *_train_args(small_dataset, run, *steps)),
                            env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    try:
        killed_at = _wait_for_step(run / "last.pt", 10, proc, timeout=240)
    finally:
        _kill_all(proc)                           # torchrun and both ranks, mid-run
    kept = int(load_checkpoint(run / "last.pt")["step"])          # an intact checkpoint
    assert killed_at <= kept < 300 and kept % 10 == 0

    resumed = subprocess.run(_torchrun(2, *_train_args(small_dataset, run, *steps),
                                       "--resume"), env=_env(), capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming {run} from step {kept}" in resumed.stderr
    assert "trained to step 300" in resumed.stdout
    # Batches and their split over ranks are replayed exactly: the same model.
    assert _max_diff(_params(run / "last.pt"), _params(tmp_path / "ref" / "last.pt")) == 0.0
    records = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [0, 100, 200, 300]


def test_resume_with_another_number_of_processes(small_dataset, tmp_path):
    steps = ["train.checkpoint_every=5", "train.val_every=10"]
    ref = tmp_path / "ref"
    two = subprocess.run(_torchrun(2, *_train_args(small_dataset, ref, "train.steps=20",
                                                   *steps)),
                         env=_env(), capture_output=True, text=True, timeout=300)
    assert two.returncode == 0, two.stderr[-3000:]
    # 10 steps on 2 processes, then 10 more in one process (a plain `neuralsynth train`).
    run = tmp_path / "run"
    first = subprocess.run(_torchrun(2, *_train_args(small_dataset, run, "train.steps=10",
                                                     *steps)),
                           env=_env(), capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-3000:]
    second = subprocess.run([sys.executable, *_train_args(small_dataset, run, "train.steps=20",
                                                          *steps), "--resume"],
                            env=_env(), capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "resuming" in second.stderr and "trained to step 20" in second.stdout
    # Same global batches; only the order of float sums differs.
    a, b = _params(run / "last.pt"), _params(ref / "last.pt")
    assert _max_diff(a, b) < 1e-4
    val = [json.loads(x)["val_loss"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    val_ref = [json.loads(x)["val_loss"] for x in (ref / "metrics.jsonl").read_text().splitlines()]
    assert val == pytest.approx(val_ref, rel=1e-4)


def test_ctrl_c_stops_every_rank_at_one_step(small_dataset, tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen(_torchrun(2, *_train_args(small_dataset, run, "train.steps=100000",
                                                      "train.checkpoint_every=100000")),
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 120
    while not (run / "metrics.jsonl").is_file():          # training has started
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.2)
    time.sleep(2.0)
    proc.send_signal(signal.SIGINT)                        # what Ctrl-C sends torchrun
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0 and (run / "last.pt").is_file(), err[-3000:]
    saved = int(load_checkpoint(run / "last.pt")["step"])
    assert saved > 0
    # torchrun passes the signal to both ranks; they agree on the step and rank 0 saves.
    assert err.count(f"stopped at step {saved};") == 1, err[-2000:]
    assert err.count("interrupted") == 1


# --------------------------------------------------------------------------- failures
def test_a_failing_rank_stops_every_rank_with_one_line(small_dataset, tmp_path):
    run = tmp_path / "run"
    proc = subprocess.run(_torchrun(2, str(HERE / "ddp_failing_rank.py"),
                                    *_train_args(small_dataset, run, "train.steps=50")[2:]),
                          env=dict(_env(), FAIL_RANK="1", FAIL_STEP="4"),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    ours = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert ours == ["error: rank 1: cannot read crop (injected failure at step 4)"]
    # torchrun's own report follows; the failing rank exited first, so it is the root cause.
    root = proc.stderr.split("Root Cause", 1)[1]
    assert "rank      : 1" in root.split("====")[0]
    ours_before = proc.stderr.split("Traceback", 1)[0]
    assert "error: rank 1" in ours_before


def test_diverged_run_is_reported_once(small_dataset, tmp_path):
    proc = subprocess.run(_torchrun(2, *_train_args(small_dataset, tmp_path / "run",
                                                    "train.steps=5", "train.lr=1e30",
                                                    "loss.name=abs_mse")),
                          env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    ours = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(ours) == 1 and "training diverged at step" in ours[0], proc.stderr[-2000:]


def test_batch_smaller_than_the_world_is_refused(small_dataset, tmp_path):
    proc = subprocess.run(_torchrun(2, *_train_args(small_dataset, tmp_path / "run",
                                                    "train.batch_size=1")),
                          env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    ours = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert ours == ["error: train.batch_size 1 is the global batch and must be at least "
                    "the number of processes (2)"]
    assert not (tmp_path / "run").exists()
