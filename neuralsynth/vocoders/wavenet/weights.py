"""Engine-neutral export of a WaveNet's autoregressive part, and its .npz file format.

Every inference engine (reference, cpu, cuda) reads the same dict of float32 arrays, laid
out as plain matrices acting on column vectors (``y = W @ x + b``). With ``L`` layers,
residual ``R``, gate ``G`` (halves ``H = G/2``), skip ``S`` and ``C`` classes:

=================  ==============  ====================================================
key                shape           meaning
=================  ==============  ====================================================
``embedding``      ``[C, R]``      row ``k``: residual input when the previous class is k
``dilated_prev``   ``[L, G, R]``   dilated-conv tap on ``h[t - d]``
``dilated_cur``    ``[L, G, R]``   dilated-conv tap on ``h[t]``
``dilated_bias``   ``[L, G]``      dilated-conv bias (the conditioning is added as well)
``residual_w``     ``[L-1, R, H]`` residual 1×1 of layers ``0 … L-2`` (the last has none)
``residual_b``     ``[L-1, R]``
``skip_w``         ``[L, S, H]``   skip 1×1 of each layer
``skip_b``         ``[L, S]``
``head1_w``        ``[C, S]``      after relu(skip sum)
``head1_b``        ``[C]``
``head2_w``        ``[C, C]``      after relu; gives the logits
``head2_b``        ``[C]``
``dilations``      ``[L]`` int64   dilation of each layer
``config``         0-d str         JSON of the WaveNetConfig plus ``n_mels``, ``hop_length``
``format``         0-d str         :data:`FORMAT`
``version``        0-d int64       :data:`VERSION`
=================  ==============  ====================================================

Gate rows ``0 … H-1`` feed tanh, rows ``H … G-1`` feed the sigmoid. The conditioning
(upsampler and per-layer projection) is not part of the export: engines take it
precomputed from :meth:`WaveNet.conditioning` as ``[L, G, T]`` per stream.
"""

from __future__ import annotations

import dataclasses
import json
import os
import zipfile
from typing import Any

import numpy as np
import torch
from numpy.lib.npyio import NpzFile

from neuralsynth.errors import CheckpointError
from neuralsynth.fileio import atomic_path

FORMAT = "neuralsynth.wavenet.weights"
VERSION = 1

MATRICES = ("embedding", "dilated_prev", "dilated_cur", "dilated_bias", "residual_w",
            "residual_b", "skip_w", "skip_b", "head1_w", "head1_b", "head2_w", "head2_b")


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().to("cpu", dtype=torch.float32).numpy().copy()


def export_weights(model) -> dict[str, np.ndarray]:
    """The engine-neutral weight dict of a :class:`~.model.WaveNet` (see module doc)."""
    cfg = model.config

    def stack(mods, attr, fn=lambda t: t):
        if not mods:  # a one-layer net has no residual convolutions
            return None
        return np.stack([_np(fn(getattr(m, attr))) for m in mods])

    with torch.no_grad():
        w = {
            "embedding": _np(model.embedding.weight),
            "dilated_prev": stack(model.dilated, "weight", lambda t: t[:, :, 0]),
            "dilated_cur": stack(model.dilated, "weight", lambda t: t[:, :, 1]),
            "dilated_bias": stack(model.dilated, "bias"),
            "residual_w": stack(model.residual, "weight", lambda t: t[:, :, 0]),
            "residual_b": stack(model.residual, "bias"),
            "skip_w": stack(model.skip, "weight", lambda t: t[:, :, 0]),
            "skip_b": stack(model.skip, "bias"),
            "head1_w": _np(model.head1.weight[:, :, 0]),
            "head1_b": _np(model.head1.bias),
            "head2_w": _np(model.head2.weight[:, :, 0]),
            "head2_b": _np(model.head2.bias),
        }
    R, H = cfg.residual_channels, cfg.gate_channels // 2
    if w["residual_w"] is None:
        w["residual_w"] = np.zeros((0, R, H), np.float32)
        w["residual_b"] = np.zeros((0, R), np.float32)
    meta = dict(dataclasses.asdict(cfg), n_mels=model.n_mels, hop_length=model.hop_length)
    w["dilations"] = np.asarray(model.dilations, dtype=np.int64)
    w["config"] = np.asarray(json.dumps(meta, sort_keys=True))
    w["format"] = np.asarray(FORMAT)
    w["version"] = np.asarray(VERSION, dtype=np.int64)
    check_weights(w)
    return w


