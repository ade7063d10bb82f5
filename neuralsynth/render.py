"""Render a MIDI file to audio with a trained Mel2Mel checkpoint and a vocoder.

    notes = load_notes(MIDI)                         # drums excluded
    X     = encoder.encode(notes, n_frames)          # [T, in_dim], T covers MIDI + tail
    S     = exp(model(X, timbre embedding))          # [T, 80] linear mel
    wave  = vocoder.synthesize(S)                    # [T * 128] at 16 kHz

Every input (output path, checkpoint, MIDI, timbre, vocoder spec) is checked before any
computation, and the audio is written atomically, so a failed render never leaves a
partial file behind nor clobbers an existing one.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Any

from .errors import NeuralsynthError, PluginError, RecipeError, TimbreError, UsageError

#: Suffixes :func:`neuralsynth.audio.write_audio` can write.
OUTPUT_SUFFIXES = (".wav", ".flac")
DEFAULT_VOCODER: dict[str, Any] = {"name": "griffin_lim"}


@dataclasses.dataclass
class RenderResult:
    """What a render produced.

    ``seconds`` is the audio duration (``n_samples / sample_rate``); ``timings`` maps
    each stage (load, encode, model, vocoder, write, and total) to wall-clock seconds.
    """

    out_path: Path
    seconds: float
    n_samples: int
    timings: dict[str, float]
    sample_rate: int = 16000
    timbre: str = ""
    vocoder: str = ""
    device: str = "cpu"


#: Environment variable naming the model ``render`` uses without ``--model``.
DEFAULT_MODEL_ENV = "NEURALSYNTH_DEFAULT_MODEL"


def default_model_path() -> Path | None:
    """The model ``render`` uses when none is given, or None when there is none.

    ``$NEURALSYNTH_DEFAULT_MODEL`` wins when set: a path (it must be an existing file,
    else :class:`UsageError` names the variable), or ``none`` to ignore the bundled model.
    Otherwise the model shipped inside the package, ``neuralsynth/models/default.pt``,
    when that file is installed. An empty variable counts as unset.
    """
    import importlib.resources
    import os

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
    bundled = importlib.resources.files("neuralsynth") / "models" / "default.pt"
    # A normal (unzipped) install puts package data on disk, where torch.load can open
    # it by path; a zipped install has no such path and gets no default model.
    if isinstance(bundled, Path) and bundled.is_file():
        return bundled
    return None


def default_timbre(instruments: list[str]) -> str:
    """``piano`` when the model knows a piano, else the model's first instrument."""
    from .instruments import resolve_instrument

    try:
        return resolve_instrument("piano", known=instruments)
    except TimbreError:
        return instruments[0]


def vocoder_spec(requested: dict[str, Any] | None, recipe: Any | None,
                 options: dict[str, Any] | None = None) -> dict[str, Any]:
    """The vocoder spec to use: ``requested``, else the checkpoint recipe's, else Griffin-Lim.

    When ``requested`` names the recipe's own vocoder, the recipe's parameters are kept
    under the requested ones (a trained vocoder's settings stay in force). ``options``
    override parameters of whichever spec is chosen.
    """
    stored = getattr(recipe, "vocoder", None) if recipe is not None else None
    if not (isinstance(stored, dict) and isinstance(stored.get("name"), str)):
        stored = None
    if requested is not None:
        if not isinstance(requested, dict) or not isinstance(requested.get("name"), str):
            raise UsageError(f"vocoder spec must be a mapping with a 'name', got {requested!r}")
        spec = dict(requested)
        if stored is not None and stored["name"] == spec["name"]:
            spec = {**stored, **spec}
    else:
        spec = dict(stored if stored is not None else DEFAULT_VOCODER)
    if options:
        if "name" in options:
            raise UsageError("vocoder options cannot change the vocoder's name")
        spec.update(options)
    return spec


def build_vocoder(spec: dict[str, Any], *, n_mels: int, sample_rate: int, hop_length: int):
    """Build a vocoder from the registry; every problem becomes one :class:`UsageError` line."""
    from .vocoders.base import VOCODERS

    try:
        return VOCODERS.build(spec, n_mels=n_mels, sample_rate=sample_rate,
                              hop_length=hop_length)
    except RecipeError as exc:
        # RecipeError is a multi-line listing meant for recipe files; a flag wants one line.
        raise UsageError("; ".join(exc.problems)) from None
    except PluginError as exc:
        raise UsageError(str(exc).splitlines()[0]) from None


def _check_output_path(out_path: Path) -> None:
    if out_path.suffix.lower() not in OUTPUT_SUFFIXES:
        raise UsageError(f"output '{out_path}' must end in {' or '.join(OUTPUT_SUFFIXES)}")
    if out_path.is_dir():
        raise UsageError(f"output '{out_path}' is a directory")


