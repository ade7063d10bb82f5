"""The training loop behind ``neuralsynth train``.

One call of :func:`train` runs a recipe to ``train.steps`` optimisation steps of the
trainer its ``train.task`` selects (:mod:`neuralsynth.training.tasks`: the Mel2Mel
trainer, or the trainer the recipe's vocoder declares), validating every
``train.val_every`` and checkpointing every ``train.checkpoint_every`` steps.

Outputs in the run directory (all written atomically, so a kill at any moment leaves
the previous complete version in place):

- ``last.pt``: everything needed to continue (model, optimizer, scheduler, step, RNG
  states of torch/numpy/python and the batch sampler, best validation loss)
- ``best.pt``: the model with the lowest validation loss so far
- ``metrics.jsonl``: one JSON line per validation
- ``recipe.json``: the resolved recipe of the run

``resume=True`` continues from ``last.pt``; because the RNG states are restored the
resumed run draws the same batches as an uninterrupted one (see :mod:`.run_state`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from neuralsynth.checkpoint import load_checkpoint, save_checkpoint
from neuralsynth.device import resolve_device
from neuralsynth.errors import NeuralsynthError, UsageError
from neuralsynth.fileio import write_text_atomic
from neuralsynth.training.base import TrainerBase, TrainingError
from neuralsynth.training.distributed import World, from_environment, rank_device
from neuralsynth.training.run_state import (
    LAST,
    RESUME_KEYS,
    MetricsLog,
    RunFiles,
    recipe_changes,
    remove_stale_temps,
)
from neuralsynth.training.stop_request import StopRequest
from neuralsynth.training.tasks import trainer_for


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


@dataclasses.dataclass
class _Progress:
    """Where the run stands, and what this call of :func:`train` has seen of it."""

    step: int
    best_val: float | None
    resumed_from: int | None
    metrics: MetricsLog
    train_losses: list[float] = dataclasses.field(default_factory=list)
    val_history: list[tuple[int, float]] = dataclasses.field(default_factory=list)
    since_val: list[float] = dataclasses.field(default_factory=list)
    val_loss: float | None = None        # the latest, shown on the progress bar
    started: float = dataclasses.field(default_factory=time.perf_counter)
    first_step: int = dataclasses.field(init=False)   # steps/s counts this call's steps only

    def __post_init__(self) -> None:
        self.first_step = self.step


def train(recipe: Any, *, resume: bool = False, out_dir: str | os.PathLike | None = None,
          progress: bool = True, device: str | None = None,
          log: Callable[[str], None] | None = None) -> TrainResult:
    """Train the recipe's Mel2Mel (or, with ``train.task: vocoder``, its vocoder); returns
    a :class:`TrainResult`.

    ``out_dir`` overrides ``recipe.train.out``; ``device`` overrides ``recipe.train.device``.
    Without ``resume`` a run directory that already has ``last.pt`` is an error; with it
    training continues from there (or starts fresh when no checkpoint exists yet), and a
    finished run is reported as ``already_complete``.

    Under ``torchrun`` this process is one rank of a distributed run
    (:mod:`.distributed`): ``train.batch_size`` is the global batch, rank 0 alone prints
    and writes files, and the others return the same result.
    """
    cfg = recipe.train
    dev = resolve_device(device or cfg.device)
    if cfg.precision == "bf16" and dev.type != "cuda":
        raise UsageError(f"train.precision bf16 needs a CUDA device (this run trains on "
                         f"{dev}); use fp32 on the CPU")
    world = from_environment(dev)
    together = False                   # every rank leaves at this same point
    try:
        result = _train_as(recipe, world, rank_device(dev, world), resume=resume,
                           out_dir=out_dir, progress=progress, log=log)
        together = True
        return result
    except _AgreedStop:
        together = True
        raise
    except NeuralsynthError as exc:
        # Errors every rank meets alike are printed once, by rank 0.
        if world.distributed and not (world.is_main or getattr(exc, "rank_local", False)):
            exc.silent = True
        raise
    finally:
        world.close(together)


def _train_as(recipe: Any, world: World, dev: Any, *, resume: bool,
              out_dir: str | os.PathLike | None, progress: bool,
              log: Callable[[str], None] | None) -> TrainResult:
    progress = progress and world.is_main
    say = _messenger(progress, log if world.is_main else None)
    cfg = recipe.train
    if world.distributed and cfg.batch_size < world.world_size:
        raise UsageError(f"train.batch_size {cfg.batch_size} is the global batch and must be "
                         f"at least the number of processes ({world.world_size})")
    files = RunFiles(Path(out_dir if out_dir is not None else cfg.out))
    saved = _checkpoint_to_resume(files, recipe.to_dict(), resume, say)
    if saved is not None and int(saved["step"]) >= cfg.steps:
        return _already_complete(files, saved, cfg.steps, str(dev))

    if world.is_main:
        files.run_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(files.run_dir)
    trainer = _build_trainer(recipe, dev, world, progress=progress, say=say)
    if world.distributed:
        say(f"distributed run: {world.world_size} processes ({world.backend}), global batch "
            f"{cfg.batch_size}")
    run = _start_or_resume(trainer, saved, files, say, world)
    _train_to(cfg, trainer, run, files, progress=progress, say=say, world=world)
    return TrainResult(files.run_dir, run.step, cfg.steps, files.last, files.best, run.best_val,
                       run.train_losses, run.val_history, run.resumed_from, False, str(dev))


def _build_trainer(recipe: Any, dev: Any, world: World, *, progress: bool,
                   say: Callable[[str], None]) -> TrainerBase:
    """The recipe's trainer on this rank. Rank 0 builds first, so dataset features are
    computed and cached once; the other ranks then read the cache."""
    cls = trainer_for(recipe)
    if world.is_main:
        trainer = cls(recipe, dev, progress=progress, say=say)
        world.barrier()
    else:
        world.barrier()
        trainer = cls(recipe, dev, progress=False, say=say)
    if world.distributed and not hasattr(trainer.sampler, "sample_shard"):
        raise UsageError(f"{cls.__name__} cannot train across processes: its batch sampler "
                         f"has no sample_shard(lo, hi); run it in one process")
    trainer.world = world
    return trainer


# ------------------------------------------------------------------- run dir / resume
def _messenger(progress: bool, log: Callable[[str], None] | None) -> Callable[[str], None]:
    from tqdm import tqdm

    def say(msg: str) -> None:
        if progress:            # printed above the progress bar instead of through it
            tqdm.write(msg, file=sys.stderr)
        elif log is not None:
            log(msg)

    return say


def _checkpoint_to_resume(files: RunFiles, recipe_dict: dict[str, Any], resume: bool,
                          say: Callable[[str], None]) -> dict[str, Any] | None:
    """The run's ``last.pt`` when resuming it is allowed; None to start from step 0."""
    if not files.last.exists():
        if resume:
            say(f"no {LAST} in {files.run_dir} yet; starting from step 0")
        return None
    # Never silently overwrite a run: continuing it must be asked for.
    if not resume:
        raise UsageError(f"{files.run_dir} already holds a training run ({LAST}); pass "
                         f"--resume to continue it or --out DIR to start a new one")
    saved = load_checkpoint(files.last, require=("format", "model_state", "recipe",
                                                 "instruments", "step") + RESUME_KEYS)
    changes = recipe_changes(_with_defaults(saved["recipe"]), recipe_dict)
    if changes:
        raise UsageError(f"cannot resume {files.run_dir}: the recipe differs from the run's "
                         f"in {', '.join(changes)}")
    return saved


