"""Export a training checkpoint as a slim, inference-only model file.

A training checkpoint (``last.pt``, ``best.pt``) carries what resuming needs: Adam's two
moment buffers (twice the weights' size), the scheduler and the random number
generators. A model that is only rendered needs none of that. The exported file keeps

- ``model_state``: the weights, optionally stored as float16 (half the size again;
  :func:`neuralsynth.inference.load.load_trained_model` turns them back into float32);
- ``recipe``, ``instruments``, ``providers``: what rebuilding the model needs;
- ``step``, ``best_val_loss``: copied from the source checkpoint;
- ``export``: provenance (:data:`EXPORT_KEY`, see :func:`export_metadata`).

It is an ordinary format-1 checkpoint without the resume keys, so every reader of
checkpoints (``render --model``, ``neuralsynth.load_model``) reads it unchanged, and it is written
atomically through :func:`neuralsynth.checkpoint.save_checkpoint`. A vocoder run's
checkpoint (``train.task: vocoder``) is exported the same way; its file loads with
:func:`neuralsynth.vocoders.wavenet.checkpoint.load_wavenet`.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import os
from pathlib import Path
from typing import Any

import torch

from neuralsynth.errors import CheckpointError, UsageError

#: Suffixes an exported model file may have (what torch users expect).
EXPORT_SUFFIXES = (".pt", ".pth")
#: Top-level key holding the export provenance.
EXPORT_KEY = "export"
#: Largest finite float16 value: a weight beyond it would become inf when halved.
FLOAT16_MAX = float(torch.finfo(torch.float16).max)


@dataclasses.dataclass
class ExportResult:
    """What :func:`export_model` wrote.

    ``n_parameters`` counts scalar weights; sizes are in bytes on disk.
    """

    out_path: Path
    size_bytes: int
    source_size_bytes: int
    dtype: str
    n_parameters: int
    instruments: list[str]
    step: int
    val_loss: float | None
    name: str


def slim_state(model: torch.nn.Module, *, half: bool) -> dict[str, torch.Tensor]:
    """The model's weights as fresh CPU tensors; floating ones in float16 when ``half``.

    Integer buffers (if a component has any) keep their dtype. Raises
    :class:`CheckpointError` when a weight is not finite or too large for float16.
    """
    state: dict[str, torch.Tensor] = {}
    for key, value in model.state_dict().items():
        t = value.detach().to("cpu").clone().contiguous()
        if t.is_floating_point():
            if not bool(torch.isfinite(t).all()):
                raise CheckpointError(f"weight '{key}' has non-finite values; refusing "
                                      f"to export a broken model")
            if half:
                peak = float(t.abs().max()) if t.numel() else 0.0
                if peak > FLOAT16_MAX:
                    raise CheckpointError(f"weight '{key}' reaches {peak:.4g}, beyond "
                                          f"float16's range; export with --no-half")
                t = t.to(torch.float16)
        state[key] = t
    return state


def export_metadata(source: dict[str, Any], source_path: Path, *, name: str,
                    dtype: str) -> dict[str, Any]:
    """Provenance of an exported file: only strings, numbers and None (safe to load).

    The source is recorded by file name only: a shipped model should not carry the
    directory layout of the machine it was trained on. Re-exporting an exported file
    keeps the original training step and source name.
    """
    from neuralsynth.version import __version__

    earlier = source.get(EXPORT_KEY) if isinstance(source.get(EXPORT_KEY), dict) else {}
    val = source.get("best_val_loss")
    return {
        "name": name,
        "source": earlier.get("source", source_path.name),
        "source_step": int(earlier.get("source_step", source["step"])),
        "val_loss": float(val) if val is not None else None,
        "dtype": dtype,
        "source_neuralsynth_version": str(source.get("neuralsynth_version", "unknown")),
        "neuralsynth_version": __version__,
        "date": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
    }


def _check_output(out: Path, source: Path) -> None:
    if out.suffix.lower() not in EXPORT_SUFFIXES:
        raise UsageError(f"output '{out}' must end in {' or '.join(EXPORT_SUFFIXES)}")
    if out.is_dir():
        raise UsageError(f"output '{out}' is a directory")
    if out.exists() and source.exists() and os.path.samefile(out, source):
        # Replacing a training checkpoint by its slim copy would silently drop the
        # optimizer state that resuming needs.
        raise UsageError(f"output '{out}' is the checkpoint being exported; choose "
                         f"another file name")


def export_model(checkpoint: str | os.PathLike, out: str | os.PathLike, *,
                 half: bool = False, name: str | None = None) -> ExportResult:
    """Write the inference-only copy of ``checkpoint`` to ``out`` (.pt or .pth).

    The checkpoint is loaded safely and its model rebuilt before anything is written,
    so a file that would not load is never produced. ``name`` defaults to the recipe's
    name. Raises :class:`UsageError` for a bad output path and :class:`CheckpointError`
    for a missing, corrupt or incompatible checkpoint.
    """
    from neuralsynth.checkpoint import load_checkpoint, save_checkpoint
    from neuralsynth.inference.load import model_from_checkpoint

    src, dest = Path(checkpoint), Path(out)
    _check_output(dest, src)
    if name is not None and not name.strip():
        raise UsageError("--name must not be empty")
    data = load_checkpoint(src)
    if _is_vocoder_run(data):
        model, recipe = _vocoder_from_checkpoint(data, os.fspath(src))
        providers = data.get("providers", {})
    else:
        model, recipe = model_from_checkpoint(data, source=os.fspath(src))
        providers = data["providers"] if "providers" in data else model.providers()
    label = name.strip() if name is not None else recipe.name
    dtype = "float16" if half else "float32"
    state = slim_state(model, half=half)
    meta = export_metadata(data, src, name=label, dtype=dtype)
    save_checkpoint(dest, {
        "model_state": state,
        "recipe": recipe.to_dict(),
        "instruments": list(data["instruments"]),
        "providers": providers,
        "step": int(data["step"]),
        "best_val_loss": meta["val_loss"],
        EXPORT_KEY: meta,
    })
    return ExportResult(out_path=dest, size_bytes=dest.stat().st_size,
                        source_size_bytes=src.stat().st_size, dtype=dtype,
                        n_parameters=sum(p.numel() for p in model.parameters()),
                        instruments=list(data["instruments"]), step=int(data["step"]),
                        val_loss=meta["val_loss"], name=label)


def _is_vocoder_run(data: dict[str, Any]) -> bool:
    """The checkpoint is of a ``train.task: vocoder`` run (its weights are a vocoder's)."""
    recipe = data.get("recipe")
    train = recipe.get("train") if isinstance(recipe, dict) else None
    return isinstance(train, dict) and train.get("task") == "vocoder"


def _vocoder_from_checkpoint(data: dict[str, Any], source: str) -> tuple[Any, Any]:
    """The trained vocoder of a vocoder run's checkpoint and its recipe.

    Loaded the way rendering loads it (:func:`~neuralsynth.vocoders.wavenet.checkpoint.
    load_wavenet`), so an export that rendering could not read is never written.
    """
    from neuralsynth.errors import NeuralsynthError
    from neuralsynth.recipe.load import recipe_from_dict
    from neuralsynth.vocoders.wavenet.checkpoint import wavenet_from_checkpoint

    model = wavenet_from_checkpoint(data, source)
    try:
        recipe = recipe_from_dict(data["recipe"], source=source)
    except NeuralsynthError as exc:
        reason = " ".join(line.strip() for line in str(exc).splitlines()[:3])
        raise CheckpointError(f"checkpoint {source}: its recipe no longer validates: "
                              f"{reason}") from None
    return model, recipe


__all__ = ["EXPORT_KEY", "EXPORT_SUFFIXES", "ExportResult", "export_metadata",
           "export_model", "slim_state"]
