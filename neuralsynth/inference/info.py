"""What is inside a model file: instruments and their place in the timbre space, size,
training progress and provenance. Used by ``neuralsynth info``.

Works on training checkpoints and exported models alike; the instrument coordinates it
reports are what ``--timbre xy:...`` specs are written in.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any


@dataclasses.dataclass
class ModelInfo:
    """A summary of one model file.

    ``embeddings`` holds one row of D coordinates per instrument (the learned timbre
    table, ``[n_instruments, D]`` as nested lists).
    """

    path: Path
    size_bytes: int
    name: str
    instruments: list[str]
    embeddings: list[list[float]]
    components: dict[str, str]
    n_parameters: int
    weights_dtype: str
    step: int
    val_loss: float | None
    resumable: bool
    neuralsynth_version: str
    export: dict[str, Any] | None
    #: Instruments with their own FiLM offsets (``timbre fit --adapt film``).
    adapted: list[str] = dataclasses.field(default_factory=list)

    @property
    def embedding_dim(self) -> int:
        return len(self.embeddings[0]) if self.embeddings else 0


def _weights_dtype(state: dict[str, Any]) -> str:
    """The dtype of the stored floating weights (``mixed`` if they differ)."""
    dtypes = {str(v.dtype).removeprefix("torch.") for v in state.values()
              if hasattr(v, "is_floating_point") and v.is_floating_point()}
    return dtypes.pop() if len(dtypes) == 1 else ("mixed" if dtypes else "none")


def _component(spec: dict[str, Any]) -> str:
    """``bilstm(hidden_size=256, ...)``: the name and its scalar parameters."""
    params = ", ".join(f"{k}={v}" for k, v in spec.items()
                       if k != "name" and isinstance(v, (int, float, str, bool)))
    return f"{spec.get('name', '?')}({params})"


def model_info(path: str | os.PathLike) -> ModelInfo:
    """Load ``path`` safely, rebuild its model and summarise it.

    Raises :class:`~neuralsynth.errors.CheckpointError` for anything that is not a
    loadable model.
    """
    from neuralsynth.checkpoint import load_checkpoint
    from neuralsynth.inference.export import EXPORT_KEY
    from neuralsynth.inference.load import model_from_checkpoint
    from neuralsynth.training.run_state import RESUME_KEYS

    p = Path(path)
    if p.suffix.lower() == ".onnx":
        return _onnx_info(p)
    data = load_checkpoint(p)
    model, recipe = model_from_checkpoint(data, source=os.fspath(p))
    table = model.instrument_embeddings().detach().float()
    adapted = adapted_instruments(model, list(data["instruments"]))
    export = data.get(EXPORT_KEY) if isinstance(data.get(EXPORT_KEY), dict) else None
    val = data.get("best_val_loss")
    return ModelInfo(
        path=p, size_bytes=p.stat().st_size,
        name=str(export["name"]) if export else recipe.name,
        instruments=list(data["instruments"]),
        embeddings=[[float(x) for x in row] for row in table.tolist()],
        components={slot: _component(spec) for slot, spec in recipe.model.items()},
        n_parameters=sum(p_.numel() for p_ in model.parameters()),
        weights_dtype=_weights_dtype(data["model_state"]),
        step=int(data["step"]), val_loss=float(val) if val is not None else None,
        resumable=all(k in data for k in RESUME_KEYS),
        neuralsynth_version=str(data.get("neuralsynth_version", "unknown")),
        export=export, adapted=adapted)


def _onnx_info(p: Path) -> ModelInfo:
    """The summary of an exported ONNX network (its metadata)."""
    from neuralsynth.inference.onnx_model import read_onnx_metadata

    meta = read_onnx_metadata(p)
    recipe_model = meta.get("recipe", {}).get("model", {})
    return ModelInfo(
        path=p, size_bytes=p.stat().st_size, name=str(meta.get("name", p.stem)),
        instruments=list(meta["instruments"]), embeddings=meta["embeddings"],
        components={slot: _component(spec) for slot, spec in recipe_model.items()},
        n_parameters=int(meta.get("n_parameters", 0)),
        weights_dtype="float32 (ONNX network)", step=int(meta.get("step", 0)),
        val_loss=meta.get("val_loss"), resumable=False,
        neuralsynth_version=str(meta.get("neuralsynth_version", "?")),
        export={"date": meta.get("date", "?"), "source": meta.get("source", "?"),
                "neuralsynth_version": meta.get("neuralsynth_version", "?"),
                "name": meta.get("name", p.stem)})


def adapted_instruments(model, instruments: list[str]) -> list[str]:
    """Instruments whose own FiLM offsets are not all zero."""
    offsets = getattr(model.conditioner, "offset_gamma", None)
    if not offsets:
        return []
    used = None
    for table in [*offsets.values(), *model.conditioner.offset_beta.values()]:
        rows = table.detach().abs().amax(dim=1) > 0
        used = rows if used is None else used | rows
    return [name for name, flag in zip(instruments, used.tolist()) if flag]


def format_size(n_bytes: int) -> str:
    """``4.21 MB`` (decimal units, as file managers show them)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.2f} {unit}"
    return f"{n_bytes} B"


def format_info(info: ModelInfo) -> list[str]:
    """Human-readable lines for :class:`ModelInfo`."""
    kind = ("training checkpoint (resumable)" if info.resumable
            else "exported model" if info.export else "model checkpoint (no resume state)")
    val = f"{info.val_loss:.5f}" if info.val_loss is not None else "n/a"
    lines = [f"{info.path}: {kind}, {format_size(info.size_bytes)}",
             f"  name:        {info.name}",
             f"  trained:     step {info.step}, validation loss {val}",
             f"  weights:     {info.n_parameters:,} parameters stored as {info.weights_dtype}"]
    lines += [f"  {slot + ':':<12} {desc}" for slot, desc in info.components.items()]
    if info.export:
        e = info.export
        lines.append(f"  exported:    {e.get('date', '?')} from {e.get('source', '?')} "
                     f"(neuralsynth {e.get('neuralsynth_version', '?')})")
    else:
        lines.append(f"  written by:  neuralsynth {info.neuralsynth_version}")
    lines.append(f"  timbre:      {info.embedding_dim}-d space; {len(info.instruments)} "
                 f"instruments at (coordinates for --timbre xy:...):")
    width = max((len(n) for n in info.instruments), default=0)
    for name, row in zip(info.instruments, info.embeddings):
        coords = ",".join(f"{x:.3f}" for x in row)
        own = "  (own FiLM offsets)" if name in info.adapted else ""
        lines.append(f"    {name:<{width}}  {coords}{own}")
    return lines


__all__ = ["ModelInfo", "adapted_instruments", "format_info", "format_size", "model_info"]
