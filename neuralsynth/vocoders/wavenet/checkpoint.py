"""Loading a trained WaveNet vocoder from a training checkpoint (or its export).

A vocoder run (``train.task: vocoder``) writes the usual checkpoint keys
(:mod:`neuralsynth.checkpoint`): ``model_state`` is the :class:`WaveNet` state dict and
``recipe["vocoder"]`` holds its shape. Loading goes through ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import torch

from neuralsynth.checkpoint import load_checkpoint
from neuralsynth.errors import CheckpointError
from neuralsynth.vocoders.wavenet.config import WaveNetConfig
from neuralsynth.vocoders.wavenet.model import WaveNet


def wavenet_from_checkpoint(data: dict[str, Any], source: str) -> WaveNet:
    """The :class:`WaveNet` of a loaded checkpoint dict, in eval mode on the CPU."""
    recipe = data.get("recipe")
    train = recipe.get("train", {}) if isinstance(recipe, dict) else {}
    spec = recipe.get("vocoder") if isinstance(recipe, dict) else None
    if train.get("task", "mel2mel") != "vocoder" or not isinstance(spec, dict) \
            or spec.get("name") != "wavenet":
        raise CheckpointError(f"checkpoint {source} is not a trained wavenet vocoder (a run "
                              "of a recipe with train.task: vocoder and vocoder.name: wavenet)")
    names = {f.name for f in dataclasses.fields(WaveNetConfig)}
    try:
        model = WaveNet(WaveNetConfig(**{k: v for k, v in spec.items() if k in names}))
        state = {k: (v.float() if isinstance(v, torch.Tensor) and v.is_floating_point() else v)
                 for k, v in data["model_state"].items()}
        model.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        reason = " ".join(str(exc).split())[:300]
        raise CheckpointError(f"checkpoint {source}: weights do not fit the wavenet its recipe "
                              f"describes ({reason})") from None
    return model.eval()


def load_wavenet(path: str | os.PathLike) -> WaveNet:
    """Load a vocoder checkpoint; one-line :class:`CheckpointError` for anything wrong."""
    data = load_checkpoint(path)
    return wavenet_from_checkpoint(data, os.fspath(path))
