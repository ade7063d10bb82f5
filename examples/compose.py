"""Write deterministic practice pieces as MIDI: the bundled examples and a demo corpus.

The pieces are generated, not transcribed, so they are free to ship. Each one walks a
diatonic chord progression with a melody, an accompaniment figure (arpeggio, block
chords or Alberti bass) and a bass line, with varied velocities, so a model trained on
them sees onsets, sustained notes, polyphony and dynamics across the keyboard.

    python examples/compose.py --out data/demo-midi --count 24 --seed 1
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pretty_midi

MAJOR = [0, 2, 4, 5, 7, 9, 11]
MINOR = [0, 2, 3, 5, 7, 8, 10]
PROGRESSIONS = [[0, 5, 3, 4], [0, 3, 4, 0], [0, 4, 5, 3], [5, 3, 0, 4], [0, 1, 4, 0]]


def _degree_pitch(tonic: int, scale: list[int], degree: int) -> int:
    octave, step = divmod(degree, 7)
    return tonic + 12 * octave + scale[step]


def compose(seed: int, seconds: float = 24.0) -> pretty_midi.PrettyMIDI:
    """One piece of about ``seconds`` length, fully determined by ``seed``."""
    rng = np.random.default_rng(seed)
    tempo = float(rng.uniform(72, 140))
    beat = 60.0 / tempo
    tonic = 48 + int(rng.integers(0, 12))
    scale = MAJOR if rng.random() < 0.7 else MINOR
    progression = PROGRESSIONS[int(rng.integers(len(PROGRESSIONS)))]
    figure = ["arpeggio", "block", "alberti"][int(rng.integers(3))]
    pm = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    inst = pretty_midi.Instrument(program=0, name=f"piece {seed}")

    def add(pitch: int, start: float, dur: float, vel: int) -> None:
        if 21 <= pitch <= 108:
            inst.notes.append(pretty_midi.Note(velocity=int(np.clip(vel, 20, 127)), pitch=pitch,
                                               start=start, end=start + dur))

    t, bar = 0.0, 0
    melody_degree = 7 + int(rng.integers(0, 5))
    while t < seconds:
        root = progression[bar % len(progression)]
        chord = [_degree_pitch(tonic, scale, root + k) for k in (0, 2, 4)]
        dyn = int(rng.integers(50, 105))
        add(chord[0] - 12, t, 4 * beat * 0.95, dyn)  # bass: whole note
        for b in range(4):
            start = t + b * beat
            if figure == "block":
                for p in chord:
                    add(p, start, beat * 0.9, dyn - 10 + int(rng.integers(-8, 8)))
            elif figure == "arpeggio":
                for k, p in enumerate(chord + [chord[1]]):  # up the triad, then the third an octave up
                    add(p + (12 if k == 3 else 0), start + k * beat / 4, beat / 4 * 0.95,
                        dyn - 15 + int(rng.integers(-8, 8)))
            else:  # alberti: low-high-middle-high in eighths
                for k, idx in enumerate((0, 2, 1, 2)):
                    add(chord[idx], start + k * beat / 4, beat / 4 * 0.9, dyn - 20)
        # melody: a random walk on the scale, rhythm of quarters and eighths
        m = 0.0
        while m < 4:
            dur = float(rng.choice([0.5, 1.0, 1.0, 1.5, 2.0]))
            dur = min(dur, 4 - m)
            melody_degree = int(np.clip(melody_degree + rng.integers(-2, 3), 4, 16))
            add(_degree_pitch(tonic + 12, scale, melody_degree), t + m * beat, dur * beat * 0.92,
                dyn + 10 + int(rng.integers(-10, 10)))
            m += dur
        t += 4 * beat
        bar += 1
    pm.instruments.append(inst)
    return pm


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="output folder")
    ap.add_argument("--count", type=int, default=3, help="number of pieces")
    ap.add_argument("--seed", type=int, default=0, help="seed of the first piece")
    ap.add_argument("--seconds", type=float, default=24.0, help="approximate length of each piece")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for i in range(args.count):
        path = args.out / f"piece_{args.seed + i:03d}.mid"
        compose(args.seed + i, args.seconds).write(str(path))
    print(f"wrote {args.count} MIDI files to {args.out}")


if __name__ == "__main__":
    main()
