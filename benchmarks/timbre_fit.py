"""Timbre from a recording: do known instruments come back, and do new sounds get a place?

Recordings are FluidSynth renders (the MuseScore font) of held-out MIDI the model never
saw, at 44.1 kHz (the fit resamples them). Distances are between log-mel spectrograms
(dB, floor -100 dB) of a render and the FluidSynth truth, after removing the best
overall gain (renders are loudness-normalised, the truth is not): the mean absolute
difference over frames and bands.

Known instruments: each of the model's instruments plays piece A; the fit's nearest
instrument should be the one that played (target: 9 of 10), and the render of piece A
with the fitted timbre should be at least as close to the recording as the render with
the instrument's own name.

New sounds: General MIDI programs outside the training set play pieces A and B; the
timbre is fitted on A and piece B is rendered with it, with every trained instrument
and with every 50/50 mix of two; the fitted render should be the closest to B's truth.

    python benchmarks/timbre_fit.py --midi-a data/heldout-midi/etude_7002.mid \\
        --midi-b data/heldout-midi/etude_7003.mid
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
from bench_common import argument_parser, resolve_model, script_main

NEW_PROGRAMS = {73: "flute", 71: "clarinet", 42: "cello", 12: "marimba", 21: "accordion"}
SOUNDFONT = "/usr/share/sounds/sf3/MuseScore_General.sf3"


def parse_args(argv=None):
    ap = argument_parser(__doc__)
    ap.add_argument("--midi-a", required=True, help="piece the timbre is fitted on")
    ap.add_argument("--midi-b", required=True, help="piece the fitted timbre is tested on")
    ap.add_argument("--model", default=None, help="checkpoint (default: the bundled model)")
    ap.add_argument("--soundfont", default=SOUNDFONT)
    ap.add_argument("--vocoder", default="harmonic", help="vocoder of the renders")
    ap.add_argument("--seconds", type=float, default=30.0, help="audio used per piece")
    ap.add_argument("--json", action="store_true", help="print one JSON line")
    return ap.parse_args(argv)


def _truth(renderer, midi: str, program: int, seconds: float, out: Path) -> Path:
    import soundfile as sf

    from neuralsynth.midi.events import midi_events

    wave = renderer.render(midi_events(midi, renderer.sample_rate), program)
    wave = wave[:int(seconds * renderer.sample_rate)]
    sf.write(out, wave, renderer.sample_rate)
    return out


def _log_mel(wave: np.ndarray) -> np.ndarray:
    from neuralsynth.audio.spectral import mel_spectrogram

    return 20 * np.log10(np.maximum(mel_spectrogram(wave).numpy(), 1e-5))


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    n = min(a.shape[0], b.shape[0])
    d = a[:n] - b[:n]
    return float(np.mean(np.abs(d - d.mean())))


def measure(args, work: Path) -> dict:
    import neuralsynth as ns
    from neuralsynth.data.fluid import FluidRenderer
    from neuralsynth.inference.timbre_fit import read_recording
    from neuralsynth.midi.instruments import PAPER_PROGRAMS

    synth = ns.load_model(resolve_model(args.model), device="cpu")
    renderer = FluidRenderer(args.soundfont, 44100)
    n = int(args.seconds * 16000)

    def render(midi: str, timbre: str, embedding=None) -> np.ndarray:
        spec = timbre
        if embedding is not None:
            spec = "xy:" + ",".join(f"{v:.6f}" for v in embedding.tolist())
        audio = synth.render(midi, spec, vocoder=args.vocoder)
        return _log_mel(audio.samples[:n])

    known = []
    for name in synth.instruments:
        program = PAPER_PROGRAMS.get(name)
        if program is None:
            continue
        print(f"known: {name} ...", file=sys.stderr)
        rec = _truth(renderer, args.midi_a, program, args.seconds, work / f"{name}.wav")
        truth = _log_mel(read_recording(rec))
        fit = synth.fit_timbre([(rec, args.midi_a)])
        known.append({"instrument": name, "nearest": fit.nearest[0][0],
                      "fit_s": fit.seconds, "loss": fit.loss,
                      "fitted_db": _distance(render(args.midi_a, "", fit.embedding), truth),
                      "named_db": _distance(render(args.midi_a, name), truth)})

    new = []
    mixes = list(itertools.combinations(synth.instruments, 2))
    for program, label in NEW_PROGRAMS.items():
        print(f"new: {label} ...", file=sys.stderr)
        rec = _truth(renderer, args.midi_a, program, args.seconds, work / f"{label}_a.wav")
        truth_b = _log_mel(read_recording(
            _truth(renderer, args.midi_b, program, args.seconds, work / f"{label}_b.wav")))
        fit = synth.fit_timbre([(rec, args.midi_a)])
        fitted = _distance(render(args.midi_b, "", fit.embedding), truth_b)
        singles = {i: _distance(render(args.midi_b, i), truth_b) for i in synth.instruments}
        pairs = {f"{a}:0.5,{b}:0.5": _distance(render(args.midi_b, f"{a}:0.5,{b}:0.5"),
                                               truth_b) for a, b in mixes}
        best_single = min(singles, key=singles.get)
        best_pair = min(pairs, key=pairs.get)
        new.append({"program": program, "sound": label, "fit_s": fit.seconds,
                    "nearest": fit.nearest[0][0], "fitted_db": fitted,
                    "best_instrument": best_single, "best_instrument_db": singles[best_single],
                    "best_mix": best_pair, "best_mix_db": pairs[best_pair],
                    "wins": fitted < min(singles[best_single], pairs[best_pair])})
    right = sum(k["instrument"] == k["nearest"] for k in known)
    closer = sum(k["fitted_db"] <= k["named_db"] for k in known)
    slowest = max(k["fit_s"] for k in known + new)
    checks = {"known: nearest is right >= 9 of 10": (right >= 9, f"{right} of {len(known)}"),
              "known: fitted render at least as close": (closer == len(known),
                                                         f"{closer} of {len(known)}"),
              "new: fitted render closest": (all(r["wins"] for r in new),
                                             f"{sum(r['wins'] for r in new)} of {len(new)}"),
              "fit of 30 s in < 30 s": (slowest < 30.0, f"slowest {slowest:.1f} s")}
    return {"known": known, "new": new, "checks": checks,
            "target_met": all(ok for ok, _ in checks.values())}


def print_table(r: dict) -> None:
    print("known instruments (fit on piece A; log-mel distance to the recording, dB)")
    print(f"  {'instrument':18s} {'nearest':18s} {'fitted':>7} {'named':>7} {'fit s':>6}")
    for k in r["known"]:
        print(f"  {k['instrument']:18s} {k['nearest']:18s} {k['fitted_db']:7.2f} "
              f"{k['named_db']:7.2f} {k['fit_s']:6.1f}")
    print("new sounds (fit on piece A, render piece B; distance to B's truth, dB)")
    print(f"  {'sound':10s} {'fitted':>7}  {'best instrument':28s} {'best 50/50 mix':48s}")
    for x in r["new"]:
        single = f"{x['best_instrument']} {x['best_instrument_db']:.2f}"
        mix = f"{x['best_mix']} {x['best_mix_db']:.2f}"
        verdict = "fitted closest" if x["wins"] else "NOT closest"
        print(f"  {x['sound']:10s} {x['fitted_db']:7.2f}  {single:28s} {mix:48s} {verdict}")
    print("targets:")
    for name, (ok, value) in r["checks"].items():
        print(f"  {name:42s} {value:>14s}  {'OK' if ok else 'BELOW TARGET'}")


def main(argv=None) -> int:
    return script_main(parse_args, measure, print_table, "timbre_fit_", argv)


if __name__ == "__main__":
    raise SystemExit(main())
