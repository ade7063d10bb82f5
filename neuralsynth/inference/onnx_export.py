"""A Mel2Mel model as an ONNX file, for runtimes other than PyTorch.

The graph is the network of :class:`~neuralsynth.model.mel2mel.Mel2Mel`: inputs
``pianoroll`` float32 ``[batch, frames, in_dim]`` (the encoder's features) and ``timbre``
float32 ``[batch, frames, W]`` (a timbre vector per frame: a static timbre repeated, a
morph as it moves), output ``log_mel`` float32 ``[batch, frames, 80]`` (natural log of the
linear mel). Batch and frames are dynamic; the BiLSTM is an ONNX ``LSTM`` node.
Everything else a renderer needs is in the file's metadata under ``neuralsynth``
(JSON): the instruments, their embedding table, the timbre width, the recipe (for the
encoder that makes the piano roll) and provenance.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

from neuralsynth.errors import UsageError, require_extra
from neuralsynth.inference.onnx_model import METADATA_KEY

#: ONNX operator set: LSTM and everything else here is in it; onnxruntime >= 1.16 runs it.
OPSET = 17


def onnx_metadata(model, instruments: list[str], recipe: dict[str, Any], *, name: str,
                  source: str, step: int = 0,
                  val_loss: float | None = None) -> dict[str, Any]:
    import datetime as _dt

    from neuralsynth.version import __version__

    table = model.instrument_embeddings().detach().double().cpu().tolist()
    return {"format": 1, "name": name, "instruments": list(instruments),
            "n_parameters": int(sum(p.numel() for p in model.parameters())),
            "step": int(step), "val_loss": val_loss,
            "date": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
            "embedding_dim": int(model.embedding_dim), "timbre_width": int(model.timbre_width),
            "embeddings": table, "in_dim": int(model.in_dim), "n_mels": int(model.n_mels),
            "recipe": recipe, "source": source, "neuralsynth_version": __version__,
            "inputs": {"pianoroll": "[batch, frames, in_dim]",
                       "timbre": "[batch, frames, timbre_width]"},
            "outputs": {"log_mel": "[batch, frames, n_mels], natural log of the mel"}}


def export_onnx(checkpoint: str | os.PathLike, out: str | os.PathLike, *,
                name: str | None = None) -> Path:
    """Write ``checkpoint``'s Mel2Mel network to ``out`` (.onnx) atomically."""
    require_extra("onnx", "onnx", "export --format onnx")
    import onnx
    import torch

    from neuralsynth.fileio import atomic_path
    from neuralsynth.inference.load import load_trained_model

    dest = Path(out)
    if dest.suffix.lower() != ".onnx":
        raise UsageError(f"output '{dest}' must end in .onnx for --format onnx")
    if dest.is_dir():
        raise UsageError(f"output '{dest}' is a directory")
    loaded = load_trained_model(checkpoint, device="cpu")
    model = loaded.model.float().eval()
    frames = 64
    x = torch.zeros(1, frames, model.in_dim)
    t = torch.zeros(1, frames, model.timbre_width)
    axes = {0: "batch", 1: "frames"}
    with atomic_path(dest) as tmp:
        with warnings.catch_warnings():
            # The tracer's notes on batch_first LSTMs and constant shapes are about
            # internals it handles; the parity test is what vouches for the file.
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (x, t), os.fspath(tmp),
                              input_names=["pianoroll", "timbre"],
                              output_names=["log_mel"],
                              dynamic_axes={"pianoroll": axes, "timbre": axes,
                                            "log_mel": axes},
                              opset_version=OPSET, dynamo=False)
        proto = onnx.load(os.fspath(tmp))
        meta = onnx_metadata(model, loaded.instruments, loaded.recipe.to_dict(),
                             name=name or loaded.recipe.name,
                             source=Path(checkpoint).name, step=loaded.step,
                             val_loss=loaded.best_val_loss)
        entry = proto.metadata_props.add()
        entry.key, entry.value = METADATA_KEY, json.dumps(meta)
        onnx.checker.check_model(proto)
        onnx.save(proto, os.fspath(tmp))
    return dest


__all__ = ["export_onnx", "onnx_metadata"]