def weights_config(weights: dict[str, np.ndarray]) -> dict[str, Any]:
    """The config JSON stored in a weight dict, as a plain dict."""
    return json.loads(str(weights["config"]))


def expected_shapes(weights: dict[str, np.ndarray]) -> dict[str, tuple[int, ...]]:
    """Shape each array must have, from the stored config."""
    c = weights_config(weights)
    L, R, G, S, C = (c["n_layers"], c["residual_channels"], c["gate_channels"],
                     c["skip_channels"], c["n_classes"])
    H = G // 2
    return {"embedding": (C, R), "dilated_prev": (L, G, R), "dilated_cur": (L, G, R),
            "dilated_bias": (L, G), "residual_w": (L - 1, R, H), "residual_b": (L - 1, R),
            "skip_w": (L, S, H), "skip_b": (L, S), "head1_w": (C, S), "head1_b": (C,),
            "head2_w": (C, C), "head2_b": (C,), "dilations": (L,)}


def check_weights(weights: dict[str, np.ndarray], source: str = "weights") -> None:
    """Raise CheckpointError (one line) unless ``weights`` is a complete, consistent export."""
    fmt = weights.get("format")
    if fmt is None or fmt.shape != () or str(fmt) != FORMAT:
        raise CheckpointError(f"{source}: not a neuralsynth WaveNet weight file "
                              f"(format tag {FORMAT!r} missing)")
    version = weights.get("version")
    if version is None or version.shape != () or int(version) != VERSION:
        raise CheckpointError(f"{source}: WaveNet weight format version "
                              f"{None if version is None else version.tolist()!r} "
                              f"is not supported (expected {VERSION})")
    try:
        shapes = expected_shapes(weights)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{source}: missing or unreadable WaveNet config "
                              f"({type(exc).__name__}: {exc})") from None
    for key, shape in shapes.items():
        arr = weights.get(key)
        if arr is None:
            raise CheckpointError(f"{source}: missing WaveNet array {key!r}")
        if tuple(arr.shape) != shape:
            raise CheckpointError(f"{source}: WaveNet array {key!r} has shape "
                                  f"{tuple(arr.shape)}, expected {shape}")
        want = np.int64 if key == "dilations" else np.float32
        if arr.dtype != want:
            raise CheckpointError(f"{source}: WaveNet array {key!r} has dtype {arr.dtype}, "
                                  f"expected {np.dtype(want).name}")


def save_weights(path: str | os.PathLike, weights: dict[str, np.ndarray]) -> None:
    """Write a weight dict to ``path`` as uncompressed .npz, atomically."""
    check_weights(weights)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        # A file object, not a name: np.savez would append ".npz" to other names.
        np.savez(f, **weights)


def load_weights(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read and validate a weight file written by :func:`save_weights`.

    Raises :class:`~neuralsynth.errors.CheckpointError` with a one-line message for a
    missing file, a file that is not .npz, or an incomplete or inconsistent export.
    Pickled objects are refused (``allow_pickle=False``), so loading cannot run code.
    """
    source = os.fspath(path)
    try:
        data = np.load(source, allow_pickle=False)
        if not isinstance(data, NpzFile):  # a bare .npy array
            raise CheckpointError(f"{source}: not a neuralsynth WaveNet weight file "
                                  "(a single array, not an .npz archive)")
        with data:
            weights = {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise CheckpointError(f"{source}: no such WaveNet weight file") from None
    except CheckpointError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"{source}: not a neuralsynth WaveNet weight file "
                              f"({reason})") from None
    check_weights(weights, source)
    return weights
