"""Write MIDI that no training corpus has seen: the held-out set of the vocoder benchmarks.

The bundled model learned from music21's corpus (humanised scores, docs/default_model.md).
These pieces are written here instead, so a benchmark on them measures music the model
and the vocoder were never tuned on:

- ``etude_NNNN``: pieces of ``examples/compose.py`` with seeds far from the bundled
  examples' (melody, accompaniment figure, bass line; C2 to C7);
- ``keyboard``: what the composer never plays: the whole keyboard A0–C8 in scales and
  broken octaves, low-register chords held with the sustain pedal, fast repeated notes,
  and a crescendo/decrescendo, so every octave of the log-CQT measure has notes.

    python benchmarks/heldout_midi.py --out data/heldout-midi
    neuralsynth data synth data/heldout-midi --instruments paper --val-fraction 0 \\
        --soundfont /usr/share/sounds/sf3/MuseScore_General.sf3 --out data/heldout

Deterministic: the same arguments write the same files.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
from pathlib import Path

import numpy as np
import pretty_midi

REPO = Path(__file__).resolve().parent.parent
#: Seeds of the composed pieces: the bundled examples and tests use small seeds.
FIRST_SEED = 7001


def _compose():
    spec = importlib.util.spec_from_file_location("heldout_compose",
                                                  REPO / "examples" / "compose.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.compose


def keyboard_piece(seed: int = 0) -> pretty_midi.PrettyMIDI:
    """About 40 s over the whole keyboard, with the sustain pedal (see the module doc)."""
    rng = np.random.default_rng(seed)
    pm = pretty_midi.PrettyMIDI(initial_tempo=100.0)
    inst = pretty_midi.Instrument(program=0, name="keyboard")

    def add(pitch: int, start: float, dur: float, vel: int) -> None:
        inst.notes.append(pretty_midi.Note(velocity=int(np.clip(vel, 15, 127)),
                                           pitch=int(pitch), start=start, end=start + dur))

    t = 0.0
    # 1. A major scale from A0 up to C8 in sixteenths, loudness rising then falling.
    scale = [0, 2, 4, 5, 7, 9, 11]
    pitches = [21 + 12 * o + s for o in range(8) for s in scale if 21 + 12 * o + s <= 108]
    for i, p in enumerate(pitches):
        vel = 40 + int(70 * np.sin(np.pi * i / len(pitches)))
        add(p, t + i * 0.15, 0.14, vel)
    t += len(pitches) * 0.15 + 0.5
    # 2. Low chords (A0..B2) held by the pedal, each with a melody note above.
    for k, root in enumerate((21, 26, 28, 33, 31, 24)):
        start = t + 2.0 * k
        for p in (root, root + 7, root + 12, root + 16):
            add(p, start, 0.3, 70 + int(rng.integers(-10, 10)))
        add(root + 36 + int(rng.integers(0, 12)), start + 1.0, 0.6, 80)
        inst.control_changes += [pretty_midi.ControlChange(64, 127, start + 0.01),
                                 pretty_midi.ControlChange(64, 0, start + 1.9)]
    t += 12.5
    # 3. Broken octaves descending through the top half, staccato.
    for i, p in enumerate(range(108, 60, -3)):
        add(p, t + i * 0.2, 0.08, 90)
        add(p - 12, t + i * 0.2 + 0.1, 0.08, 70)
    t += 16 * 0.2 + 0.5
    # 4. Repeated notes (one key struck fast), in three registers at once.
    for i in range(24):
        for p in (36, 60, 84):
            add(p + (i // 8) * 2, t + i * 0.125, 0.1, 50 + 3 * i)
    t += 24 * 0.125 + 0.5
    # 5. A sustained four-part chord with a slow trill above it.
    for p in (43, 55, 62, 71):
        add(p, t, 4.0, 75)
    for i in range(16):
        add(79 + (i % 2) * 2, t + i * 0.25, 0.24, 60 + int(rng.integers(-10, 10)))
    pm.instruments.append(inst)
    return pm


def write_heldout(out: Path, count: int, seconds: float) -> list[Path]:
    """``count`` composed pieces and the keyboard piece, written into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    compose = _compose()
    paths = []
    for i in range(count):
        path = out / f"etude_{FIRST_SEED + i:04d}.mid"
        compose(FIRST_SEED + i, seconds).write(os.fspath(path))
        paths.append(path)
    path = out / "keyboard.mid"
    keyboard_piece().write(os.fspath(path))
    paths.append(path)
    return paths


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="output folder")
    ap.add_argument("--count", type=int, default=5, help="composed pieces (default 5)")
    ap.add_argument("--seconds", type=float, default=30.0,
                    help="length of each composed piece (default 30)")
    args = ap.parse_args()
    paths = write_heldout(args.out, args.count, args.seconds)
    print(f"wrote {len(paths)} MIDI files to {args.out}")


if __name__ == "__main__":
    main()
