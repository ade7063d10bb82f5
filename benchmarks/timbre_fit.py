"""Timbre from a recording: do known instruments come back, and do new sounds get a place?

Recordings are FluidSynth renders (the MuseScore font) of held-out MIDI the model never
saw, at 44.1 kHz (the fit resamples them). Distances are between log-mel spectrograms
of a render and the FluidSynth truth, after removing the best overall gain (renders are
loudness-normalised, the truth is not): the mean absolute difference over frames and
bands, in dB. Two floors are reported: -100 dB absolute (``db``), and 80 dB below each
spectrogram's peak (``db80``, the usual dynamic range of a log-mel; below it lie the
decays into digital silence of the truth and the noise floor of a vocoder).

Known instruments: each of the model's instruments plays piece A; the fit's nearest
instrument should be the one that played (target: 9 of 10), and the render of piece A
with the fitted timbre should be at least as close to the recording as the render with
the instrument's own name. The same fit from transcribed notes (``--transcribe``, no
MIDI) is reported beside it.

New sounds: General MIDI programs outside the training set play pieces A and B; the
timbre is fitted on A (the point alone, and with ``--adapt film``), and piece B is
rendered with it, with every trained instrument and with every 50/50 mix of two; the
fitted render should be the closest to B's truth.

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


def _distance(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(floor -100 dB, floor 80 dB below each peak): mean |difference| after the best
    overall gain."""
    n = min(a.shape[0], b.shape[0])
    a, b = a[:n], b[:n]
    d = a - b
    ranged = np.maximum(a, a.max() - 80.0) - np.maximum(b, b.max() - 80.0)
    return (float(np.mean(np.abs(d - d.mean()))),
            float(np.mean(np.abs(ranged - ranged.mean()))))


def measure(args, work: Path) -> dict:
    import neuralsynth as ns
    from neuralsynth.data.fluid import FluidRenderer
    from neuralsynth.inference.add_instrument import save_with_instrument
    from neuralsynth.inference.timbre_fit import read_recording
    from neuralsynth.midi.instruments import PAPER_PROGRAMS

    synth = ns.load_model(resolve_model(args.model), device="cpu")
    renderer = FluidRenderer(args.soundfont, 44100)
    n = int(args.seconds * 16000)

    def render(midi: str, timbre: str, embedding=None, film=None) -> np.ndarray:
        who, spec = synth, timbre
        if film is not None:               # the fitted instrument with its own offsets
            path = save_with_instrument(synth.path, "fitted", embedding, work / "fitted.pt",
                                        film=film)
            who, spec = ns.load_model(path, device="cpu"), "fitted"
        elif embedding is not None:
            spec = "xy:" + ",".join(f"{v:.6f}" for v in embedding.tolist())
        audio = who.render(midi, spec, vocoder=args.vocoder)
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
        heard = synth.fit_timbre([(rec, None)])
        known.append({"instrument": name, "nearest": fit.nearest[0][0],
                      "fit_s": fit.seconds, "loss": fit.loss,
                      "fitted_db": _distance(render(args.midi_a, "", fit.embedding), truth),
                      "named_db": _distance(render(args.midi_a, name), truth),
                      "heard_nearest": heard.nearest[0][0], "heard_s": heard.seconds,
                      "heard_notes": heard.notes_heard[0],
                      "heard_db": _distance(render(args.midi_a, "", heard.embedding), truth)})

    new = []
    mixes = list(itertools.combinations(synth.instruments, 2))
    for program, label in NEW_PROGRAMS.items():
        print(f"new: {label} ...", file=sys.stderr)
        rec = _truth(renderer, args.midi_a, program, args.seconds, work / f"{label}_a.wav")
        truth_b = _log_mel(read_recording(
            _truth(renderer, args.midi_b, program, args.seconds, work / f"{label}_b.wav")))
        fit = synth.fit_timbre([(rec, args.midi_a)])
        adapted = synth.fit_timbre([(rec, args.midi_a)], adapt="film")
        heard = synth.fit_timbre([(rec, None)], adapt="film")
        row = {"program": program, "sound": label, "fit_s": fit.seconds,
               "adapt_s": adapted.seconds, "nearest": fit.nearest[0][0],
               "fitted_db": _distance(render(args.midi_b, "", fit.embedding), truth_b),
               "adapted_db": _distance(render(args.midi_b, "", adapted.embedding,
                                              adapted.film), truth_b),
               "heard_adapted_db": _distance(render(args.midi_b, "", heard.embedding,
                                                    heard.film), truth_b)}
        singles = {i: _distance(render(args.midi_b, i), truth_b) for i in synth.instruments}
        pairs = {f"{a}:0.5,{b}:0.5": _distance(render(args.midi_b, f"{a}:0.5,{b}:0.5"),
                                               truth_b) for a, b in mixes}
        for k, floor in enumerate(("db", "db80")):
            best_single = min(singles, key=lambda i: singles[i][k])
            best_pair = min(pairs, key=lambda i: pairs[i][k])
            row[f"best_instrument_{floor}"] = [best_single, singles[best_single][k]]
            row[f"best_mix_{floor}"] = [best_pair, pairs[best_pair][k]]
            rival = min(singles[best_single][k], pairs[best_pair][k])
            row[f"point_wins_{floor}"] = row["fitted_db"][k] < rival
            row[f"adapted_wins_{floor}"] = row["adapted_db"][k] < rival
        new.append(row)
    right = sum(k["instrument"] == k["nearest"] for k in known)
    closer = sum(k["fitted_db"][0] <= k["named_db"][0] for k in known)
    heard_right = sum(k["instrument"] == k["heard_nearest"] for k in known)
    slowest = max(k["fit_s"] for k in known + new)
    checks = {"known: nearest is right >= 9 of 10": (right >= 9, f"{right} of {len(known)}"),
              "known: fitted render at least as close": (closer == len(known),
                                                         f"{closer} of {len(known)}"),
              "new: fitted render closest (point)": (
                  all(r["point_wins_db"] for r in new),
                  f"{sum(r['point_wins_db'] for r in new)} of {len(new)}"),
              "new: fitted render closest (--adapt film)": (
                  all(r["adapted_wins_db"] for r in new),
                  f"{sum(r['adapted_wins_db'] for r in new)} of {len(new)}"),
              "fit of 30 s in < 30 s": (slowest < 30.0, f"slowest {slowest:.1f} s")}
    met = [ok for name, (ok, _) in checks.items() if "(point)" not in name]
    return {"known": known, "new": new, "checks": checks,
            "transcribed": {"nearest_right": heard_right, "of": len(known)},
            "target_met": all(met)}


