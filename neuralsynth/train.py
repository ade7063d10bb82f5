"""Mel2Mel training: the loop behind ``neuralsynth train``.

One call of :func:`train` runs a recipe to ``train.steps`` optimisation steps::

    batch = random crops of the training items         (SegmentSampler, seeded)
    S_hat = exp(model(x, embed(one_hot(instrument))))  (model predicts log mel)
    loss  = LOSSES[recipe.loss](S_hat, S, mask)        (on linear mel magnitudes)
    Adam step, gradient-norm clipping, lr halved every lr_halve_every steps

Outputs in the run directory (all written atomically, so a kill at any moment leaves
the previous complete version in place):

- ``last.pt``: everything needed to continue (model, optimizer, scheduler, step, RNG
  states of torch/numpy/python and the batch sampler, best validation loss)
- ``best.pt``: the model with the lowest validation loss so far
- ``metrics.jsonl``: one JSON line per validation
- ``recipe.json``: the resolved recipe of the run

``resume=True`` continues from ``last.pt``; because the RNG states are restored the
resumed run draws the same batches as an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import signal
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .checkpoint import load_checkpoint, save_checkpoint
from .errors import NeuralsynthError, UsageError
from .fileio import write_text_atomic

LAST = "last.pt"
BEST = "best.pt"
METRICS = "metrics.jsonl"
RECIPE_JSON = "recipe.json"
_RESUME_KEYS = ("optimizer_state", "scheduler_state", "rng_state")
# Settings that may change between a run and its resumption; everything else must match.
_MAY_CHANGE = {("name",), ("data", "dataset"), ("train", "steps"), ("train", "val_every"),
               ("train", "checkpoint_every"), ("train", "device"), ("train", "out")}


class TrainingError(NeuralsynthError):
    """Training cannot go on (diverged loss)."""


@dataclasses.dataclass
class TrainResult:
    """Outcome of :func:`train`.

    ``train_losses`` has one value per step run in this call; ``val_losses`` holds
    ``(step, loss)`` per validation in this call.
    """

    run_dir: Path
    step: int
    steps: int
    last_checkpoint: Path
    best_checkpoint: Path
    best_val_loss: float | None
    train_losses: list[float]
    val_losses: list[tuple[int, float]]
    resumed_from: int | None
    already_complete: bool
    device: str


# ------------------------------------------------------------------------------ helpers
def resolve_device(name: str | None) -> torch.device:
    """``auto`` → ``cuda`` when a GPU is usable, else ``cpu``; checks explicit requests."""
    name = (name or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise UsageError(f"unknown device '{name}' (use auto, cpu, cuda or cuda:N)") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"device '{name}' requested but no CUDA GPU is available "
                             f"(use --device cpu or auto)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise UsageError(f"device '{name}' does not exist ({torch.cuda.device_count()} "
                             f"GPU(s) present)")
    elif dev.type != "cpu":
        raise UsageError(f"unsupported device '{name}' (use auto, cpu, cuda or cuda:N)")
    return dev


def _rng_state(sampler_gen: torch.Generator) -> dict[str, Any]:
    # Only tensors, numbers, strings and containers: loadable with weights_only=True.
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "sampler": sampler_gen.get_state(),
             "numpy": [kind, torch.from_numpy(np.asarray(keys, dtype=np.int64)), int(pos),
                       int(has_gauss), float(gauss)],
             "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any], sampler_gen: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    sampler_gen.set_state(state["sampler"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(list(state["cuda"]))


def _flatten(d: Any, prefix: tuple = ()) -> dict[tuple, Any]:
    if isinstance(d, dict):
        out: dict[tuple, Any] = {}
        for k, v in d.items():
            out.update(_flatten(v, prefix + (k,)))
        return out
    return {prefix: d}


def _recipe_changes(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Dotted keys whose values differ in a way that forbids resuming."""
    a, b = _flatten(saved), _flatten(current)
    changed = []
    for key in sorted(set(a) | set(b), key=lambda k: tuple(map(str, k))):
        if any(key[:len(m)] == m for m in _MAY_CHANGE):
            continue
        if a.get(key, "<absent>") != b.get(key, "<absent>"):
            changed.append(".".join(map(str, key)))
    return changed


def _read_metrics(path: Path, up_to_step: int | None) -> list[str]:
    """Lines of ``metrics.jsonl`` for steps ``<= up_to_step`` (all if None).

    Lines after the resume point came from steps that are about to be redone; a line
    cut short by a kill is not valid JSON and is dropped too.
    """
    if not path.is_file():
        return []
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and (up_to_step is None or rec.get("step", 0) <= up_to_step):
            kept.append(json.dumps(rec))
    return kept