def _with_defaults(saved_recipe: Any) -> Any:
    """The saved recipe with the defaults of keys added to recipes since it was written
    (e.g. ``train.task``), so they do not count as changes; as saved if it no longer
    validates (the comparison then names what differs)."""
    from neuralsynth.errors import NeuralsynthError
    from neuralsynth.recipe.load import recipe_from_dict

    try:
        return recipe_from_dict(saved_recipe).to_dict()
    except NeuralsynthError:
        return saved_recipe


def _already_complete(files: RunFiles, saved: dict[str, Any], steps: int,
                      device: str) -> TrainResult:
    step = int(saved["step"])
    best = saved.get("best_val_loss")
    return TrainResult(files.run_dir, step, steps, files.last, files.best,
                       float(best) if best is not None else None, [], [], step, True, device)


def _start_or_resume(trainer: TrainerBase, saved: dict[str, Any] | None, files: RunFiles,
                     say: Callable[[str], None], world: World) -> _Progress:
    """Bring the trainer and the run directory to the step training starts from."""
    main = world.is_main
    if saved is not None:
        trainer.restore(saved, files.last)
        step = int(saved["step"])
        say(f"resuming {files.run_dir} from step {step}")
        run_metrics = MetricsLog.resumed(files.metrics, step) if main else MetricsLog.discard()
        best_val, resumed_from = saved.get("best_val_loss"), step
    else:
        # Left by an earlier attempt that never checkpointed: not a model of this run.
        if main and files.best.exists():
            files.best.unlink()
        run_metrics = MetricsLog.fresh(files.metrics) if main else MetricsLog.discard()
        step, best_val, resumed_from = 0, None, None
    # Seeded alike, the ranks already agree; this makes it so whatever a plugin did.
    world.broadcast_parameters(trainer.model)
    if main:
        write_text_atomic(files.recipe, json.dumps(trainer.recipe_dict, indent=1) + "\n")
    return _Progress(step=step, best_val=best_val, resumed_from=resumed_from,
                     metrics=run_metrics)


