"""What a resumable training run keeps in its directory, and how it is brought back.

A run directory holds ``last.pt`` (everything needed to continue), ``best.pt`` (the
model with the lowest validation loss), ``metrics.jsonl`` (one line per validation) and
``recipe.json``. Resuming must continue exactly where the run stopped: the random number
generators are saved and restored, the recipe may only change in settings that do not
alter the optimisation, and validation lines from steps that will be redone are dropped.
"""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neuralsynth.fileio import write_text_atomic

LAST = "last.pt"
BEST = "best.pt"
METRICS = "metrics.jsonl"
RECIPE_JSON = "recipe.json"
#: Keys that only a training checkpoint (``last.pt``) has; ``best.pt`` omits them.
RESUME_KEYS = ("optimizer_state", "scheduler_state", "rng_state")
# Settings that may change between a run and its resumption; everything else must match.
_MAY_CHANGE = {("name",), ("data", "dataset"), ("train", "steps"), ("train", "val_every"),
               ("train", "checkpoint_every"), ("train", "device"), ("train", "out"),
               ("train", "precision")}


@dataclasses.dataclass(frozen=True)
class RunFiles:
    """The paths of a run directory's files."""

    run_dir: Path

    @property
    def last(self) -> Path:
        return self.run_dir / LAST

    @property
    def best(self) -> Path:
        return self.run_dir / BEST

    @property
    def metrics(self) -> Path:
        return self.run_dir / METRICS

    @property
    def recipe(self) -> Path:
        return self.run_dir / RECIPE_JSON


# ----------------------------------------------------------------------------- RNG states
def capture_rng_state(sampler_gen: torch.Generator) -> dict[str, Any]:
    """The states of torch, numpy, python, CUDA (when in use) and the batch sampler."""
    # Only tensors, numbers, strings and containers: loadable with weights_only=True.
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "sampler": sampler_gen.get_state(),
             "numpy": [kind, torch.from_numpy(np.asarray(keys, dtype=np.int64)), int(pos),
                       int(has_gauss), float(gauss)],
             "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any], sampler_gen: torch.Generator) -> None:
    """Undo :func:`capture_rng_state`; the checkpoint turned tuples into lists."""
    torch.set_rng_state(state["torch"])
    sampler_gen.set_state(state["sampler"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(list(state["cuda"]))


# ----------------------------------------------------------------- recipe compatibility
def _flatten(d: Any, prefix: tuple = ()) -> dict[tuple, Any]:
    if isinstance(d, dict):
        out: dict[tuple, Any] = {}
        for k, v in d.items():
            out.update(_flatten(v, prefix + (k,)))
        return out
    return {prefix: d}


def recipe_changes(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Dotted keys whose values differ in a way that forbids resuming."""
    a, b = _flatten(saved), _flatten(current)
    changed = []
    for key in sorted(set(a) | set(b), key=lambda k: tuple(map(str, k))):
        if any(key[:len(m)] == m for m in _MAY_CHANGE):
            continue
        if a.get(key, "<absent>") != b.get(key, "<absent>"):
            changed.append(".".join(map(str, key)))
    return changed


# --------------------------------------------------------------------------- metrics log
class MetricsLog:
    """``metrics.jsonl``: one JSON object per validation.

    The whole file is rewritten atomically on every change (it is small), so a kill
    leaves the previous complete version rather than a half line.
    """

    def __init__(self, path: Path | None, lines: list[str]):
        self.path = path
        self._lines = lines
        self._write()

    @classmethod
    def discard(cls) -> "MetricsLog":
        """A log that keeps nothing: the ranks of a distributed run other than rank 0."""
        return cls(None, [])

    @classmethod
    def fresh(cls, path: Path) -> "MetricsLog":
        """An empty log, replacing what an earlier attempt may have left."""
        return cls(path, [])

    @classmethod
    def resumed(cls, path: Path, step: int) -> "MetricsLog":
        """The existing log cut back to lines for steps ``<= step``.

        Lines after the resume point came from steps that are about to be redone; a line
        cut short by a kill is not valid JSON and is dropped too.
        """
        kept = []
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if isinstance(rec, dict) and rec.get("step", 0) <= step:
                    kept.append(json.dumps(rec))
        return cls(path, kept)

    def append(self, record: dict[str, Any]) -> None:
        self._lines.append(json.dumps(record))
        self._write()

    def _write(self) -> None:
        if self.path is None:
            return
        write_text_atomic(self.path, "".join(line + "\n" for line in self._lines))


# ------------------------------------------------------------------------- stale files
def remove_stale_temps(run_dir: Path) -> None:
    """Delete temporary files of an atomic write that a kill interrupted."""
    for name in (LAST, BEST, METRICS, RECIPE_JSON):
        for tmp in run_dir.glob(f".{name}.*.tmp*"):
            try:
                tmp.unlink()
            except OSError:
                pass