def _remove_stale_temps(run_dir: Path) -> None:
    """Delete temporary files of an atomic write that a kill interrupted."""
    for name in (LAST, BEST, METRICS, RECIPE_JSON):
        for tmp in run_dir.glob(f".{name}.*.tmp*"):
            try:
                tmp.unlink()
            except OSError:
                pass


class _StopRequest:
    """First Ctrl-C: finish the current step, save last.pt, then stop. Second: default."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> "_StopRequest":
        import threading

        if threading.current_thread() is threading.main_thread():
            self._previous = signal.getsignal(signal.SIGINT)
            signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        self.requested = True
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


# -------------------------------------------------------------------------------- train
def train(recipe: Any, *, resume: bool = False, out_dir: str | os.PathLike | None = None,
          progress: bool = True, device: str | None = None,
          log: Callable[[str], None] | None = None) -> TrainResult:
    """Train the recipe's Mel2Mel; returns a :class:`TrainResult`.

    ``out_dir`` overrides ``recipe.train.out``; ``device`` overrides ``recipe.train.device``.
    Without ``resume`` a run directory that already has ``last.pt`` is an error; with it
    training continues from there (or starts fresh when no checkpoint exists yet), and a
    finished run is reported as ``already_complete``.
    """
    from tqdm import tqdm

    from .audio import N_MELS
    from .data.dataset import FeatureSet, SegmentSampler, segment_frames, validation_batches
    from .data.splits import TRAIN, VAL
    from .losses.base import LOSSES
    from .model import Mel2Mel

    def say(msg: str) -> None:
        if progress:            # printed above the progress bar instead of through it
            tqdm.write(msg, file=sys.stderr)
        elif log is not None:
            log(msg)

    cfg = recipe.train
    run_dir = Path(out_dir if out_dir is not None else cfg.out)
    last_path, best_path, metrics_path = run_dir / LAST, run_dir / BEST, run_dir / METRICS
    recipe_dict = recipe.to_dict()
    instruments = list(recipe.data.instruments)

    saved: dict[str, Any] | None = None
    if last_path.exists():
        if not resume:
            raise UsageError(f"{run_dir} already holds a training run ({LAST}); pass --resume "
                             f"to continue it or --out DIR to start a new one")
        saved = load_checkpoint(last_path, require=("format", "model_state", "recipe",
                                                    "instruments", "step") + _RESUME_KEYS)
        changes = _recipe_changes(saved["recipe"], recipe_dict)
        if changes:
            raise UsageError(f"cannot resume {run_dir}: the recipe differs from the run's in "
                             f"{', '.join(changes)}")
        if int(saved["step"]) >= cfg.steps:
            best = saved.get("best_val_loss")
            return TrainResult(run_dir, int(saved["step"]), cfg.steps, last_path, best_path,
                               float(best) if best is not None else None, [], [],
                               int(saved["step"]), True, str(device or cfg.device))
    elif resume:
        say(f"no {LAST} in {run_dir} yet; starting from step 0")

    dev = resolve_device(device or cfg.device)
    run_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(run_dir)

    # -- build everything from the seed (resuming overwrites the states below) ---------
    random.seed(cfg.seed)
    np.random.seed(cfg.seed % 2**32)
    torch.manual_seed(cfg.seed)
    model = Mel2Mel.from_spec(recipe.model, n_instruments=len(instruments), n_mels=N_MELS)
    loss_fn = LOSSES.build(recipe.loss)
    features = FeatureSet(recipe.data.dataset, instruments, model.encoder, progress=progress)
    train_examples, val_examples = features.examples(TRAIN), features.examples(VAL)
    length = segment_frames(cfg.segment_samples)
    sampler_gen = torch.Generator().manual_seed(cfg.seed)
    sampler = SegmentSampler(train_examples, length, cfg.batch_size, sampler_gen)
    val_batches = validation_batches(val_examples, length, cfg.batch_size)   # kept on the CPU
    if not val_batches:
        say("the dataset has no validation items; best.pt will follow last.pt")
    model.to(dev)
    loss_fn.to(dev)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    if cfg.lr_halve_every > 0:
        scheduler: Any = torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.lr_halve_every,
                                                         gamma=0.5)
    else:
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    eye = torch.eye(len(instruments), device=dev)

    step = 0
    best_val: float | None = None
    resumed_from: int | None = None
    if saved is not None:
        try:
            model.load_state_dict(saved["model_state"])
            optimizer.load_state_dict(saved["optimizer_state"])
            scheduler.load_state_dict(saved["scheduler_state"])
            _set_rng_state(saved["rng_state"], sampler_gen)
        except (RuntimeError, KeyError, ValueError, TypeError) as exc:
            raise UsageError(f"cannot resume from {last_path}: its state does not fit this "
                             f"run ({' '.join(str(exc).split())[:200]})") from None
        step = resumed_from = int(saved["step"])
        best_val = saved.get("best_val_loss")
        metric_lines = _read_metrics(metrics_path, step)
        say(f"resuming {run_dir} from step {step}")
    else:
        metric_lines = []
        for stale in (best_path,):     # left by an earlier attempt that never checkpointed
            if stale.exists():
                stale.unlink()
    write_text_atomic(metrics_path, "".join(line + "\n" for line in metric_lines))
    write_text_atomic(run_dir / RECIPE_JSON, json.dumps(recipe_dict, indent=1) + "\n")
    providers = model.providers()
    try:
        providers["loss"] = {recipe.loss["name"]: list(LOSSES.provider(recipe.loss["name"]))}
    except KeyError:
        pass

    def payload(full: bool) -> dict[str, Any]:
        data = {"model_state": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                "recipe": recipe_dict, "instruments": instruments, "providers": providers,
                "step": step, "best_val_loss": best_val}
        if full:
            data.update(optimizer_state=optimizer.state_dict(),
                        scheduler_state=scheduler.state_dict(),
                        rng_state=_rng_state(sampler_gen))
        return data

    def validate() -> float:
        model.eval()
        total = frames = 0.0
        with torch.no_grad():
            for vb in val_batches:
                vb = vb.to(dev)
                t = model.embed(eye[vb.instrument])
                pred = torch.exp(model(vb.x, t))
                n = float(vb.mask.sum())
                total += float(loss_fn(pred, vb.mel, vb.mask)) * n
                frames += n
        model.train()
        return total / max(frames, 1.0)

    # -- the loop --------------------------------------------------------------------
    train_losses: list[float] = []
    val_history: list[tuple[int, float]] = []
    since_val: list[float] = []
    val_loss: float | None = None
    t_start = time.perf_counter()
    steps_at_start = step
    if saved is None and val_batches:
        # The untrained model's loss: the baseline the metrics of this run start from.
        val_loss = validate()
        val_history.append((0, val_loss))
        metric_lines.append(json.dumps({"step": 0, "train_loss": None, "val_loss": val_loss,
                                        "lr": optimizer.param_groups[0]["lr"],
                                        "elapsed_s": 0.0, "steps_per_s": None}))
        write_text_atomic(metrics_path, "".join(line + "\n" for line in metric_lines))
    model.train()
    with _StopRequest() as stop, tqdm(total=cfg.steps, initial=step, desc="train", unit="step",
                                      disable=not progress, dynamic_ncols=True) as bar:
        while step < cfg.steps:
            batch = sampler.sample().to(dev)
            t = model.embed(eye[batch.instrument])
            pred = torch.exp(model(batch.x, t))
            loss = loss_fn(pred, batch.mel, batch.mask)
            if not torch.isfinite(loss):
                raise TrainingError(f"training diverged at step {step + 1} (loss is "
                                    f"{float(loss)}); try a lower train.lr or train.grad_clip")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            scheduler.step()
            step += 1
            value = float(loss.detach())
            train_losses.append(value)
            since_val.append(value)
            bar.update(1)

            finished = step == cfg.steps
            if step % cfg.val_every == 0 or finished:
                val_loss = validate() if val_batches else None
                elapsed = time.perf_counter() - t_start
                record = {"step": step, "train_loss": float(np.mean(since_val)),
                          "val_loss": val_loss, "lr": optimizer.param_groups[0]["lr"],
                          "elapsed_s": round(elapsed, 3),
                          "steps_per_s": round((step - steps_at_start) / max(elapsed, 1e-9), 3)}
                since_val = []
                if val_loss is not None:
                    val_history.append((step, val_loss))
                    if best_val is None or val_loss < best_val:
                        best_val = val_loss
                        save_checkpoint(best_path, payload(full=False))
                metric_lines.append(json.dumps(record))
                write_text_atomic(metrics_path, "".join(line + "\n" for line in metric_lines))
            if step % cfg.checkpoint_every == 0 or finished or stop.requested:
                if not val_batches:
                    save_checkpoint(best_path, payload(full=False))
                save_checkpoint(last_path, payload(full=True))
            postfix = {"loss": f"{value:.4f}"}
            if val_loss is not None:
                postfix["val"] = f"{val_loss:.4f}"
            bar.set_postfix(postfix, refresh=False)
            if stop.requested:
                say(f"stopped at step {step}; {last_path} saved (continue with --resume)")
                raise KeyboardInterrupt
    return TrainResult(run_dir, step, cfg.steps, last_path, best_path, best_val, train_losses,
                       val_history, resumed_from, False, str(dev))


__all__ = ["train", "TrainResult", "TrainingError", "resolve_device"]
