"""Timbre benchmark: is every instrument's render nearest its own FluidSynth rendering?

Runs :func:`neuralsynth.evaluation.timbre_check` on a dataset split (the validation split
by default: music the model never trained on) and prints the distance matrix (rows:
rendered as, columns: FluidSynth truth), each instrument's verdict, the pass count against
the target (at least 9 of 10 instruments; 90 % in general) and the 50/50 mix table.

    python benchmarks/timbre_check.py --model runs/10inst/best.pt --dataset data/10inst
    python benchmarks/timbre_check.py --model runs/demo/best.pt --dataset data/demo \\
        --pieces 20 --mix-pairs piano+organ --json

Exit status: 0 when the pass target is met, 1 when it is not, 2 for bad input.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

from bench_common import argument_parser, resolve_model


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from neuralsynth.evaluation import METRIC, METRICS

    ap = argument_parser(__doc__)
    ap.add_argument("--model", default=None, metavar="PATH",
                    help="checkpoint to check (default: the bundled default model)")
    ap.add_argument("--dataset", required=True, metavar="DIR",
                    help="dataset directory with manifest.json (from `neuralsynth data synth`)")
    ap.add_argument("--split", default="val", choices=["val", "train"],
                    help="which split's pieces to check (default: val)")
    ap.add_argument("--pieces", type=int, default=None, metavar="N",
                    help="check only the first N pieces (default: all of the split)")
    ap.add_argument("--instruments", default=None, metavar="NAMES",
                    help="comma-separated subset of the model's instruments (default: all "
                         "the dataset has renderings of)")
    ap.add_argument("--mix-pairs", default="all", metavar="PAIRS",
                    help="50/50 mixes to check: 'all', 'none' or a+b,c+d (default: all)")
    ap.add_argument("--metric", default=METRIC, choices=list(METRICS),
                    help=f"spectral distance (default: {METRIC}; see benchmarks/README.md)")
    ap.add_argument("--target", type=int, default=None, metavar="K",
                    help="instruments that must pass (default: 90%% of those checked, "
                         "rounded up: 9 of 10)")
    ap.add_argument("--batch-size", type=int, default=4, metavar="B",
                    help="timbres per forward pass; lower it for long pieces (default: 4)")
    ap.add_argument("--threads", type=int, default=None, metavar="N",
                    help="torch threads (default: torch's choice)")
    ap.add_argument("--device", default="cpu", help="cpu, cuda, ... (default: cpu)")
    ap.add_argument("--json", action="store_true",
                    help="print one JSON line with every figure instead of the tables")
    ap.add_argument("--no-progress", dest="progress", action="store_false",
                    help="hide the progress bar")
    return ap.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    import torch

    from neuralsynth.device import resolve_device
    from neuralsynth.evaluation import format_result, mix_pairs_from_spec, timbre_check
    from neuralsynth.inference.load import load_trained_model

    if args.threads is not None:
        torch.set_num_threads(max(1, args.threads))
    model_path = resolve_model(args.model)
    pairs = mix_pairs_from_spec(args.mix_pairs)
    only = [n.strip() for n in args.instruments.split(",")] if args.instruments else None

    t0 = time.perf_counter()
    loaded = load_trained_model(model_path, device=resolve_device(args.device))
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = timbre_check(loaded, args.dataset, split=args.split, pieces=args.pieces,
                          instruments=only, mix_pairs=pairs, metric=args.metric,
                          batch_size=args.batch_size, progress=args.progress)
    check_s = time.perf_counter() - t0
    target = args.target if args.target is not None else math.ceil(0.9 * result.n)
    met = result.n_pass >= target

    if args.json:
        print(json.dumps({"benchmark": "timbre_check", "model": model_path,
                          "dataset": str(args.dataset), "target": target, "target_met": met,
                          "load_s": round(load_s, 3), "check_s": round(check_s, 3),
                          **result.to_dict()}))
    else:
        print(f"model: {model_path} (loaded in {load_s:.2f} s); dataset: {args.dataset}")
        print(format_result(result, target=target))
        print(f"checked in {check_s:.1f} s")
    return 0 if met else 1


def main(argv: list[str] | None = None) -> int:
    from neuralsynth.errors import NeuralsynthError

    args = parse_args(argv)
    try:
        return run(args)
    except NeuralsynthError as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return exc.exit_code if exc.exit_code != 1 else 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