def print_table(r: dict) -> None:
    print("known instruments (fit on piece A; log-mel distance to the recording, dB, "
          "floor -100 dB / 80 dB below peak)")
    print(f"  {'instrument':18s} {'nearest':18s} {'fitted':>12} {'named':>12} {'fit s':>6}"
          f"   {'transcribed: nearest':20s} {'distance':>12} {'notes':>5}")
    for k in r["known"]:
        print(f"  {k['instrument']:18s} {k['nearest']:18s} {_pair(k['fitted_db']):>12} "
              f"{_pair(k['named_db']):>12} {k['fit_s']:6.1f}   {k['heard_nearest']:20s} "
              f"{_pair(k['heard_db']):>12} {k['heard_notes']:5d}")
    print("new sounds (fit on piece A, render piece B; distance to B's truth, dB, "
          "floor -100 dB / 80 dB below peak)")
    print(f"  {'sound':10s} {'point':>12} {'film':>12} {'film, heard':>12}  "
          f"{'best instrument (-100 dB)':32s} {'best 50/50 mix (-100 dB)':50s}")
    for x in r["new"]:
        single = f"{x['best_instrument_db'][0]} {x['best_instrument_db'][1]:.2f}"
        mix = f"{x['best_mix_db'][0]} {x['best_mix_db'][1]:.2f}"
        print(f"  {x['sound']:10s} {_pair(x['fitted_db']):>12} {_pair(x['adapted_db']):>12} "
              f"{_pair(x['heard_adapted_db']):>12}  {single:32s} {mix:50s}")
        single = f"{x['best_instrument_db80'][0]} {x['best_instrument_db80'][1]:.2f}"
        mix = f"{x['best_mix_db80'][0]} {x['best_mix_db80'][1]:.2f}"
        print(f"  {'':10s} {'':>12} {'':>12} {'':>12}  {single:32s} {mix:50s} (80 dB)")
    print("targets:")
    for name, (ok, value) in r["checks"].items():
        print(f"  {name:44s} {value:>14s}  {'OK' if ok else 'BELOW TARGET'}")
    t = r["transcribed"]
    print(f"  (transcribed notes instead of MIDI: nearest right {t['nearest_right']} of "
          f"{t['of']})")


def _pair(d) -> str:
    return f"{d[0]:.2f}/{d[1]:.2f}"


def main(argv=None) -> int:
    return script_main(parse_args, measure, print_table, "timbre_fit_", argv)


if __name__ == "__main__":
    raise SystemExit(main())
