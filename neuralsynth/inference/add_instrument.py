"""A model with one more instrument: a fitted timbre, named, usable in every timbre spec.

The instruments of a Mel2Mel model are the rows of its conditioner's embedding table, in
the order of the checkpoint's ``instruments`` list. Adding one appends a row and a name;
every other weight stays as it is, so the other instruments sound exactly as before.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch

from neuralsynth.errors import CheckpointError, UsageError

#: The state-dict entry that holds the instruments' embeddings (the FiLM conditioner).
_TABLE = "conditioner.embedding"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def check_new_name(name: str, instruments: list[str]) -> None:
    """A one-line UsageError unless ``name`` can name a new instrument of a model that has
    ``instruments``: snake_case, and not a name or alias of one it already has."""
    from neuralsynth.midi.instruments import resolve_instrument

    if not _NAME.match(name or ""):
        raise UsageError(f"instrument name '{name}' must be snake_case: lower-case letters, "
                         f"digits and '_', starting with a letter, at most 40 characters")
    try:
        taken = resolve_instrument(name, instruments)
    except Exception:                      # not a known name or alias: free to use
        return
    raise UsageError(f"instrument name '{name}' is taken: it names '{taken}', one of the "
                     f"model's instruments; choose another --name")


def save_with_instrument(model_path: str | os.PathLike, name: str, embedding: torch.Tensor,
                         out_path: str | os.PathLike) -> Path:
    """Write the checkpoint at ``model_path`` with instrument ``name`` at ``embedding``
    (``[D]``) added, atomically, to ``out_path``."""
    from neuralsynth.checkpoint import load_checkpoint, save_checkpoint

    data = load_checkpoint(model_path)
    instruments = list(data["instruments"])
    check_new_name(name, instruments)
    state = dict(data["model_state"])
    table = state.get(_TABLE)
    if table is None or table.ndim != 2 or table.shape[0] != len(instruments):
        raise CheckpointError(f"{model_path}: its conditioner has no instrument table "
                              f"('{_TABLE}'), so instruments cannot be added to it")
    row = embedding.detach().reshape(1, -1).to(table.dtype)
    if row.shape[1] != table.shape[1]:
        raise UsageError(f"the embedding has {row.shape[1]} dimensions, the model "
                         f"{table.shape[1]}")
    state[_TABLE] = torch.cat([table, row])
    payload = {k: v for k, v in data.items() if k not in ("format", "neuralsynth_version")}
    payload.update(model_state=state, instruments=instruments + [name])
    return save_checkpoint(out_path, payload)


__all__ = ["check_new_name", "save_with_instrument"]
