"""The explorer's map of the timbre space: computed once per model, cached on disk.

A 2-D space is drawn as a lattice coloured by the probe's spectral centroid and energy
(the embedding-map code of ``neuralsynth eval``); a space of more dimensions as sampled
mixes on the plane of its first two principal axes, which also maps a click on the plane
back to a point of the space (``mean + axes @ xy``).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

from neuralsynth.fileio import atomic_path

#: Lattice size of a 2-D map (cells per side) and sampled mixes of a projection.
MAP_GRID = 64
PROJECTION_POINTS = 2048


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes (hex), read in blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _rounded(a) -> list:
    return np.round(np.asarray(a, dtype=np.float64), 4).tolist()


#: Timbres per forward pass: small, so a stopping server waits at most one batch.
_BATCH = 128


def compute_map(loaded, *, grid: int = MAP_GRID, points: int = PROJECTION_POINTS,
                cancel: Callable[[], bool] | None = None) -> dict[str, Any]:
    """The map as JSON-ready data (see docs/serve.md, ``GET /api/map``); ``cancel``
    stops it between batches (InterruptedError)."""
    import torch

    from neuralsynth.evaluation.embedding_map import embedding_map, embedding_projection

    table = loaded.model.instrument_embeddings().detach().double().cpu()
    if table.shape[1] == 2:
        m = embedding_map(loaded, grid=grid, batch_size=_BATCH, cancel=cancel)
        return {"kind": "map", "grid": grid, "xs": _rounded(m.xs), "ys": _rounded(m.ys),
                "centroid_hz": _rounded(m.centroid_hz), "energy_db": _rounded(m.energy_db),
                "mean": [0.0, 0.0], "axes": [[1.0, 0.0], [0.0, 1.0]],
                "probe": m.probe, "seconds": round(m.seconds, 2)}
    p = embedding_projection(loaded, n_points=points, batch_size=_BATCH, cancel=cancel)
    mean = table.mean(0, keepdim=True)
    _, _, vt = torch.linalg.svd(table - mean, full_matrices=False)
    axes = vt[:2].T                                                   # [D, 2]
    if axes.shape[1] < 2:
        axes = torch.cat([axes, torch.zeros(axes.shape[0], 2 - axes.shape[1],
                                            dtype=axes.dtype)], 1)
    return {"kind": "projection", "points": _rounded(p.points),
            "centroid_hz": _rounded(p.centroid_hz), "energy_db": _rounded(p.energy_db),
            "mean": _rounded(mean[0]), "axes": _rounded(axes),
            "explained": _rounded(p.explained), "probe": p.probe,
            "seconds": round(p.seconds, 2)}


def cached_map(loaded, digest: str, folder: str | os.PathLike, *, grid: int = MAP_GRID,
               cancel: Callable[[], bool] | None = None) -> dict[str, Any]:
    """:func:`compute_map` for the model whose file has ``digest``, from
    ``folder/map-<digest>-<grid>.json`` when it was computed before."""
    path = Path(folder) / f"map-{digest[:32]}-{int(grid)}.json"
    if path.is_file():
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pass                           # damaged: computed again below
    data = compute_map(loaded, grid=grid, cancel=cancel)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data), encoding="utf-8")
    return data


def plane_xy(point, data: dict[str, Any]) -> list[float]:
    """Where a point of the space ``[D]`` lies on the map's plane."""
    mean = np.asarray(data["mean"], dtype=np.float64)
    axes = np.asarray(data["axes"], dtype=np.float64)
    return _rounded((np.asarray(point, dtype=np.float64) - mean) @ axes)


__all__ = ["MAP_GRID", "cached_map", "compute_map", "file_digest", "plane_xy"]
