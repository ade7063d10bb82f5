"""Vocoder quality: log-CQT correlation of vocoded validation audio with the original.

For --per-instrument validation items of each instrument in --dataset, takes the
loudest --seconds of the original recording, computes its ground-truth mel and turns
it back into audio with the trained WaveNet (--vocoder) and with Griffin-Lim. Each
result is compared with the original by the paper's measure: Pearson correlation of
84-bin log-magnitude CQTs (12 bins per octave from C1, hop 512). The µ-law round trip
(no model) is shown as the ceiling of any 8-bit µ-law vocoder. The target is that the
WaveNet beats Griffin-Lim on the mean.

    python benchmarks/vocoder_quality.py --vocoder runs/wavenet_vocoder_cpu/best.pt
    python benchmarks/vocoder_quality.py --vocoder V.pt --dataset data/10inst \\
        --per-instrument 2 --seconds 4 --out out/vocoder --json

Exit status: 0 when the target is met, 1 when it is not, 2 for bad input.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from bench_common import argument_parser, script_main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argument_parser(__doc__)
    ap.add_argument("--vocoder", required=True, metavar="CKPT",
                    help="trained wavenet vocoder checkpoint")
    ap.add_argument("--dataset", default="data/10inst", metavar="DIR")
    ap.add_argument("--split", default="val", choices=("val", "train"))
    ap.add_argument("--per-instrument", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=4.0, help="excerpt length")
    ap.add_argument("--kernel", default="auto", choices=("auto", "cpu", "cuda", "reference"))
    ap.add_argument("--gl-iter", type=int, default=32, help="Griffin-Lim iterations")
    ap.add_argument("--out", default=None, metavar="DIR",
                    help="also write every excerpt and its renders as WAV files here")
    ap.add_argument("--json", action="store_true", help="print one JSON line")
    args = ap.parse_args(argv)
    if args.per_instrument < 1 or args.seconds <= 0:
        ap.error("--per-instrument must be >= 1 and --seconds > 0")
    return args


def measure(args: argparse.Namespace, _tmp) -> dict:
    from neuralsynth.evaluation.vocoder_check import summarise, vocoder_check
    from neuralsynth.vocoders.base import VOCODERS

    vocoders = {
        "wavenet": VOCODERS.build({"name": "wavenet", "checkpoint": args.vocoder,
                                   "kernel": args.kernel}),
        "griffin_lim": VOCODERS.build({"name": "griffin_lim", "n_iter": args.gl_iter}),
    }
    scores = vocoder_check(args.dataset, vocoders, split=args.split,
                           per_instrument=args.per_instrument, seconds=args.seconds,
                           out_dir=args.out,
                           progress=None if args.json else lambda m: print(m, file=sys.stderr))
    summary = summarise(scores)
    wn, gl = summary["wavenet"]["mean"], summary["griffin_lim"]["mean"]
    return {"vocoder": args.vocoder, "dataset": args.dataset, "split": args.split,
            "items": len(scores), "seconds": args.seconds, "kernel": vocoders["wavenet"].engine.name,
            "correlation": summary, "scores": [dataclasses.asdict(s) for s in scores],
            "wavenet_minus_griffin_lim": wn - gl, "target_met": wn >= gl}


def print_table(r: dict) -> None:
    c = r["correlation"]
    stages = list(c)
    print(f"log-CQT correlation with the original, {r['items']} {r['split']} excerpts of "
          f"{r['seconds']} s from {r['dataset']} (wavenet kernel {r['kernel']})")
    print(f"  {'instrument':20s}" + "".join(f"{s:>13s}" for s in stages))
    for inst in c[stages[0]]["per_instrument"]:
        print(f"  {inst:20s}" + "".join(f"{c[s]['per_instrument'][inst]:13.3f}" for s in stages))
    print(f"  {'mean':20s}" + "".join(f"{c[s]['mean']:13.3f}" for s in stages))
    print("  per octave (C1…C7):")
    for s in stages:
        print(f"    {s:12s} " + " ".join(f"{v:6.3f}" for v in c[s]["per_octave"]))
    print(f"  target: wavenet >= griffin_lim  (difference {r['wavenet_minus_griffin_lim']:+.3f}) "
          f"{'OK' if r['target_met'] else 'BELOW TARGET'}")


def main(argv: list[str] | None = None) -> int:
    return script_main(parse_args, measure, print_table, "vocoder_quality_", argv)


if __name__ == "__main__":
    raise SystemExit(main())
