"""Small, real MIDI files for tests, written with pretty_midi."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pretty_midi


def write_midi(path: str | Path, notes: list[tuple[int, float, float, int]], *,
               program: int = 0, drum_notes: list[tuple[int, float, float, int]] | None = None,
               sustain: list[tuple[float, float]] | None = None) -> Path:
    """Write ``notes`` as ``(pitch, start, end, velocity)`` on one instrument.

    ``drum_notes`` go to a drum track; ``sustain`` lists ``(down, up)`` pedal times.
    """
    pm = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    inst = pretty_midi.Instrument(program=program)
    for pitch, start, end, vel in notes:
        inst.notes.append(pretty_midi.Note(velocity=vel, pitch=pitch, start=start, end=end))
    for down, up in sustain or []:
        inst.control_changes.append(pretty_midi.ControlChange(64, 127, down))
        inst.control_changes.append(pretty_midi.ControlChange(64, 0, up))
    pm.instruments.append(inst)
    if drum_notes:
        drums = pretty_midi.Instrument(program=0, is_drum=True)
        for pitch, start, end, vel in drum_notes:
            drums.notes.append(pretty_midi.Note(velocity=vel, pitch=pitch, start=start, end=end))
        pm.instruments.append(drums)
    path = Path(path)
    pm.write(str(path))
    return path


def random_melody(seed: int, seconds: float = 4.0, *, polyphony: int = 2,
                  low: int = 48, high: int = 84) -> list[tuple[int, float, float, int]]:
    """A reproducible random piece: ``polyphony`` voices of notes 0.1–0.6 s long."""
    rng = np.random.default_rng(seed)
    notes = []
    for _ in range(polyphony):
        t = float(rng.uniform(0.0, 0.2))
        while t < seconds - 0.1:
            dur = float(rng.uniform(0.1, 0.6))
            end = min(t + dur, seconds)
            notes.append((int(rng.integers(low, high)), round(t, 4), round(end, 4),
                          int(rng.integers(40, 120))))
            t = end + float(rng.uniform(0.0, 0.15))
    return notes
