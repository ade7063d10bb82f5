"""What the timbre space sounds like everywhere: the paper's Figures 16 and 17.

A probe MIDI is rendered (as a mel spectrogram, no vocoder) with the timbre at many
points of the embedding space, and two numbers summarise each render:

- **spectral centroid** (Hz): per frame ``Σ f_m w_m S_m / Σ w_m S_m`` over mel bins ``m``
  with centre ``f_m`` and bandwidth ``w_m`` (the mel filters are area-normalised, so
  ``S_m`` is the band's mean magnitude and ``w_m S_m`` stands for the band's share of the
  linear spectrum), averaged over the frames where the probe plays (first onset to last
  note-off; the release tail is left out);
- **mean energy** (dB): ``10 log10`` of the mean over the same frames of ``Σ w_m S_m²``.

For a 2-D space (:func:`embedding_map`) the points form a ``grid × grid`` lattice over
the box around the instruments' embeddings (plus a margin). A space of more dimensions
has no such picture: :func:`embedding_projection` samples mixes of the instruments and
shows them on the first two principal axes of the instrument embeddings.

Cost: every point is a full forward pass of the model over the probe (the LSTM is
nonlinear in the timbre, so nothing can be shared between points): ``grid² × frames``
LSTM steps; the built-in probe is kept short for that reason.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from neuralsynth.audio import spectral as audio
from neuralsynth.errors import UsageError
from neuralsynth.midi.notes import Notes

#: The built-in probe: a C-major arpeggio over three octaves (C3 to C6), ten notes
#: 40 ms apart, each held 160 ms, velocity 96; 0.52 s of playing, 72 frames with the
#: tail. Short on purpose: a 320 x 320 map is 102 400 forward passes over the probe, and
#: the twice as long arpeggio first tried (133 frames) took 16 minutes on a shared
#: 2-core CPU.
PROBE_PITCHES = (48, 52, 55, 60, 64, 67, 72, 76, 79, 84)
PROBE_STEP_S = 0.04
PROBE_NOTE_S = 0.16
PROBE_VELOCITY = 96
#: Release rendered after the probe's last note-off (not part of the statistics).
PROBE_TAIL_S = 0.05
DEFAULT_GRID = 320
DEFAULT_MARGIN = 0.1


def probe_notes() -> Notes:
    """The built-in probe (see :data:`PROBE_PITCHES`)."""
    n = len(PROBE_PITCHES)
    start = np.arange(n, dtype=np.float64) * PROBE_STEP_S
    return Notes(start=start, end=start + PROBE_NOTE_S,
                 pitch=np.array(PROBE_PITCHES, np.int16),
                 velocity=np.full(n, PROBE_VELOCITY, np.int16),
                 program=np.zeros(n, np.int16))


def mel_bands() -> tuple[np.ndarray, np.ndarray]:
    """Centre frequency and bandwidth (Hz) of each mel filter: two ``[n_mels]`` arrays."""
    edges = audio.mel_to_hz(np.linspace(audio.hz_to_mel(audio.F_MIN),
                                        audio.hz_to_mel(audio.F_MAX), audio.N_MELS + 2))
    return edges[1:-1], (edges[2:] - edges[:-2]) / 2.0


def mel_stats(mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Spectral centroid (Hz) and mean energy (dB) of linear mels ``[B, T, M]`` over all
    their frames: two ``[B]`` tensors (float64)."""
    centre, width = (torch.as_tensor(a, dtype=torch.float64) for a in mel_bands())
    s = mel.to(torch.float64)
    weighted = s * width                                                     # [B, T, M]
    centroid = (weighted * centre).sum(-1) / weighted.sum(-1).clamp_min(1e-30)
    energy = (s * weighted).sum(-1).mean(-1)                                 # [B]
    return centroid.mean(-1), 10.0 * torch.log10(energy.clamp_min(1e-30))


class Probe:
    """A probe's model input: features ``x [1, T, F]`` and the frames it plays in."""

    def __init__(self, model, notes: Notes, name: str):
        if len(notes) == 0:
            raise UsageError(f"probe {name} has no notes")
        param = next(model.parameters())
        rate = audio.SAMPLE_RATE / audio.HOP_LENGTH
        n_frames = model.encoder.frames_for(notes.duration + PROBE_TAIL_S)
        feats = model.encoder.encode(notes, n_frames)
        self.x = torch.as_tensor(np.ascontiguousarray(feats), dtype=param.dtype,
                                 device=param.device).unsqueeze(0)
        first = int(round(float(notes.start.min()) * rate))
        last = int(round(notes.duration * rate))
        self.active = slice(first, max(first + 1, min(last, n_frames)))
        self.name = name
        self.n_frames = n_frames


def load_probe(model, probe: str | os.PathLike | None) -> Probe:
    """The built-in probe (``None``) or the notes of a MIDI file, as a :class:`Probe`."""
    if probe is None:
        return Probe(model, probe_notes(), "C-major arpeggio C3-C6")
    from neuralsynth.midi.read import load_notes

    return Probe(model, load_notes(probe), Path(probe).name)


