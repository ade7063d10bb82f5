"""Write the bundled multi-track example: a short quartet with a drum kit.

Four named pitched tracks on General MIDI programs from four families (piano, ensemble,
bass, brass) and one drum track on channel 10, so `neuralsynth tracks`, `--track` rules,
`--gm` and the drum skip all have something to show. Generated, not transcribed, so it
is free to ship; the same seed always writes the same bytes.

    python examples/compose_tracks.py                       # the bundled quartet.mid
    python examples/compose_tracks.py --out q.mid --seed 7 --bars 8
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pretty_midi

from neuralsynth.fileio import atomic_path

BUNDLED = Path(__file__).resolve().parents[1] / "neuralsynth/assets/examples/quartet.mid"
MAJOR = [0, 2, 4, 5, 7, 9, 11]
# Scale degrees of the chord roots, one chord a bar: I vi IV V, twice, then ii V I.
PROGRESSION = [0, 5, 3, 4, 0, 5, 3, 4, 1, 4, 0]
# (track name, GM program): one instrument from each of four GM families.
PARTS = [("Piano", 0), ("Strings", 48), ("Bass", 33), ("Trumpet", 56)]
KICK, SNARE, HIHAT, CRASH = 36, 38, 42, 49     # GM drum keys


def _pitch(tonic: int, degree: int) -> int:
    octave, step = divmod(degree, 7)
    return tonic + 12 * octave + MAJOR[step]


def compose(seed: int = 2024, bars: int = len(PROGRESSION),
            tempo: float = 104.0) -> pretty_midi.PrettyMIDI:
    """The quartet: ``bars`` bars of 4/4 at ``tempo`` (11 bars at 104 bpm ≈ 25 s)."""
    rng = np.random.default_rng(seed)
    beat = 60.0 / tempo
    tonic = 60                                      # C major
    pm = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    parts = {name: pretty_midi.Instrument(program=program, name=name)
             for name, program in PARTS}
    drums = pretty_midi.Instrument(program=0, is_drum=True, name="Drums")

    def add(inst: pretty_midi.Instrument, pitch: int, start: float, beats: float,
            velocity: float) -> None:
        vel = int(np.clip(round(velocity + rng.integers(-6, 7)), 20, 127))
        inst.notes.append(pretty_midi.Note(velocity=vel, pitch=int(pitch),
                                           start=round(start, 4),
                                           end=round(start + beats * beat, 4)))

    melody = 9                                      # degree of the melody's first note
    for bar in range(bars):
        t = 4 * bar * beat
        root = PROGRESSION[bar % len(PROGRESSION)]
        last = bar == bars - 1
        chord = [_pitch(tonic - 12, root + k) for k in (0, 2, 4)]
        # Piano: chords on beats 1 and 3 (off-beat stabs in every other bar).
        hits = (0, 2) if bar % 2 == 0 else (0, 1.5, 2.5)
        for at in ((0,) if last else hits):
            for p in chord:
                add(parts["Piano"], p, t + at * beat, 4 if last else 0.9, 70)
        # Strings: the chord held for the whole bar, an octave up, soft.
        for p in chord[1:]:
            add(parts["Strings"], p + 12, t, 3.95, 52)
        # Bass: root on 1, fifth on 3, a passing note on 4.
        bass_root = _pitch(tonic - 24, root)
        if last:
            add(parts["Bass"], bass_root, t, 4, 90)
        else:
            add(parts["Bass"], bass_root, t, 1.9, 92)
            add(parts["Bass"], bass_root + 7, t + 2 * beat, 0.9, 80)
            add(parts["Bass"], bass_root + int(rng.choice([5, 9, 10])), t + 3 * beat, 0.9, 76)
        # Trumpet: a stepwise melody on the scale, resting in the first two bars.
        if bar >= 2:
            pos = 0.0
            while pos < 4:
                beats = 4.0 if last else float(rng.choice([0.5, 1.0, 1.0, 1.5, 2.0]))
                beats = min(beats, 4 - pos)
                melody = int(np.clip(melody + rng.integers(-2, 3), 5, 13))
                note = _pitch(tonic, root + 7 if last else melody)
                add(parts["Trumpet"], note, t + pos * beat, beats * 0.92, 96)
                pos += beats
        # Drums: kick 1 and 3, snare 2 and 4, closed hi-hat eighths, a crash to open
        # and to close.
        if bar in (0, bars - 1):
            add(drums, CRASH, t, 1, 100)
        if last:
            add(drums, KICK, t, 0.5, 110)
            continue
        for b in range(4):
            add(drums, KICK if b % 2 == 0 else SNARE, t + b * beat, 0.25, 100)
        for e in range(8):
            add(drums, HIHAT, t + e * beat / 2, 0.2, 64 if e % 2 else 80)
    pm.instruments.extend([*parts.values(), drums])
    return pm


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=BUNDLED,
                    help=f"output file (default: {BUNDLED})")
    ap.add_argument("--seed", type=int, default=2024, help="random seed")
    ap.add_argument("--bars", type=int, default=len(PROGRESSION), help="length in 4/4 bars")
    args = ap.parse_args()
    if args.bars < 1:
        ap.error("--bars must be at least 1")
    with atomic_path(args.out) as tmp:             # a reader never sees half a file
        compose(args.seed, args.bars).write(str(tmp))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
