"""Checkpoints: one file with weights, resolved recipe, instruments and training state.

Saving goes through a temporary file and an atomic rename, so a checkpoint on disk is
always complete, even when the process is killed in the middle of writing it. Loading
uses ``torch.load(weights_only=True)``: a checkpoint can hold tensors, numbers, strings
and containers of them, and nothing that runs code when unpickled.

Keys (``format`` 1): ``format``, ``model_state``, ``recipe`` (plain dict), ``instruments``,
``providers`` (``{kind: {name: [distribution, version]}}``), ``step``, ``best_val_loss``,
``neuralsynth_version``; training checkpoints add ``optimizer_state``,
``scheduler_state`` and ``rng_state``. Files from ``neuralsynth export`` have no resume
keys, may store the weights as float16 (cast back to float32 on loading) and add
``export`` (provenance; see :mod:`neuralsynth.export`).
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from .errors import CheckpointError, NeuralsynthError
from .fileio import atomic_path

FORMAT = 1
REQUIRED_KEYS = ("format", "model_state", "recipe", "instruments", "step")


def save_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> Path:
    """Write ``payload`` to ``path`` atomically; fills in ``format`` and the version.

    Raises :class:`CheckpointError` when a required key is missing (a checkpoint that
    could not be loaded later is never written).
    """
    from . import __version__

    data = {"format": FORMAT, "neuralsynth_version": __version__, **payload}
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise CheckpointError(f"refusing to write checkpoint {path}: missing "
                              f"{', '.join(missing)}")
    p = Path(path)
    with atomic_path(p) as tmp:
        torch.save(data, tmp)
    return p


def load_checkpoint(path: str | os.PathLike, *, map_location: str | torch.device = "cpu",
                    require: tuple[str, ...] = REQUIRED_KEYS) -> dict[str, Any]:
    """Load and check a checkpoint written by :func:`save_checkpoint`.

    Raises :class:`CheckpointError` with a one-line reason for a missing file, a file
    that is not a checkpoint (corrupt, truncated, another format), one refused by safe
    loading (it contains objects that would run code), a wrong ``format`` version or
    missing keys (``require``).
    """
    p = Path(path)
    if not p.exists():
        raise CheckpointError(f"checkpoint {p} not found")
    if p.is_dir():
        raise CheckpointError(f"checkpoint {p} is a directory, not a file")
    if p.stat().st_size == 0:
        raise CheckpointError(f"checkpoint {p} is empty (0 bytes)")
    try:
        data = torch.load(p, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        text = " ".join(lines)
        if "weights only" in text.lower() and "unsupported operand" not in text.lower():
            # torch names the global or call it refused; keep just that line.
            detail = next((line for line in lines
                           if "global" in line.lower() or "reduce" in line.lower()), "")
            raise CheckpointError(f"checkpoint {p} was refused by safe loading "
                                  f"(weights_only=True): it contains objects that could run "
                                  f"code{': ' + detail[:200] if detail else ''}") from None
        # Garbage bytes read as a pickle stop at an unknown opcode: corruption, not danger.
        reason = next((line for line in lines if "operand" in line.lower()), text[:200])
        raise CheckpointError(f"checkpoint {p} is not a valid checkpoint "
                              f"(corrupt or truncated: {reason})") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError,
            AttributeError, IndexError, KeyError) as exc:
        text = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise CheckpointError(f"checkpoint {p} is not a valid checkpoint "
                              f"(corrupt or truncated: {text})") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"checkpoint {p} is not a neuralsynth checkpoint "
                              f"(holds a {type(data).__name__}, expected a dict)")
    if "format" in data and data["format"] != FORMAT:
        raise CheckpointError(f"checkpoint {p} has format version {data['format']!r}; this "
                              f"neuralsynth reads version {FORMAT}")
    missing = [k for k in require if k not in data]
    if missing:
        raise CheckpointError(f"checkpoint {p} is not a complete neuralsynth checkpoint "
                              f"(missing: {', '.join(missing)})")
    return data


@dataclasses.dataclass
class LoadedModel:
    """A trained model ready for inference (in eval mode)."""

    model: Any            # neuralsynth.model.Mel2Mel
    instruments: list[str]
    recipe: Any           # neuralsynth.recipe.Recipe
    step: int
    path: Path | None = None
    best_val_loss: float | None = None


def _as_model_dtypes(state: Any, model: torch.nn.Module) -> Any:
    """Cast stored floating weights to the dtype of the model's own (float32) tensors.

    ``neuralsynth export --half`` stores weights as float16 to halve the file; the model
    always runs in float32. ``load_state_dict`` would cast on copy anyway, but saying it
    here keeps that a stated property of the format rather than a side effect.
    """
    if not isinstance(state, dict):
        return state                       # load_state_dict reports the wrong type
    own = model.state_dict()
    return {k: (v.to(own[k].dtype) if k in own and isinstance(v, torch.Tensor)
                and v.is_floating_point() and own[k].is_floating_point() else v)
            for k, v in state.items()}


def model_from_checkpoint(data: dict[str, Any], *, source: str = "<checkpoint>"):
    """Rebuild the Mel2Mel of a loaded checkpoint dict and load its weights.

    Returns ``(model, recipe)``; raises :class:`CheckpointError` when the stored recipe
    no longer validates (e.g. a plugin component is not installed) or the weights do not
    fit the model it describes.
    """
    from .model import Mel2Mel
    from .recipe import recipe_from_dict

    stored = data.get("recipe")
    task = stored.get("train", {}).get("task", "mel2mel") if isinstance(stored, dict) else None
    if task == "vocoder":
        # Its recipe has no model section; building a default Mel2Mel from it would
        # only end in a confusing "weights do not fit" message.
        raise CheckpointError(f"checkpoint {source} is a trained vocoder, not a Mel2Mel "
                              f"model; use it with `render --vocoder-model {source}`")
    try:
        recipe = recipe_from_dict(data["recipe"], source=source)
        model = Mel2Mel.from_spec(recipe.model, n_instruments=len(data["instruments"]))
    except NeuralsynthError as exc:
        first = str(exc).splitlines()
        reason = " ".join(line.strip() for line in first[:3])
        raise CheckpointError(f"checkpoint {source}: cannot rebuild its model: {reason}") from None
    try:
        model.load_state_dict(_as_model_dtypes(data["model_state"], model))
    except (RuntimeError, KeyError, TypeError) as exc:
        reason = " ".join(str(exc).split())[:300]
        raise CheckpointError(f"checkpoint {source}: weights do not fit the model its recipe "
                              f"describes ({reason})") from None
    return model, recipe


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> LoadedModel:
    """Load a checkpoint and return its model on ``device`` in eval mode."""
    data = load_checkpoint(path)
    model, recipe = model_from_checkpoint(data, source=os.fspath(path))
    model.to(device).eval()
    best = data.get("best_val_loss")
    return LoadedModel(model=model, instruments=list(data["instruments"]), recipe=recipe,
                       step=int(data["step"]), path=Path(path),
                       best_val_loss=float(best) if best is not None else None)


__all__ = ["FORMAT", "save_checkpoint", "load_checkpoint", "load_model", "LoadedModel",
           "model_from_checkpoint"]
