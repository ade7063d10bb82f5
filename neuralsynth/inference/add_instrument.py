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
#: Prefix of the per-instrument FiLM offset tables (``conditioner.offset_gamma.pre`` ...).
_OFFSETS = "conditioner.offset_"
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
                         out_path: str | os.PathLike,
                         film: dict[str, torch.Tensor] | None = None) -> Path:
    """Write the checkpoint at ``model_path`` with instrument ``name`` at ``embedding``
    (``[D]``) added, atomically, to ``out_path``. ``film`` (``"gamma.<site>"`` /
    ``"beta.<site>"`` → ``[C]``, from ``fit_timbre(..., adapt="film")``) gives the new
    instrument its own FiLM offsets; the model then gets per-instrument offsets if it
    had none, zero for every other instrument."""
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
    recipe = data.get("recipe")
    if film is not None or _has_offsets(state):
        recipe = _with_offsets(recipe, model_path)
        _append_offsets(state, len(instruments), film or {})
    payload = {k: v for k, v in data.items() if k not in ("format", "neuralsynth_version")}
    payload.update(model_state=state, instruments=instruments + [name], recipe=recipe)
    return save_checkpoint(out_path, payload)


def _has_offsets(state: dict) -> bool:
    return any(k.startswith(_OFFSETS) for k in state)


def _with_offsets(recipe, model_path) -> dict:
    """The stored recipe with the conditioner's ``instrument_offsets`` switched on."""
    import copy

    if not isinstance(recipe, dict):
        raise CheckpointError(f"{model_path}: it stores no recipe, so its conditioner "
                              f"cannot be given per-instrument offsets")
    model = recipe.get("model") or {}
    cond = model.get("conditioner") or {"name": "film"}
    if not isinstance(cond, dict) or cond.get("name") != "film":
        raise CheckpointError(f"{model_path}: its conditioner is not FiLM, so an instrument "
                              f"cannot have its own FiLM offsets")
    recipe = copy.deepcopy(recipe)
    recipe["model"] = {**model, "conditioner": {**cond, "instrument_offsets": True}}
    return recipe


def _append_offsets(state: dict, n_old: int, film: dict[str, torch.Tensor]) -> None:
    """Give every per-instrument offset table one more row: ``film``'s for the new
    instrument, zero where it has none; tables are created (zero) where missing."""
    sites = sorted({k.split(".")[2] for k in state
                    if k.startswith("conditioner.gamma.") and k.endswith(".bias")})
    unknown = sorted(set(film) - {f"{kind}.{s}" for kind in ("gamma", "beta") for s in sites})
    if unknown:
        raise UsageError(f"FiLM offsets for {', '.join(unknown)}: the model has no such site")
    for kind in ("gamma", "beta"):
        for s in sites:
            bias = state[f"conditioner.{kind}.{s}.bias"]
            key = f"{_OFFSETS}{kind}.{s}"
            rows = state.get(key, torch.zeros(n_old, bias.shape[0], dtype=bias.dtype))
            new = film.get(f"{kind}.{s}", torch.zeros(bias.shape[0]))
            if new.shape != bias.shape:
                raise UsageError(f"FiLM offset {kind}.{s} has {tuple(new.shape)} values, "
                                 f"the site {bias.shape[0]} channels")
            state[key] = torch.cat([rows, new.detach().reshape(1, -1).to(rows.dtype)])


__all__ = ["check_new_name", "save_with_instrument"]