# ------------------------------------------------------------------------------- loop
class _AgreedStop(KeyboardInterrupt):
    """Ctrl-C, after every rank agreed on the step to stop at (so all leave together)."""


def _train_to(cfg: Any, trainer: TrainerBase, run: _Progress, files: RunFiles, *,
              progress: bool, say: Callable[[str], None], world: World) -> None:
    """Step until ``cfg.steps``, validating and checkpointing on schedule.

    A first Ctrl-C ends the loop after the current step with ``last.pt`` saved and then
    raises KeyboardInterrupt; in a distributed run the ranks agree on the step to stop
    at (any rank's request counts), so they leave the loop together.
    """
    from tqdm import tqdm

    if run.resumed_from is None and trainer.has_validation:
        _log_baseline(trainer, run)
    trainer.model.train()
    with StopRequest() as stop, tqdm(total=cfg.steps, initial=run.step, desc="train",
                                     unit="step", disable=not progress,
                                     dynamic_ncols=True) as bar:
        while run.step < cfg.steps:
            loss = trainer.train_step(run.step + 1)
            run.step += 1
            run.train_losses.append(loss)
            run.since_val.append(loss)
            bar.update(1)

            finished = run.step == cfg.steps
            stopping = stop.requested
            if world.distributed:
                stopping = world.sum([float(stopping)])[0] > 0
            if run.step % cfg.val_every == 0 or finished:
                _validate(trainer, run, files, world)
            if world.is_main and (run.step % cfg.checkpoint_every == 0 or finished
                                  or stopping):
                _save_last(trainer, run, files)
            postfix = {"loss": f"{loss:.4f}"}
            if run.val_loss is not None:
                postfix["val"] = f"{run.val_loss:.4f}"
            bar.set_postfix(postfix, refresh=False)
            if stopping:
                say(f"stopped at step {run.step}; {files.last} saved (continue with --resume)")
                raise _AgreedStop


def _log_baseline(trainer: TrainerBase, run: _Progress) -> None:
    """The untrained model's loss: the baseline the metrics of this run start from."""
    run.val_loss = trainer.validate()
    run.val_history.append((0, run.val_loss))
    run.metrics.append({"step": 0, "train_loss": None, "val_loss": run.val_loss,
                        "lr": trainer.lr, "elapsed_s": 0.0, "steps_per_s": None})


def _validate(trainer: TrainerBase, run: _Progress, files: RunFiles, world: World) -> None:
    """Log the train/validation losses since the last validation; keep a new best model
    (every rank validates its share; rank 0 writes)."""
    run.val_loss = trainer.validate()
    elapsed = time.perf_counter() - run.started
    record = {"step": run.step, "train_loss": float(np.mean(run.since_val)),
              "val_loss": run.val_loss, "lr": trainer.lr, "elapsed_s": round(elapsed, 3),
              "steps_per_s": round((run.step - run.first_step) / max(elapsed, 1e-9), 3)}
    run.since_val = []
    if run.val_loss is not None:
        run.val_history.append((run.step, run.val_loss))
        if run.best_val is None or run.val_loss < run.best_val:
            run.best_val = run.val_loss
            if world.is_main:
                save_checkpoint(files.best, trainer.checkpoint(
                    step=run.step, best_val=run.best_val, full=False))
    run.metrics.append(record)


def _save_last(trainer: TrainerBase, run: _Progress, files: RunFiles) -> None:
    if not trainer.has_validation:
        # Nothing to pick a best model by; best.pt follows last.pt so that rendering
        # from a run's best.pt works for every run.
        save_checkpoint(files.best, trainer.checkpoint(step=run.step, best_val=run.best_val,
                                                       full=False))
    save_checkpoint(files.last, trainer.checkpoint(step=run.step, best_val=run.best_val,
                                                   full=True))


__all__ = ["train", "TrainResult", "TrainingError"]
