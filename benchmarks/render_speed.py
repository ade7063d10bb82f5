"""Render speed: a 60 s MIDI file through ``render_midi`` with Griffin-Lim, end to end.

Renders the same piece --repeat times with :func:`neuralsynth.inference.render.render_midi` (encode,
model, vocoder, write: everything ``neuralsynth render`` does) and reports the time per
stage. Model loading (checkpoint, vocoder set-up, MIDI parsing: ``timings["load"]``) is
reported separately and left out of the speed figure. Target: 30x real time, i.e. under
2 s of compute for 60 s of audio on the CPU.

The first (cold) render pays one-off costs (imports, numba's cache, torch's first
allocations); it is shown but the figure is the median of the --repeat warm renders.

    python benchmarks/render_speed.py                        # default model, 60 s piece
    python benchmarks/render_speed.py --model runs/demo/best.pt --threads 2 --json
    python benchmarks/render_speed.py --model M.pt --midi song.mid --repeat 5

Exit status: 0 when the target is met, 1 when it is not, 2 for bad input.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
from pathlib import Path

from bench_common import argument_parser, resolve_model, script_main, target_line

TARGET_X = 30.0
STAGES = ("encode", "model", "vocoder", "write")
REPO = Path(__file__).resolve().parent.parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argument_parser(__doc__)
    ap.add_argument("--model", default=None, metavar="PATH",
                    help="checkpoint (default: the bundled default model)")
    ap.add_argument("--midi", default=None, metavar="FILE",
                    help="MIDI file to render (default: a generated piece of --seconds)")
    ap.add_argument("--seconds", type=float, default=60.0, metavar="S",
                    help="length of the generated piece (default: 60)")
    ap.add_argument("--timbre", default=None, help="timbre spec (default: render's default)")
    ap.add_argument("--vocoder", default="griffin_lim",
                    help="vocoder name (default: griffin_lim)")
    ap.add_argument("--repeat", type=int, default=3, metavar="N",
                    help="timed warm renders after the cold one (default: 3)")
    ap.add_argument("--threads", type=int, default=None, metavar="N",
                    help="torch and numba threads (default: their own choice)")
    ap.add_argument("--device", default="cpu", help="cpu, cuda, ... (default: cpu)")
    ap.add_argument("--json", action="store_true", help="print one JSON line")
    return ap.parse_args(argv)


def set_threads(n: int) -> int:
    """Use ``n`` threads in torch and numba (numba is capped at its pool size)."""
    import numba
    import torch

    n = max(1, int(n))
    torch.set_num_threads(n)
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    return n


def make_midi(path: Path, seconds: float) -> Path:
    """A piece of about ``seconds`` from examples/compose.py (examples/ is no package)."""
    from neuralsynth.errors import UsageError

    source = REPO / "examples" / "compose.py"
    if not source.is_file():
        raise UsageError(f"{source} not found; pass --midi FILE")
    spec = importlib.util.spec_from_file_location("neuralsynth_example_compose", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    pm = module.compose(7, seconds)
    # compose() fills whole bars, so it may overshoot; cut notes at `seconds`.
    for inst in pm.instruments:
        inst.notes = [n for n in inst.notes if n.start < seconds]
        for n in inst.notes:
            n.end = min(n.end, seconds)
    pm.write(os.fspath(path))
    return path


def measure(args: argparse.Namespace, work: Path) -> dict:
    import torch

    from neuralsynth.errors import UsageError
    from neuralsynth.inference.render import render_midi

    if args.repeat < 1:
        raise UsageError("--repeat must be >= 1")
    if args.midi is None and not args.seconds > 0:
        raise UsageError("--seconds must be > 0")
    threads = set_threads(args.threads) if args.threads is not None else torch.get_num_threads()
    model = resolve_model(args.model)
    midi = Path(args.midi) if args.midi else make_midi(work / "piece.mid", args.seconds)

    runs = []
    for i in range(args.repeat + 1):
        res = render_midi(midi, work / f"out{i}.wav", model_path=model, timbre=args.timbre,
                          vocoder={"name": args.vocoder}, device=args.device)
        t = dict(res.timings)
        t["compute"] = sum(t[s] for s in STAGES)
        runs.append((res, t))
    cold, warm = runs[0], runs[1:]
    seconds = cold[0].seconds
    median = {k: statistics.median(t[k] for _, t in warm) for k in ("load", *STAGES, "compute")}
    x_rt = seconds / median["compute"] if median["compute"] > 0 else 0.0
    return {
        "benchmark": "render_speed", "model": model,
        "midi": args.midi or f"generated {args.seconds:g} s piece (examples/compose.py)",
        "audio_s": round(seconds, 3), "vocoder": cold[0].vocoder, "timbre": cold[0].timbre,
        "device": cold[0].device, "threads": threads, "repeat": args.repeat,
        "load_s": round(median["load"], 4),
        "stages_s": {s: round(median[s], 4) for s in STAGES},
        "compute_s": round(median["compute"], 4),
        "cold_load_s": round(cold[1]["load"], 4), "cold_compute_s": round(cold[1]["compute"], 4),
        "x_realtime": round(x_rt, 2), "target_x": TARGET_X,
        "ratio_to_target": round(x_rt / TARGET_X, 3), "target_met": x_rt >= TARGET_X,
        "runs_compute_s": [round(t["compute"], 4) for _, t in warm],
    }


def print_table(r: dict) -> None:
    print(f"rendered {r['audio_s']:.1f} s of audio ({r['timbre']}, {r['vocoder']}, "
          f"{r['device']}, {r['threads']} thread(s)); median of {r['repeat']} warm run(s)")
    print(f"  load (excluded)  {r['load_s']:8.3f} s   cold: {r['cold_load_s']:.3f} s")
    for stage, s in r["stages_s"].items():
        print(f"  {stage:<16} {s:8.3f} s")
    print(f"  compute          {r['compute_s']:8.3f} s   cold: {r['cold_compute_s']:.3f} s")
    print(f"  speed            {r['x_realtime']:8.1f} x real time")
    print(target_line(r, 8))


def main(argv: list[str] | None = None) -> int:
    return script_main(parse_args, measure, print_table, "render_speed_", argv)


if __name__ == "__main__":
    sys.exit(main())
