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
``export`` (provenance; see :mod:`neuralsynth.inference.export`).

This module is the file format only; rebuilding a model from a checkpoint is
:mod:`neuralsynth.inference.load`.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from neuralsynth.errors import CheckpointError
from neuralsynth.fileio import atomic_path

FORMAT = 1
REQUIRED_KEYS = ("format", "model_state", "recipe", "instruments", "step")


def save_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> Path:
    """Write ``payload`` to ``path`` atomically; fills in ``format`` and the version.

    Raises :class:`CheckpointError` when a required key is missing (a checkpoint that
    could not be loaded later is never written).
    """
    from neuralsynth.version import __version__

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


__all__ = ["FORMAT", "REQUIRED_KEYS", "save_checkpoint", "load_checkpoint"]
