"""A render, checked and planned before any audio is made.

Everything a render could fail on that does not need the audio is found here, in well
under a second, before the long work starts: the MIDI file, the tracks and their
timbres, notes the model cannot play, an absurd tail or length, the vocoder and its
options, and timbres that make the model's output non-finite or silent.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Sequence

import numpy as np
import torch

from neuralsynth.audio.constants import HOP_LENGTH, N_MELS, SAMPLE_RATE
from neuralsynth.errors import MidiError, TimbreError, UsageError
from neuralsynth.inference.windowed import Part, WindowedRender
from neuralsynth.midi.notes import Notes
from neuralsynth.midi.read import MidiSource, describe_source, load_notes, read_midi
from neuralsynth.model.encoders.pianoroll import HIGHEST_KEY, LOWEST_KEY
from neuralsynth.vocoders.select import build_vocoder, vocoder_spec

#: Longest --tail accepted (seconds): releases and reverb last a few seconds; more is a
#: typo that would render minutes of silence.
MAX_TAIL = 60.0
#: Longest piece accepted (seconds, 12 h): memory is bounded, but the spooled audio is
#: not (about 230 MB per hour at 16 kHz), and a note-off days into a file is an error in
#: the file.
MAX_SECONDS = 12 * 3600.0
#: A model output below this (linear mel) everywhere is silence.
_SILENT_MEL = 1e-6


@dataclasses.dataclass
class RenderJob:
    """What to render: the parts (notes + timbre each), the length in frames, the
    vocoder, and the lines of the per-track report (empty for a single-timbre render)."""

    parts: list[Part]
    n_frames: int
    vocoder: Any
    vocoder_name: str
    report: list[str]
    drum_notes: int
    out_of_range: int

    @property
    def seconds(self) -> float:
        return self.n_frames * HOP_LENGTH / SAMPLE_RATE

    def renderer(self, model, device, *, progress: bool = False) -> WindowedRender:
        """The window-by-window render of this job (see :class:`WindowedRender`)."""
        return WindowedRender(model, device, self.parts, self.n_frames, self.vocoder,
                              self.vocoder_name, progress=progress)


def check_tail(tail: Any) -> float:
    """``tail`` as seconds, or a one-line UsageError."""
    if isinstance(tail, bool) or not isinstance(tail, (int, float)) or not math.isfinite(tail):
        raise UsageError(f"tail must be a number of seconds, got {tail!r}")
    if not 0.0 <= tail <= MAX_TAIL:
        raise UsageError(f"tail must be between 0 and {MAX_TAIL:.0f} seconds, got {tail:g}")
    return float(tail)


def prepare_job(synth, midi: MidiSource, timbre: str | None, *,
                tracks: Sequence[str] = (), gm: bool = False, tail: float = 1.0,
                vocoder: dict[str, Any] | None = None,
                vocoder_options: dict[str, Any] | None = None) -> RenderJob:
    """Check every input of a render and plan it (see the module doc)."""
    tail = check_tail(tail)
    where = describe_source(midi)
    pm = read_midi(midi)
    try:
        parts, report, drums = _parts(synth, pm, timbre, tracks, gm)
    except MidiError as exc:
        # The file was parsed once, above; errors should still name it, not the object.
        raise MidiError(str(exc).replace(describe_source(pm), where)) from None
    out_of_range = 0
    for part in parts:
        keep = (part.notes.pitch >= LOWEST_KEY) & (part.notes.pitch <= HIGHEST_KEY)
        out_of_range += int(np.sum(~keep))
        part.notes = part.notes.select(keep)
    parts = [p for p in parts if len(p.notes)]
    if not parts:
        raise MidiError(f"{where}: every note is outside the model's key range A0-C8 "
                        f"(MIDI 21-108); nothing would sound")
    duration = max(p.notes.duration for p in parts)
    if duration + tail > MAX_SECONDS:
        raise MidiError(f"{where}: the piece lasts {duration / 3600:.1f} hours (last "
                        f"note-off at {duration:.0f} s); at most {MAX_SECONDS / 3600:.0f} "
                        f"hours can be rendered")
    n_frames = synth.model.encoder.frames_for(duration + tail)
    spec = vocoder_spec(vocoder, synth.recipe, vocoder_options)
    built = build_vocoder(spec, n_mels=N_MELS, sample_rate=SAMPLE_RATE,
                          hop_length=HOP_LENGTH)
    for part in parts:
        _probe(synth, part)
    return RenderJob(parts=parts, n_frames=n_frames, vocoder=built,
                     vocoder_name=spec["name"], report=report, drum_notes=drums,
                     out_of_range=out_of_range)


def _parts(synth, pm, timbre: str | None, tracks: Sequence[str],
           gm: bool) -> tuple[list[Part], list[str], int]:
    """The parts to render, the per-track report lines and the drum notes left out."""
    if not (tracks or gm):
        drums = sum(len(i.notes) for i in pm.instruments if i.is_drum)
        return [Part(load_notes(pm), synth.timbre(timbre))], [], drums
    from neuralsynth.inference.track_plan import plan_tracks

    plan = plan_tracks(pm, list(tracks), gm=gm, default_timbre=timbre,
                       instruments=synth.instruments, embedding_dim=synth.embedding_dim)
    parts = [Part(load_notes(pm, tracks=group.tracks), synth.timbre(group.timbre),
                  label=f"timbre '{group.timbre}'") for group in plan.groups]
    return parts, plan.report_lines(), plan.drum_notes_skipped


def _probe(synth, part: Part) -> None:
    """Run the model for a moment on one note with the part's timbre (every keyframe of
    a morph): a timbre far outside the space gives non-finite or silent output, which is
    refused now rather than after the whole render."""
    encoder = synth.model.encoder
    n = 64
    probe = Notes(start=np.array([0.05]), end=np.array([0.4]), pitch=np.array([60], np.int16),
                  velocity=np.array([100], np.int16), program=np.array([0], np.int16))
    x = torch.from_numpy(np.ascontiguousarray(encoder.encode(probe, n), np.float32))
    x = x.to(synth.device).unsqueeze(0)
    timbre = part.timbre
    with torch.inference_mode():
        if timbre.is_static:
            points = timbre.embedding(synth.model).unsqueeze(0)
        else:
            points = timbre.keyframe_embeddings(synth.model)
        for point in points:
            mel = torch.exp(synth.model(x, point.unsqueeze(0)))
            finite = bool(torch.isfinite(mel).all())
            if finite and float(mel.max()) > _SILENT_MEL:
                continue
            what = "non-finite" if not finite else "silent"
            radius = float(synth.model.instrument_embeddings().abs().max())
            raise TimbreError(f"timbre '{timbre.describe()}' gives {what} output from the "
                              f"model; the instruments lie within ±{radius:.2g} in every "
                              f"coordinate")
