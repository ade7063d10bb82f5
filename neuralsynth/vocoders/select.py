"""Which vocoder a render uses, and building it: the one home of the default vocoder.

``render``, ``eval``, the Python API and recipe validation all take the default from
here, so changing it is a one-line change.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from neuralsynth.errors import PluginError, RecipeError, UsageError

#: The vocoder used when neither the user nor the checkpoint's recipe names one.
DEFAULT_VOCODER: dict[str, Any] = {"name": "griffin_lim"}


def vocoder_spec(requested: dict[str, Any] | None, recipe: Any | None,
                 options: dict[str, Any] | None = None) -> dict[str, Any]:
    """The vocoder spec to use: ``requested``, else the checkpoint recipe's, else Griffin-Lim.

    When ``requested`` names the recipe's own vocoder, the recipe's parameters are kept
    under the requested ones (a trained vocoder's settings stay in force). ``options``
    override parameters of whichever spec is chosen.
    """
    stored = getattr(recipe, "vocoder", None) if recipe is not None else None
    if not (isinstance(stored, dict) and isinstance(stored.get("name"), str)):
        stored = None
    if requested is not None:
        if not isinstance(requested, dict) or not isinstance(requested.get("name"), str):
            raise UsageError(f"vocoder spec must be a mapping with a 'name', got {requested!r}")
        spec = dict(requested)
        if stored is not None and stored["name"] == spec["name"]:
            spec = {**stored, **spec}
    else:
        spec = dict(stored if stored is not None else DEFAULT_VOCODER)
    if options:
        if "name" in options:
            raise UsageError("vocoder options cannot change the vocoder's name")
        spec.update(options)
    return spec


def build_vocoder(spec: dict[str, Any], *, n_mels: int, sample_rate: int, hop_length: int):
    """Build a vocoder from the registry; every problem becomes one :class:`UsageError` line."""
    from neuralsynth.vocoders.base import VOCODERS

    try:
        return VOCODERS.build(spec, n_mels=n_mels, sample_rate=sample_rate,
                              hop_length=hop_length)
    except RecipeError as exc:
        # RecipeError is a multi-line listing meant for recipe files; a flag wants one line.
        raise UsageError("; ".join(exc.problems)) from None
    except PluginError as exc:
        raise UsageError(str(exc).splitlines()[0]) from None


def vocoder_choice(vocoder: str | None, vocoder_model: Path | None,
                   opts: dict) -> dict | None:
    """The vocoder spec ``--vocoder``/``--vocoder-model`` ask for (None: the checkpoint's,
    else Griffin-Lim); ``--vocoder-model`` implies wavenet and fills ``opts["checkpoint"]``."""
    if vocoder_model is not None:
        if vocoder is None:
            vocoder = "wavenet"
        elif vocoder != "wavenet":
            raise UsageError(f"--vocoder-model is a trained wavenet vocoder; it cannot be "
                             f"used with --vocoder {vocoder}")
        if not vocoder_model.is_file():
            raise UsageError(f"vocoder model {vocoder_model} not found")
        opts["checkpoint"] = os.fspath(vocoder_model)
    return {"name": vocoder} if vocoder is not None else None


__all__ = ["DEFAULT_VOCODER", "build_vocoder", "vocoder_choice", "vocoder_spec"]
