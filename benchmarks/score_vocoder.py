"""Score-informed vocoder vs Griffin-Lim: log-CQT stages, LSD and speed, side by side.

For each --data dataset (``LABEL=DIR``), ``neuralsynth eval``'s measurement
(:func:`neuralsynth.evaluation.evaluate.evaluate`) runs once per vocoder on the same
pieces and excerpts: the log-CQT correlation with the original per octave for the
ground-truth-mel and predicted-mel stages, per instrument, and the log-spectral distance
on a 2048-point STFT. Then the candidate renders --minutes of generated MIDI end to end
(:func:`neuralsynth.inference.render.render_midi`; model loading excluded) for the speed
figure, and its peak memory is compared on a short and a long piece.

Targets (issue 11; judged on the first dataset, held-out MIDI with the MuseScore font):
ground-truth-mel mean >= 0.93 and every octave >= 0.85; predicted-mel mean >= 0.85 and
every octave >= 0.75; better than Griffin-Lim in every octave of both stages; LSD at
least 20 % below Griffin-Lim's; >= 60x real time.

    python benchmarks/heldout_midi.py --out data/heldout-midi
    neuralsynth data synth data/heldout-midi -i paper --val-fraction 0 \\
        --soundfont /usr/share/sounds/sf3/MuseScore_General.sf3 -o data/heldout
    python benchmarks/score_vocoder.py --data heldout=data/heldout --pieces 6
    python benchmarks/score_vocoder.py --data heldout=data/heldout \\
        --data fluidr3=data/heldout-fluidr3 --data val=data/val --json

Exit status: 0 when every target is met, 1 when one is not, 2 for bad input.
"""

from __future__ import annotations

import argparse
import os
import sys
import tracemalloc
from pathlib import Path

from bench_common import argument_parser, resolve_model, script_main

OCTAVES = tuple(f"C{o}" for o in range(1, 8))
STAGES = ("ground_truth_mel", "predicted_mel")
TARGETS = {"ground_truth_mel": (0.93, 0.85), "predicted_mel": (0.85, 0.75)}
LSD_RATIO = 0.8
TARGET_X = 60.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argument_parser(__doc__)
    ap.add_argument("--data", action="append", required=True, metavar="LABEL=DIR",
                    help="a dataset to evaluate on, repeatable (the first one is judged)")
    ap.add_argument("--model", default=None, help="checkpoint (default: the bundled model)")
    ap.add_argument("--vocoder", default="harmonic", help="the candidate (default: harmonic)")
    ap.add_argument("--opt", action="append", default=[], metavar="KEY=VALUE",
                    help="a parameter of the candidate, repeatable")
    ap.add_argument("--baseline", default="griffin_lim", help="default: griffin_lim")
    ap.add_argument("--pieces", type=int, default=None, help="pieces per dataset (all)")
    ap.add_argument("--seconds", type=float, default=4.0, help="excerpt per item (4)")
    ap.add_argument("--minutes", type=float, default=10.0,
                    help="length of the piece rendered for the speed figure (10)")
    ap.add_argument("--json", action="store_true", help="print one JSON line")
    args = ap.parse_args(argv)
    for d in args.data:
        if "=" not in d:
            ap.error(f"--data takes LABEL=DIR, got '{d}'")
    if args.minutes <= 0 or args.seconds <= 0:
        ap.error("--minutes and --seconds must be > 0")
    return args


def _evaluate(loaded, data: str, spec: dict, args) -> dict:
    from neuralsynth.evaluation.evaluate import evaluate

    r = evaluate(loaded, data, split="all", pieces=args.pieces, seconds=args.seconds,
                 vocoder=spec, progress=False)
    return {s: r.correlation[s] for s in ("mu_law", *STAGES)}


def _speed(model: str, spec: dict, opts: dict, minutes: float, work: Path) -> dict:
    """Render a generated piece of ``minutes`` end to end; x real time without loading."""
    import importlib.util

    from neuralsynth.inference.render import render_midi

    path = Path(__file__).resolve().parent.parent / "examples" / "compose.py"
    mod_spec = importlib.util.spec_from_file_location("score_vocoder_compose", path)
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    midi = work / "long.mid"
    module.compose(11, minutes * 60.0).write(os.fspath(midi))
    render_midi(midi, work / "warm.wav", model_path=model, vocoder=spec)   # numba, caches
    result = render_midi(midi, work / "long.wav", model_path=model, vocoder=spec)
    compute = result.timings["total"] - result.timings["load"]
    return {"seconds": result.seconds, "compute_s": compute,
            "x_real_time": result.seconds / compute, "timings": result.timings}