def timbre_stats(model, probe: Probe, t: torch.Tensor, *, batch_size: int = 1024,
                 progress: bool = False, desc: str = "timbres",
                 cancel: Callable[[], bool] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Centroid (Hz) and energy (dB) of the probe rendered at each timbre ``t [P, W]``:
    two ``[P]`` float64 arrays. ``batch_size`` timbres run per forward pass; ``cancel``
    is asked before each and raises InterruptedError when it says so (a server that
    stops does not wait for a whole map)."""
    from tqdm import tqdm

    param = next(model.parameters())
    t = t.to(device=param.device, dtype=param.dtype)
    centroid = np.empty(t.shape[0])
    energy = np.empty(t.shape[0])
    bar = tqdm(total=t.shape[0], desc=desc, unit="pt", disable=not progress,
               dynamic_ncols=True, unit_scale=True)
    with torch.inference_mode():
        for start in range(0, t.shape[0], batch_size):
            if cancel is not None and cancel():
                bar.close()
                raise InterruptedError("cancelled")
            tb = t[start:start + batch_size]
            log_mel = model(probe.x.expand(tb.shape[0], -1, -1), tb)[:, probe.active]
            c, e = mel_stats(torch.exp(log_mel.float()).cpu())
            centroid[start:start + tb.shape[0]] = c.numpy()
            energy[start:start + tb.shape[0]] = e.numpy()
            bar.update(tb.shape[0])
    bar.close()
    return centroid, energy


@dataclasses.dataclass
class EmbeddingMap:
    """Figure 16 data. ``centroid_hz`` and ``energy_db`` are ``[grid, grid]`` with
    ``[i, j]`` at the point ``(xs[j], ys[i])``; ``coords [n, 2]`` are the instruments'
    embeddings, ``instrument_centroid_hz`` / ``instrument_energy_db [n]`` their own values."""

    xs: np.ndarray
    ys: np.ndarray
    centroid_hz: np.ndarray
    energy_db: np.ndarray
    instruments: list[str]
    coords: np.ndarray
    instrument_centroid_hz: np.ndarray
    instrument_energy_db: np.ndarray
    grid: int
    probe: str
    probe_frames: int
    model_name: str
    seconds: float


@dataclasses.dataclass
class EmbeddingProjection:
    """Figure 17 data: ``points [P, 2]`` (sampled mixes on the first two principal axes)
    with ``centroid_hz`` / ``energy_db [P]``; ``coords [n, 2]`` the projected instruments;
    ``explained [2]`` the share of the instruments' variance on each axis; optionally the
    t-SNE placement of the same points and instruments."""

    points: np.ndarray
    centroid_hz: np.ndarray
    energy_db: np.ndarray
    instruments: list[str]
    coords: np.ndarray
    instrument_centroid_hz: np.ndarray
    instrument_energy_db: np.ndarray
    explained: np.ndarray
    dim: int
    probe: str
    probe_frames: int
    model_name: str
    seconds: float
    #: The same points and instruments placed by t-SNE (``[P, 2]``, ``[n, 2]``), when
    #: asked for (``tsne=True``); None otherwise.
    tsne_points: np.ndarray | None = None
    tsne_coords: np.ndarray | None = None


def _check_count(name: str, value: int, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise UsageError(f"{name} must be a whole number >= {least}, got {value!r}")


def _axis(values: np.ndarray, n: int, margin: float) -> np.ndarray:
    """``n`` points from min to max of ``values`` widened by ``margin`` of the span each
    side (one unit each side when all values are equal)."""
    lo, hi = float(values.min()), float(values.max())
    pad = margin * (hi - lo) if hi > lo else 1.0
    return np.linspace(lo - pad, hi + pad, n)


def _model_name(loaded) -> str:
    name = getattr(loaded.recipe, "name", None)
    return str(name) if name else (Path(loaded.path).name if loaded.path else "model")


def embedding_map(loaded, *, grid: int = DEFAULT_GRID, probe: str | os.PathLike | None = None,
                  margin: float = DEFAULT_MARGIN, batch_size: int = 1024,
                  progress: bool = False,
                  cancel: Callable[[], bool] | None = None) -> EmbeddingMap:
    """Centroid and energy of the probe over a ``grid × grid`` lattice of a 2-D timbre
    space (Figure 16). Raises :class:`UsageError` for a space of another dimension."""
    _check_count("grid", grid, 2)
    _check_count("batch_size", batch_size, 1)
    if not (isinstance(margin, (int, float)) and 0 <= margin <= 10):
        raise UsageError(f"margin must be a number between 0 and 10, got {margin!r}")
    model = loaded.model
    model.eval()
    table = model.instrument_embeddings().detach().float().cpu()             # [n, D]
    if table.shape[1] != 2:
        raise UsageError(f"the embedding map needs a 2-D timbre space; this model's has "
                         f"{table.shape[1]} dimension(s) (use embedding_projection)")
    started = time.perf_counter()
    pr = load_probe(model, probe)
    coords = table.numpy().astype(np.float64)
    xs, ys = _axis(coords[:, 0], grid, margin), _axis(coords[:, 1], grid, margin)
    gx, gy = np.meshgrid(xs, ys)                                              # [G, G] each
    points = torch.from_numpy(np.stack([gx.ravel(), gy.ravel()], axis=1))     # [G*G, 2]
    centroid, energy = timbre_stats(model, pr, points, batch_size=batch_size,
                                    progress=progress, desc="embedding map", cancel=cancel)
    with torch.no_grad():
        own = model.instrument_timbres()             # [n, W]: own FiLM offsets too
    inst_c, inst_e = timbre_stats(model, pr, own, batch_size=batch_size)
    return EmbeddingMap(xs=xs, ys=ys, centroid_hz=centroid.reshape(grid, grid),
                        energy_db=energy.reshape(grid, grid),
                        instruments=list(loaded.instruments), coords=coords,
                        instrument_centroid_hz=inst_c, instrument_energy_db=inst_e,
                        grid=grid, probe=pr.name, probe_frames=pr.n_frames,
                        model_name=_model_name(loaded),
                        seconds=time.perf_counter() - started)


def random_mixes(n_instruments: int, n_points: int, seed: int = 0) -> np.ndarray:
    """Mixing weights ``[n_points, n_instruments]``: each row mixes two or three random
    instruments (uniform on their simplex), so the samples cover the edges and faces of
    the instruments' hull rather than crowding its centre as uniform mixes of all would."""
    rng = np.random.default_rng(seed)
    weights = np.zeros((n_points, n_instruments))
    for row in weights:
        k = min(n_instruments, int(rng.integers(2, 4)))
        chosen = rng.choice(n_instruments, size=k, replace=False)
        row[chosen] = rng.dirichlet(np.ones(k))
    return weights


def embedding_projection(loaded, *, n_points: int = 4096,
                         probe: str | os.PathLike | None = None, batch_size: int = 1024,
                         seed: int = 0, progress: bool = False, tsne: bool = False,
                         cancel: Callable[[], bool] | None = None) -> EmbeddingProjection:
    """Centroid and energy of the probe at ``n_points`` random mixes of the instruments,
    placed on the first two principal axes of the instrument embeddings, and with
    ``tsne`` also by t-SNE (Figure 17; :mod:`.tsne`)."""
    _check_count("n_points", n_points, 1)
    _check_count("batch_size", batch_size, 1)
    model = loaded.model
    model.eval()
    table = model.instrument_embeddings().detach().double().cpu()            # [n, D]
    started = time.perf_counter()
    pr = load_probe(model, probe)
    mixes = torch.from_numpy(random_mixes(table.shape[0], n_points, seed))   # [P, n]
    points = mixes @ table                                                   # [P, D]
    # The mixes sound as model.embed makes them (with instruments' own FiLM offsets,
    # where a model has them); they are placed by their point in the space.
    param = next(model.parameters())
    with torch.no_grad():
        sounds = model.embed(mixes.to(device=param.device, dtype=param.dtype))  # [P, W]
    centroid, energy = timbre_stats(model, pr, sounds, batch_size=batch_size,
                                    progress=progress, desc="projection", cancel=cancel)
    with torch.no_grad():
        own = model.instrument_timbres()             # [n, W]: own FiLM offsets too
    inst_c, inst_e = timbre_stats(model, pr, own, batch_size=batch_size)
    mean = table.mean(0, keepdim=True)
    _, sing, vt = torch.linalg.svd(table - mean, full_matrices=False)
    axes = vt[:2].T                                                          # [D, ≤2]
    if axes.shape[1] < 2:                        # a single instrument: pad a zero axis
        axes = torch.cat([axes, torch.zeros(axes.shape[0], 2 - axes.shape[1],
                                            dtype=axes.dtype)], 1)
    var = sing.numpy() ** 2
    explained = np.zeros(2)
    if var.sum() > 0:
        explained[:min(2, var.shape[0])] = (var / var.sum())[:2]
    tsne_points = tsne_coords = None
    if tsne:
        from neuralsynth.evaluation.tsne import tsne_layout

        tsne_points, tsne_coords = tsne_layout(points.numpy(), table.numpy(), seed=seed)
    return EmbeddingProjection(
        points=((points - mean) @ axes).numpy(), centroid_hz=centroid, energy_db=energy,
        instruments=list(loaded.instruments), coords=((table - mean) @ axes).numpy(),
        instrument_centroid_hz=inst_c, instrument_energy_db=inst_e, explained=explained,
        dim=int(table.shape[1]), probe=pr.name, probe_frames=pr.n_frames,
        model_name=_model_name(loaded), seconds=time.perf_counter() - started,
        tsne_points=tsne_points, tsne_coords=tsne_coords)


def write_map_png(result: EmbeddingMap | EmbeddingProjection, path: str | os.PathLike) -> Path:
    """Draw ``result`` (Figure 16 or 17) to ``path`` atomically."""
    from neuralsynth.evaluation.plots import plot_embedding_map, plot_projection
    from neuralsynth.fileio import atomic_path

    with atomic_path(path) as tmp:
        if isinstance(result, EmbeddingMap):
            plot_embedding_map(result, tmp)
        else:
            plot_projection(result, tmp)
    return Path(path)

