"""An exported ONNX network standing in for a Mel2Mel model, so ``load_model("m.onnx")``
renders with onnxruntime through the same code as a PyTorch model.

Only the network runs in ONNX; the encoder (notes → piano roll, numpy) is rebuilt from
the recipe in the file's metadata and the timbre arithmetic (mixes, coordinates, morphs)
uses the instrument table stored there. It runs on the CPU.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neuralsynth.errors import CheckpointError, UsageError, require_extra
from neuralsynth.model.conditioners.film import mix_vector, point_vector

#: The metadata key of an exported file's neuralsynth section (JSON).
METADATA_KEY = "neuralsynth"


class OnnxMel2Mel(torch.nn.Module):
    """The Mel2Mel interface over an ONNX file.

    - ``forward(x [B, T, in_dim], t [B, W'] or [B, T, W'])`` → log mel ``[B, T, n_mels]``
      (W' is W, or D for a bare point; a static timbre is repeated over the frames)
    - ``embed(weights [..., N])`` / ``point(coords [..., D])`` → timbre vector ``[..., W]``
    - ``instrument_embeddings()`` → ``[N, D]``
    """

    def __init__(self, path: str | os.PathLike, meta: dict[str, Any], encoder):
        super().__init__()
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(os.fspath(path), options,
                                                     providers=["CPUExecutionProvider"])
        self.path = Path(path)
        self.encoder = encoder
        self.register_buffer("_table", torch.tensor(meta["embeddings"], dtype=torch.float32))
        self.n_instruments = int(self._table.shape[0])
        self.n_mels = int(meta["n_mels"])
        self._width = int(meta["timbre_width"])
        self._in_dim = int(meta["in_dim"])
        self.spec = dict(meta["recipe"].get("model", {}))

    # -- shapes, as Mel2Mel's -----------------------------------------------------------
    @property
    def in_dim(self) -> int:
        return self._in_dim

    @property
    def embedding_dim(self) -> int:
        return int(self._table.shape[1])

    @property
    def timbre_width(self) -> int:
        return self._width

    def instrument_embeddings(self) -> torch.Tensor:
        return self._table

    def embed(self, weights: torch.Tensor) -> torch.Tensor:
        return mix_vector(weights, self._table, self._width)

    def point(self, coordinates: torch.Tensor) -> torch.Tensor:
        return point_vector(coordinates, self._width)

    def instrument_timbres(self) -> torch.Tensor:
        return self.embed(torch.eye(self.n_instruments))

    def providers(self) -> dict:
        return {}

    # -- prediction ---------------------------------------------------------------------
    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if t.shape[-1] == self.embedding_dim and self._width != self.embedding_dim:
            t = self.point(t)
        if t.dim() == 2:
            t = t.unsqueeze(1).expand(-1, x.shape[1], -1)
        feed = {"pianoroll": np.ascontiguousarray(x.detach().cpu().numpy(), np.float32),
                "timbre": np.ascontiguousarray(t.detach().cpu().numpy(), np.float32)}
        (log_mel,) = self._session.run(["log_mel"], feed)
        return torch.from_numpy(log_mel)

    def predict_mel(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return torch.exp(self.forward(x, t))


def read_onnx_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The ``neuralsynth`` metadata of an exported ONNX file (via onnxruntime)."""
    require_extra("onnxruntime", "onnx", "an ONNX model")
    import onnxruntime

    try:
        session = onnxruntime.InferenceSession(os.fspath(path),
                                               providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise CheckpointError(f"{path}: not a loadable ONNX model "
                              f"({' '.join(str(exc).split())[:200]})") from None
    raw = session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
    if raw is None:
        raise CheckpointError(f"{path}: an ONNX file without neuralsynth metadata (not "
                              f"written by `neuralsynth export --format onnx`)")
    return json.loads(raw)


def load_onnx_model(path: str | os.PathLike, device) -> tuple[OnnxMel2Mel, list[str], Any]:
    """``(model, instruments, recipe)`` of an exported ONNX file."""
    from neuralsynth.errors import NeuralsynthError
    from neuralsynth.model.encoders.base import ENCODERS
    from neuralsynth.recipe.load import recipe_from_dict

    if torch.device(device).type != "cpu":
        raise UsageError(f"{path}: ONNX models run on the CPU here (onnxruntime's CPU "
                         f"provider); use --device cpu, or the .pt model on {device}")
    if not Path(path).is_file():
        raise CheckpointError(f"{path}: no such model file")
    meta = read_onnx_metadata(path)
    try:
        recipe = recipe_from_dict(meta["recipe"], source=os.fspath(path))
        comp_cls, config = ENCODERS.parse(recipe.model.get("encoder", {"name": "pianoroll"}))
        encoder = comp_cls(config)
    except (NeuralsynthError, KeyError) as exc:
        raise CheckpointError(f"{path}: cannot rebuild its encoder ({exc})") from None
    model = OnnxMel2Mel(path, meta, encoder).eval()
    return model, list(meta["instruments"]), recipe


__all__ = ["METADATA_KEY", "OnnxMel2Mel", "load_onnx_model", "read_onnx_metadata"]
