"""Rebuilding a model from a checkpoint, and which model and timbre a render defaults to.

:mod:`neuralsynth.checkpoint` reads and writes the file; this module turns its recipe
back into a :class:`~neuralsynth.model.mel2mel.Mel2Mel` with the stored weights.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from neuralsynth.assets import model_paths
from neuralsynth.errors import CheckpointError, NeuralsynthError, TimbreError, UsageError

if TYPE_CHECKING:
    import torch

# torch, the model and the checkpoint reader are imported inside the functions that
# load weights: `neuralsynth render --help` names the default model through this module
# and should not wait for torch.

#: The bundled model ``render`` uses without ``--model`` (``assets/models/default.pt``).
DEFAULT_MODEL_NAME = "default"


@dataclasses.dataclass
class LoadedModel:
    """A trained model ready for inference (in eval mode)."""

    model: Any            # neuralsynth.model.mel2mel.Mel2Mel
    instruments: list[str]
    recipe: Any           # neuralsynth.recipe.load.Recipe
    step: int
    path: Path | None = None
    best_val_loss: float | None = None


def _as_model_dtypes(state: Any, model: torch.nn.Module) -> Any:
    """Cast stored floating weights to the dtype of the model's own (float32) tensors.

    ``neuralsynth export --half`` stores weights as float16 to halve the file; the model
    always runs in float32. ``load_state_dict`` would cast on copy anyway, but saying it
    here keeps that a stated property of the format rather than a side effect.
    """
    import torch

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
    from neuralsynth.model.mel2mel import Mel2Mel
    from neuralsynth.recipe.load import recipe_from_dict

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


def load_trained_model(path: str | os.PathLike,
                       device: str | torch.device = "cpu") -> LoadedModel:
    """Load a checkpoint (or an exported ``.onnx`` network) and return its model on
    ``device`` in eval mode."""
    import torch

    from neuralsynth.checkpoint import load_checkpoint

    if Path(path).suffix.lower() == ".onnx":
        from neuralsynth.inference.onnx_model import load_onnx_model

        model, instruments, recipe = load_onnx_model(path, device)
        return LoadedModel(model=model, instruments=instruments, recipe=recipe, step=0,
                           path=Path(path))

    data = load_checkpoint(path)
    model, recipe = model_from_checkpoint(data, source=os.fspath(path))
    for name, tensor in model.state_dict().items():
        # A model with NaN or infinite weights renders silence or noise: refuse it here,
        # before any rendering, as `export` does.
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise CheckpointError(f"{path}: weight '{name}' has non-finite values (NaN "
                                  f"or inf); the model cannot render")
    model.to(device).eval()
    best = data.get("best_val_loss")
    return LoadedModel(model=model, instruments=list(data["instruments"]), recipe=recipe,
                       step=int(data["step"]), path=Path(path),
                       best_val_loss=float(best) if best is not None else None)


#: Environment variable naming the model ``render`` uses without ``--model``.
DEFAULT_MODEL_ENV = "NEURALSYNTH_DEFAULT_MODEL"


def default_model_path() -> Path | None:
    """The model ``render`` uses when none is given, or None when there is none.

    ``$NEURALSYNTH_DEFAULT_MODEL`` wins when set: a path (it must be an existing file,
    else :class:`UsageError` names the variable), or ``none`` to ignore the bundled model.
    Otherwise the model shipped inside the package, ``neuralsynth/assets/models/default.pt``,
    when that file is installed. An empty variable counts as unset.
    """
    override = os.environ.get(DEFAULT_MODEL_ENV, "").strip()
    if override.lower() == "none":
        return None
    if override:
        path = Path(override).expanduser()
        if not path.is_file():
            what = "a directory" if path.is_dir() else "not found"
            raise UsageError(f"{DEFAULT_MODEL_ENV}={override}: default model {what}; "
                             f"point it at a model file, or unset it")
        return path
    # A normal (unzipped) install puts package data on disk, where torch.load can open
    # it by path; a zipped install has no such path and gets no default model.
    return model_paths().get(DEFAULT_MODEL_NAME)


def default_timbre(instruments: list[str]) -> str:
    """``piano`` when the model knows a piano, else the model's first instrument."""
    from neuralsynth.midi.instruments import resolve_instrument

    try:
        return resolve_instrument("piano", known=instruments)
    except TimbreError:
        return instruments[0]


def resolve_model(model: str | os.PathLike | None) -> Path:
    """The model file that ``model`` names: None → the default model; an existing path;
    or the name of a bundled model (``default``). Raises :class:`UsageError` otherwise."""
    if model is None:
        path = default_model_path()
        if path is None:
            raise UsageError("no model given and no bundled default model is installed "
                             "(pass a model file or set NEURALSYNTH_DEFAULT_MODEL)")
        return path
    path = Path(model).expanduser()
    name = os.fspath(model)
    bundled = model_paths()
    if path.exists() or os.sep in name or path.suffix:
        return path              # a path: a missing file is reported when it is loaded
    if name in bundled:
        return bundled[name]
    names = ", ".join(sorted(bundled)) or "none installed"
    raise UsageError(f"model '{name}' not found: not a file, nor a bundled model ({names})")


__all__ = ["DEFAULT_MODEL_ENV", "DEFAULT_MODEL_NAME", "LoadedModel", "default_model_path",
           "default_timbre", "load_trained_model", "model_from_checkpoint", "resolve_model"]
