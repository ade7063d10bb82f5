"""Render a MIDI file to an audio file: the library call behind ``neuralsynth render``.

    job   = synth.prepare(MIDI, timbre, tracks=..., gm=...)   # every input checked
    for each window of the piece (neuralsynth.inference.windows):
        for each part (a track, or tracks sharing a timbre):
            X    = encoder.encode_window(notes, ...)          # [frames, in_dim]
            S    = exp(model(X, timbre embedding))            # [frames, 80] linear mel
            wave += vocoder.vocode(S, Score(notes, ...))      # [frames * 128] at 16 kHz
        cross-fade into the previous window, spool to disk
    loudness-normalise the mix once, resample, encode, rename into place

The output path is checked before anything is loaded; memory is one window's, whatever
the length of the piece; the file appears, complete, only when everything succeeded, so
a failed render never leaves a partial file behind nor clobbers an existing one.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Sequence

from neuralsynth.audio.constants import SAMPLE_RATE
from neuralsynth.audio.output import check_output_path, output_spec
from neuralsynth.inference.synth import load_model


@dataclasses.dataclass
class RenderResult:
    """What a render produced.

    ``seconds`` is the audio duration; ``timings`` maps each stage (load, encode, model,
    vocoder, write, and total) to wall-clock seconds; ``tracks`` the per-track report
    lines (empty for a single-timbre render); ``loudness`` the integrated loudness of
    the file in LUFS (None when silent or not measured).
    """

    out_path: Path | None
    seconds: float
    n_samples: int
    timings: dict[str, float]
    sample_rate: int = SAMPLE_RATE
    timbre: str = ""
    vocoder: str = ""
    device: str = "cpu"
    tracks: list[str] = dataclasses.field(default_factory=list)
    drum_notes: int = 0
    out_of_range: int = 0
    loudness: float | None = None
    gain_db: float = 0.0
    limited: bool = False
    windows: int = 1
    silent_windows: int = 0


def render_midi(midi_path: str | Path, out_path: str | Path, *,
                model_path: str | Path | None = None, timbre: str | None = None,
                vocoder: dict[str, Any] | None = None,
                vocoder_options: dict[str, Any] | None = None, tail_seconds: float = 1.0,
                device: str = "cpu", tracks: Sequence[str] = (), gm: bool = False,
                loudness: float | None = -16.0, sample_rate: int = SAMPLE_RATE,
                bit_depth: str = "16", progress: bool = False) -> RenderResult:
    """Render ``midi_path`` to ``out_path`` (.wav, .flac or .ogg; ``"-"``: WAV on stdout).

    ``model_path``: a checkpoint, export or bundled model name (None: the default model).
    ``timbre``, ``tracks``, ``gm``, ``vocoder``, ``vocoder_options`` and ``tail_seconds``
    are those of :meth:`~neuralsynth.inference.synth.Synth.render`; ``loudness`` the
    target in LUFS (None: off), ``sample_rate`` and ``bit_depth`` the file's.
    """
    from neuralsynth.audio.master import Master

    started = time.perf_counter()
    spec = output_spec(out_path, sample_rate=sample_rate, bit_depth=bit_depth)
    check_output_path(spec)
    synth = load_model(model_path, device=device)
    job = synth.prepare(midi_path, timbre, vocoder=vocoder, vocoder_options=vocoder_options,
                        tail=tail_seconds, tracks=tracks, gm=gm)
    _check_disk_space(spec, job.seconds)
    timings = {"load": time.perf_counter() - started}
    windowed = job.renderer(synth.model, synth.device, progress=progress)
    with Master(spec, loudness=loudness) as master:
        for block in windowed.blocks():
            master.feed(block)
        t0 = time.perf_counter()
        report = master.finish()
    timings.update(windowed.timings)
    timings["write"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - started
    return RenderResult(out_path=spec.path, seconds=job.seconds,
                        n_samples=int(report.n_frames), timings=timings,
                        sample_rate=spec.sample_rate,
                        timbre=", ".join(p.timbre.describe() for p in job.parts),
                        vocoder=job.vocoder_name, device=str(synth.device),
                        tracks=list(job.report), drum_notes=job.drum_notes,
                        out_of_range=job.out_of_range, loudness=report.output_loudness,
                        gain_db=report.gain_db, limited=bool(report.limited),
                        windows=windowed.windows, silent_windows=windowed.skipped)


def _check_disk_space(spec, seconds: float) -> None:
    """A disk too small for the result is found now, not after the render: the spool
    (float32 at 16 kHz) and the file (at most 4 bytes a sample) share the output's file
    system, and both exist until the file is renamed into place."""
    import shutil

    from neuralsynth.errors import UsageError

    if spec.path is None:
        return
    need = seconds * (4 * SAMPLE_RATE + 4 * spec.sample_rate) + (1 << 20)
    free = shutil.disk_usage(spec.path.parent).free
    if free < need:
        raise UsageError(f"not enough disk space for '{spec.path}': the render needs about "
                         f"{need / 1e6:.0f} MB there, {free / 1e6:.1f} MB are free")


__all__ = ["RenderResult", "render_midi"]