def _peak_memory(spec: dict, seconds: float) -> float:
    """Peak MB the vocoder allocates for ``seconds`` of a generated piece, less its output."""
    import importlib.util

    import numpy as np

    from neuralsynth.audio.constants import HOP_LENGTH, N_MELS, SAMPLE_RATE
    from neuralsynth.midi.read import load_notes
    from neuralsynth.vocoders.score import Score
    from neuralsynth.vocoders.select import build_vocoder

    path = Path(__file__).resolve().parent.parent / "examples" / "compose.py"
    mod_spec = importlib.util.spec_from_file_location("score_vocoder_compose2", path)
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    notes = load_notes(module.compose(5, seconds))
    n = int((notes.duration + 1.0) * SAMPLE_RATE / HOP_LENGTH) + 1
    mel = np.full((n, N_MELS), 1e-3, np.float32)
    voc = build_vocoder(spec, n_mels=N_MELS, sample_rate=SAMPLE_RATE, hop_length=HOP_LENGTH)
    tracemalloc.start()
    y = voc.vocode(mel, Score(notes, n))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return (peak - y.nbytes) / 1e6


def measure(args: argparse.Namespace, work: Path) -> dict:
    from neuralsynth.cli.render import parse_vocoder_opts
    from neuralsynth.inference.load import load_trained_model

    model = resolve_model(args.model)
    opts = parse_vocoder_opts(tuple(args.opt))
    candidate = {"name": args.vocoder, **opts}
    baseline = {"name": args.baseline}
    loaded = load_trained_model(model)
    datasets = {}
    for entry in args.data:
        label, data = entry.split("=", 1)
        print(f"{label}: evaluating {args.vocoder} and {args.baseline} ...", file=sys.stderr)
        datasets[label] = {"dir": data,
                           args.vocoder: _evaluate(loaded, data, candidate, args),
                           args.baseline: _evaluate(loaded, data, baseline, args)}
    print("speed ...", file=sys.stderr)
    speed = _speed(model, candidate, opts, args.minutes, work)
    memory = {f"{s} s": _peak_memory(candidate, s) for s in (60.0, 600.0)}
    first = datasets[next(iter(datasets))]
    checks = _checks(first[args.vocoder], first[args.baseline], speed)
    return {"model": model, "candidate": candidate, "baseline": baseline,
            "datasets": datasets, "speed": speed, "peak_memory_mb": memory,
            "checks": checks, "target_met": all(ok for ok, _ in checks.values())}


def _checks(cand: dict, base: dict, speed: dict) -> dict:
    out = {}
    for stage, (mean_t, octave_t) in TARGETS.items():
        c, b = cand[stage], base[stage]
        octs = [v for v in c["per_octave"] if v is not None]
        out[f"{stage} mean >= {mean_t}"] = (c["mean"] >= mean_t, f"{c['mean']:.3f}")
        out[f"{stage} every octave >= {octave_t}"] = (min(octs) >= octave_t,
                                                      f"min {min(octs):.3f}")
        wins = sum(x > y for x, y in zip(c["per_octave"], b["per_octave"]))
        out[f"{stage} above the baseline in every octave"] = (wins == 7, f"{wins} of 7")
        ratio = c["lsd_db"] / b["lsd_db"]
        out[f"{stage} LSD <= {LSD_RATIO} x baseline"] = (ratio <= LSD_RATIO,
                                                         f"ratio {ratio:.2f}")
    out[f">= {TARGET_X:.0f}x real time"] = (speed["x_real_time"] >= TARGET_X,
                                           f"{speed['x_real_time']:.1f}x, ratio "
                                           f"{speed['x_real_time'] / TARGET_X:.2f}")
    return out


def print_table(r: dict) -> None:
    cand, base = r["candidate"]["name"], r["baseline"]["name"]
    for label, d in r["datasets"].items():
        print(f"{label} ({d['dir']}): log-CQT r per octave, LSD in dB")
        print(f"  {'stage / vocoder':34s}{'mean':>7}" + "".join(f"{o:>7}" for o in OCTAVES)
              + f"{'LSD':>8}")
        for stage in STAGES:
            for name in (cand, base):
                c = d[name][stage]
                print(f"  {stage + ' / ' + name:34s}{c['mean']:7.3f}"
                      + "".join(f"{v:7.3f}" if v is not None else f"{'n/a':>7}"
                                for v in c["per_octave"]) + f"{c['lsd_db']:8.2f}")
        insts = d[cand][STAGES[0]]["per_instrument"]
        print(f"  per instrument (mean r, {cand} / {base}):")
        for inst in insts:
            print(f"    {inst:20s}" + "".join(
                f"  {s[:5]} {d[cand][s]['per_instrument'][inst]:.3f} / "
                f"{d[base][s]['per_instrument'][inst]:.3f}" for s in STAGES))
        print()
    s = r["speed"]
    print(f"speed: {s['seconds']:.0f} s rendered in {s['compute_s']:.2f} s "
          f"({s['x_real_time']:.1f}x real time; model {s['timings']['model']:.2f} s, "
          f"vocoder {s['timings']['vocoder']:.2f} s)")
    print("peak memory of the vocoder beyond its output: "
          + ", ".join(f"{k}: {v:.1f} MB" for k, v in r["peak_memory_mb"].items()))
    print("targets:")
    for name, (ok, value) in r["checks"].items():
        print(f"  {name:48s} {value:>18s}  {'OK' if ok else 'BELOW TARGET'}")


def main(argv: list[str] | None = None) -> int:
    return script_main(parse_args, measure, print_table, "score_vocoder_", argv)


if __name__ == "__main__":
    raise SystemExit(main())
