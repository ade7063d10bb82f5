"""Render a MIDI file to an audio file: the library call behind ``neuralsynth render``.

    notes = load_notes(MIDI)                         # drums excluded
    X     = encoder.encode(notes, n_frames)          # [T, in_dim], T covers MIDI + tail
    S     = exp(model(X, timbre embedding))          # [T, 80] linear mel
    wave  = vocoder.vocode(S, Score(notes, T))       # [T * 128] at 16 kHz

The work is :meth:`neuralsynth.inference.synth.Synth.render` (the Python API); this
module adds the file: the output path is checked before anything is loaded, and the
audio is written atomically, so a failed render never leaves a partial file behind nor
clobbers an existing one.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from neuralsynth.audio.clip import check_output_path
from neuralsynth.inference.synth import load_model


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


def render_midi(midi_path: str | Path, out_path: str | Path, *,
                model_path: str | Path | None = None, timbre: str | None = None,
                vocoder: dict[str, Any] | None = None,
                vocoder_options: dict[str, Any] | None = None, tail_seconds: float = 1.0,
                device: str = "cpu", progress: bool = False) -> RenderResult:
    """Render ``midi_path`` to ``out_path`` (.wav or .flac).

    ``model_path``: a checkpoint, export or bundled model name (None: the default model).
    ``timbre``, ``vocoder``, ``vocoder_options`` and ``tail_seconds`` are those of
    :meth:`~neuralsynth.inference.synth.Synth.render`.
    """
    started = time.perf_counter()
    out_path = Path(out_path)
    check_output_path(out_path)
    synth = load_model(model_path, device=device)
    loaded_in = time.perf_counter() - started
    audio = synth.render(midi_path, timbre, vocoder=vocoder, vocoder_options=vocoder_options,
                         tail=tail_seconds, progress=progress)
    timings = dict(audio.info["timings"])
    timings["load"] += loaded_in

    t0 = time.perf_counter()
    audio.write(out_path)
    timings["write"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - started
    return RenderResult(out_path=out_path, seconds=audio.seconds,
                        n_samples=int(audio.samples.shape[0]), timings=timings,
                        sample_rate=audio.sample_rate, timbre=audio.info["timbre"],
                        vocoder=audio.info["vocoder"], device=audio.info["device"])


__all__ = ["RenderResult", "render_midi"]
