"""The Python face of rendering: a loaded model that turns MIDI into :class:`Audio`.

    import neuralsynth as ns
    synth = ns.load_model()                               # the bundled model
    audio = synth.render("song.mid", "piano:0.3,organ:0.7")
    audio.write("song.wav")

``neuralsynth render`` is a thin layer over :meth:`Synth.render` (through
:func:`neuralsynth.inference.render.render_midi`), so the CLI and the API give the same
samples for the same inputs.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from neuralsynth.audio.clip import Audio
from neuralsynth.audio.constants import SAMPLE_RATE
from neuralsynth.device import resolve_device
from neuralsynth.errors import TimbreError, UsageError
from neuralsynth.inference.job import RenderJob, check_tail, prepare_job
from neuralsynth.inference.load import (
    LoadedModel,
    default_timbre,
    load_trained_model,
    resolve_model,
)
from neuralsynth.midi.read import MidiSource, load_notes
from neuralsynth.timbre.spec import parse_timbre


class Synth:
    """A trained Mel2Mel model on a device, ready to render.

    ``render(midi, timbre)`` → :class:`Audio` (float32 ``[n]`` at 16 kHz, loudness
    normalised), where ``n`` covers the last note-off plus ``tail`` seconds, in whole
    frames of 128 samples; it is made window by window (:mod:`.windowed`), so a long
    piece costs no more memory than its samples.
    ``embedding(spec)`` → ``torch.Tensor [D]`` (float32, CPU), the point of a static timbre.
    ``mel(midi, timbre)`` → float32 ``[T, 80]`` linear mel, the model's prediction.
    """

    def __init__(self, loaded: LoadedModel, device: torch.device):
        self._loaded = loaded
        self.device = device
        self.model = loaded.model

    # -- what the model is --------------------------------------------------------------
    @property
    def instruments(self) -> list[str]:
        """The instruments of the model's timbre space, in embedding-row order."""
        return list(self._loaded.instruments)

    @property
    def embedding_dim(self) -> int:
        """Dimensions of the timbre space."""
        return int(self.model.instrument_embeddings().shape[-1])

    @property
    def path(self) -> Path | None:
        """The checkpoint file the model was loaded from."""
        return self._loaded.path

    @property
    def recipe(self) -> Any:
        """The resolved recipe the model was trained with."""
        return self._loaded.recipe

    def __repr__(self) -> str:
        return (f"Synth({self.path}, {len(self.instruments)} instruments, "
                f"{self.embedding_dim}-D timbre space, {self.device})")

    # -- timbre -------------------------------------------------------------------------
    def timbre(self, spec: str | None = None):
        """Parse a timbre spec for this model (None: piano, else the first instrument);
        a :class:`~neuralsynth.timbre.point.Timbre` or a morph
        :class:`~neuralsynth.timbre.path.TimbrePath`."""
        if spec is not None and not isinstance(spec, str):
            raise TimbreError(f"a timbre spec is a string like 'piano:0.3,organ:0.7', "
                              f"not a {type(spec).__name__}")
        text = spec if spec is not None else default_timbre(self.instruments)
        return parse_timbre(text, self.instruments, self.embedding_dim)

    def embedding(self, spec: str) -> torch.Tensor:
        """The embedding ``[D]`` of a static timbre spec (an instrument, mix or ``xy:``)."""
        parsed = self.timbre(spec)
        if not parsed.is_static:
            raise TimbreError(f"'{spec}' is a morph, which has no single embedding; "
                              f"ask for one of its keyframes")
        with torch.inference_mode():
            vector = parsed.embedding(self.model)
        # The point is the first D numbers of the timbre vector (the rest, where a model
        # has per-instrument FiLM offsets, are the mixing weights).
        return vector[:self.embedding_dim].detach().float().cpu().clone()

    # -- rendering ----------------------------------------------------------------------
    def mel(self, midi: MidiSource, timbre: str | None = None, *,
            tail: float = 1.0) -> np.ndarray:
        """The predicted linear mel spectrogram, float32 ``[T, 80]``."""
        return self._predict(*self._inputs(midi, timbre, tail), tail)

    def render(self, midi: MidiSource, timbre: str | None = None, *,
               vocoder: str | dict[str, Any] | None = None,
               vocoder_options: dict[str, Any] | None = None, tail: float = 1.0,
               tracks: Sequence[str] = (), gm: bool = False,
               loudness: float | None = -16.0,
               progress: bool = False) -> Audio:
        """Render ``midi`` (a path, the bytes of a MIDI file, or a ``pretty_midi.PrettyMIDI``)
        with ``timbre`` (a spec such as ``"piano"``, ``"piano:0.3,organ:0.7"``,
        ``"xy:0.5,-1.2"`` or ``"piano@0s,organ@8s"``; None: piano).

        ``tracks``: rules ``"SELECTOR=TIMBRE"`` giving tracks their own timbre (SELECTOR a
        track index, a track name, ``program:N`` or ``program:A-B``); ``gm``: map every
        other track by its General MIDI program (docs/tracks.md). Tracks without a rule
        take ``timbre``; drum tracks are left out. ``vocoder`` is a registered name or a
        spec dict (None: the model recipe's vocoder, else
        :data:`~neuralsynth.vocoders.select.DEFAULT_VOCODER`); ``vocoder_options``
        override its parameters. ``loudness``: integrated loudness of the result in LUFS
        (-16 by default, peaks at most -1 dBFS), or None to leave the level as the model
        made it (peaks above -1 dBFS are still limited). Every input is checked
        before any computation. ``progress`` shows a bar on stderr for long pieces.
        """
        started = time.perf_counter()
        job = self.prepare(midi, timbre, vocoder=vocoder, vocoder_options=vocoder_options,
                           tail=tail, tracks=tracks, gm=gm)
        timings: dict[str, float] = {"load": time.perf_counter() - started}
        windowed = job.renderer(self.model, self.device, progress=progress)
        wave = np.concatenate(list(windowed.blocks()) or [np.zeros(0, np.float32)])
        timings.update(windowed.timings)
        from neuralsynth.audio.master import normalize

        t0 = time.perf_counter()
        wave, level = normalize(wave, SAMPLE_RATE, loudness=loudness)
        timings["level"] = time.perf_counter() - t0
        timings["total"] = time.perf_counter() - started
        return Audio(wave, SAMPLE_RATE,
                     {"timbre": ", ".join(p.timbre.describe() for p in job.parts),
                      "vocoder": job.vocoder_name, "device": str(self.device),
                      "timings": timings, "tracks": list(job.report),
                      "drum_notes": job.drum_notes, "out_of_range": job.out_of_range,
                      "windows": windowed.windows, "silent_windows": windowed.skipped,
                      "level": level})

    def prepare(self, midi: MidiSource, timbre: str | None = None, *,
                vocoder: str | dict[str, Any] | None = None,
                vocoder_options: dict[str, Any] | None = None, tail: float = 1.0,
                tracks: Sequence[str] = (), gm: bool = False) -> RenderJob:
        """Check every input of :meth:`render` and plan it, without rendering: a
        :class:`~neuralsynth.inference.job.RenderJob` whose ``renderer(...).blocks()``
        yields the audio window by window (what ``neuralsynth render`` streams to disk)."""
        if timbre is not None and not isinstance(timbre, str):
            raise TimbreError(f"a timbre spec is a string like 'piano:0.3,organ:0.7', "
                              f"not a {type(timbre).__name__}")
        return prepare_job(self, midi, timbre, tracks=tuple(tracks), gm=bool(gm), tail=tail,
                           vocoder=_as_spec(vocoder), vocoder_options=vocoder_options)

    def fit_timbre(self, recordings, *, steps: int = 30, max_offset: float = 0.5,
                   adapt: str | None = None):
        """The timbre of recordings of known notes: ``recordings`` is a list of
        ``(audio_path, midi)`` pairs fitted jointly; returns a
        :class:`~neuralsynth.inference.timbre_fit.TimbreFit` (``embedding [D]``, loss,
        offsets, nearest instruments, closest mix; ``film`` offsets with
        ``adapt="film"``). Save it as an instrument with
        :func:`neuralsynth.inference.add_instrument.save_with_instrument`
        (``film=fit.film``)."""
        from neuralsynth.inference.timbre_fit import fit_timbre

        return fit_timbre(self, list(recordings), steps=steps, max_offset=max_offset,
                          adapt=adapt)

    def _inputs(self, midi: MidiSource, timbre: str | None, tail: Any):
        """The notes and the parsed timbre, after checking all three inputs."""
        parsed = self.timbre(timbre)
        check_tail(tail)
        return load_notes(midi), parsed

    def _predict(self, notes, parsed, tail: float,
                 timings: dict[str, float] | None = None) -> np.ndarray:
        """notes → piano roll ``[1, T, in_dim]`` → linear mel ``[T, n_mels]``."""
        timings = timings if timings is not None else {}
        t0 = time.perf_counter()
        encoder = self.model.encoder
        n_frames = encoder.frames_for(notes.duration + float(tail))
        features = encoder.encode(notes, n_frames)
        x = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32))
        x = x.to(self.device).unsqueeze(0)                            # [1, T, in_dim]
        timings["encode"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        with torch.inference_mode():
            if parsed.is_static:
                t = parsed.embedding(self.model).unsqueeze(0)             # [1, D]
            else:
                t = parsed.trajectory(self.model, n_frames).unsqueeze(0)  # [1, T, D]
            log_mel = self.model(x, t)                                    # [1, T, n_mels]
            mel = torch.exp(log_mel[0]).float().cpu().numpy()             # [T, n_mels]
        timings["model"] = time.perf_counter() - t0
        return mel


def load_model(model: str | os.PathLike | None = None, *, device: str = "auto") -> Synth:
    """Load a model for rendering: None → the bundled default model; a checkpoint or
    export path; or a bundled model's name. ``device``: ``auto`` (CUDA when present),
    ``cpu``, ``cuda`` or ``cuda:N``."""
    path = resolve_model(model)
    dev = resolve_device(device)
    loaded = load_trained_model(path, device=dev)
    return Synth(loaded, dev)


def _as_spec(vocoder: str | dict[str, Any] | None) -> dict[str, Any] | None:
    if vocoder is None or isinstance(vocoder, dict):
        return vocoder
    if isinstance(vocoder, str) and vocoder.strip():
        return {"name": vocoder.strip()}
    raise UsageError(f"vocoder must be a registered name or a spec dict, got {vocoder!r}")


__all__ = ["Synth", "load_model"]