def _fit_length(wave, n_samples: int, hop_length: int, name: str):
    """Trim or zero-pad the vocoder output to exactly ``n_samples``.

    The vocoder contract is ``T * hop_length`` samples; an inverse STFT may legitimately
    be off by part of a hop, but anything further is a broken vocoder.
    """
    import numpy as np

    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim != 1:
        raise PluginError(f"vocoder '{name}' returned an array of shape {wave.shape}; "
                          f"expected a 1-D waveform")
    if abs(wave.shape[0] - n_samples) >= hop_length:
        raise PluginError(f"vocoder '{name}' returned {wave.shape[0]} samples for "
                          f"{n_samples // hop_length} frames; expected {n_samples}")
    if wave.shape[0] > n_samples:
        return wave[:n_samples]
    return np.pad(wave, (0, n_samples - wave.shape[0]))


def render_midi(midi_path: str | Path, out_path: str | Path, *,
                model_path: str | Path | None = None, timbre: str | None = None,
                vocoder: dict[str, Any] | None = None,
                vocoder_options: dict[str, Any] | None = None, tail_seconds: float = 1.0,
                device: str = "cpu", progress: bool = False) -> RenderResult:
    """Render ``midi_path`` to ``out_path`` (.wav or .flac).

    ``timbre`` is a spec for :func:`neuralsynth.timbre.parse_timbre` (default: piano if
    the checkpoint has one, else its first instrument). ``vocoder`` is a spec like ``{"name": "griffin_lim",
    "n_iter": 32}`` (default: the checkpoint recipe's vocoder, else Griffin-Lim);
    ``vocoder_options`` override its parameters.
    The output has ``n_frames * hop_length`` samples, ``n_frames`` covering the last
    note-off plus ``tail_seconds`` of release. ``progress`` lets slow vocoders (wavenet)
    show a progress bar on stderr.
    """
    import numpy as np
    import torch

    from . import audio
    from .checkpoint import load_model
    from .device import resolve_device
    from .midi import load_notes
    from .timbre import parse_timbre

    timings: dict[str, float] = {}
    started = time.perf_counter()
    midi_path = Path(midi_path)
    out_path = Path(out_path)

    # -- validate everything before any output exists ---------------------------------
    _check_output_path(out_path)
    if not (isinstance(tail_seconds, (int, float)) and math.isfinite(tail_seconds)
            and tail_seconds >= 0):
        raise UsageError(f"tail must be a number of seconds >= 0, got {tail_seconds!r}")
    if model_path is None:
        model_path = default_model_path()
        if model_path is None:
            raise UsageError("no model given and no bundled default model is installed")
    torch_device = resolve_device(device)  # a bad --device fails before any output exists
    notes = load_notes(midi_path)
    loaded = load_model(model_path, device=torch_device)
    model = loaded.model
    model.eval()
    instruments = list(loaded.instruments)
    table = model.instrument_embeddings()
    parsed = parse_timbre(timbre if timbre is not None else default_timbre(instruments),
                          instruments, int(table.shape[-1]))
    spec = vocoder_spec(vocoder, loaded.recipe, vocoder_options)
    synth = build_vocoder(spec, n_mels=audio.N_MELS, sample_rate=audio.SAMPLE_RATE,
                          hop_length=audio.HOP_LENGTH)
    synth.progress = bool(progress)
    timings["load"] = time.perf_counter() - started

    # -- notes → features → mel -------------------------------------------------------
    t0 = time.perf_counter()
    encoder = model.encoder
    n_frames = encoder.frames_for(notes.duration + float(tail_seconds))
    features = encoder.encode(notes, n_frames)
    x = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32))
    x = x.to(torch_device).unsqueeze(0)                              # [1, T, in_dim]
    timings["encode"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    with torch.inference_mode():
        if parsed.is_static:
            t = parsed.embedding(model).unsqueeze(0)                 # [1, D]
        else:
            t = parsed.trajectory(model, n_frames).unsqueeze(0)      # [1, T, D]
        log_mel = model(x, t)                                        # [1, T, n_mels]
        mel = torch.exp(log_mel[0]).float().cpu().numpy()            # [T, n_mels] linear
    timings["model"] = time.perf_counter() - t0

    # -- mel → audio → file ------------------------------------------------------------
    t0 = time.perf_counter()
    n_samples = n_frames * audio.HOP_LENGTH
    wave = _fit_length(synth.synthesize(mel), n_samples, audio.HOP_LENGTH, spec["name"])
    if not np.all(np.isfinite(wave)):
        raise NeuralsynthError(f"vocoder '{spec['name']}' produced non-finite samples; "
                               f"no file written")
    peak = float(np.max(np.abs(wave))) if wave.size else 0.0
    if peak > 1.0:
        # Scale down instead of letting the file format clip the waveform.
        wave = wave * (0.99 / peak)
    timings["vocoder"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    audio.write_audio(out_path, wave, sample_rate=audio.SAMPLE_RATE)
    timings["write"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - started

    return RenderResult(out_path=out_path, seconds=n_samples / audio.SAMPLE_RATE,
                        n_samples=n_samples, timings=timings,
                        sample_rate=audio.SAMPLE_RATE, timbre=parsed.describe(),
                        vocoder=spec["name"], device=str(torch_device))
