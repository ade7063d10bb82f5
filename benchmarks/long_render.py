"""Long pieces: peak memory and time of `neuralsynth render` by length, and the window joins.

Memory: generated pieces of --minutes (default 1, 10, 60) are rendered by the real
command under ``/usr/bin/time -v`` (peak RSS of the process, wall time). Target (issue
12): at most 1.5 GB for an hour, and flat in length: once a piece is longer than one
window (2 min) memory stops growing, so the longest piece stays within 1.1 x the
second longest (a piece shorter than a window needs less).

Joins: a 150 s piece is rendered whole (one window) and in 20 s windows, and the two are
compared: the model's log-mel over every vocoded frame (percentiles of |difference| in dB,
bins within 40 dB of the peak), and the audio around each join: a click shows as a burst
of energy above 4 kHz in the 4 ms around the join, measured against the same spot of the
whole-piece render.

    python benchmarks/long_render.py                       # 1, 10, 60 min + joins
    python benchmarks/long_render.py --minutes 1 --minutes 10 --vocoder harmonic --json
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
from bench_common import argument_parser, resolve_model, script_main

TARGET_MB = 1500.0
FLAT_RATIO = 1.1
JOIN_CORE_S = 20.0


def parse_args(argv: list[str] | None = None):
    ap = argument_parser(__doc__)
    ap.add_argument("--minutes", type=float, action="append", default=None,
                    help="piece length to render, repeatable (default: 1, 10, 60)")
    ap.add_argument("--vocoder", default="griffin_lim", help="default: griffin_lim")
    ap.add_argument("--model", default=None, help="checkpoint (default: the bundled model)")
    ap.add_argument("--skip-joins", action="store_true", help="memory and time only")
    ap.add_argument("--join-overlap", type=int, default=None, metavar="FRAMES",
                    help="cross-fade half-width for the join check (default: the "
                         "renderer's; 0 splices windows with no cross-fade, to see what "
                         "the click measure reports for a bad join)")
    ap.add_argument("--json", action="store_true", help="print one JSON line")
    args = ap.parse_args(argv)
    args.minutes = args.minutes or [1.0, 10.0, 60.0]
    if any(m <= 0 for m in args.minutes):
        ap.error("--minutes must be > 0")
    return args


def _compose(seed: int, seconds: float):
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "examples" / "compose.py"
    spec = importlib.util.spec_from_file_location("long_render_compose", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.compose(seed, seconds)


def _timed_render(midi: Path, out: Path, model: str, vocoder: str) -> dict:
    exe = Path(sys.executable).parent / "neuralsynth"
    cmd = ["/usr/bin/time", "-v", str(exe), "render", str(midi), "-o", str(out),
           "--model", model, "--vocoder", vocoder, "-q"]
    proc = subprocess.run(cmd, capture_output=True, text=True,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})
    if proc.returncode != 0:
        raise RuntimeError(f"render failed ({proc.returncode}): {proc.stderr[-2000:]}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)",
                     proc.stderr)
    parts = [float(x) for x in wall.group(1).split(":")]
    seconds = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
    return {"peak_rss_mb": int(rss.group(1)) / 1024.0, "wall_s": seconds}


def _joins(model_path: str, vocoder: str, overlap: int | None) -> dict:
    import neuralsynth as ns
    from neuralsynth.audio.constants import HOP_LENGTH, SAMPLE_RATE
    from neuralsynth.inference.windowed import WindowedRender
    from neuralsynth.inference.windows import plan_windows

    synth = ns.load_model(model_path, device="cpu")
    job = synth.prepare(_compose(3, 150.0), "piano", vocoder=vocoder)
    n = job.n_frames
    whole = WindowedRender(synth.model, synth.device, job.parts, n, job.vocoder,
                           job.vocoder_name, windows=plan_windows(n, core=n))
    core = int(JOIN_CORE_S * SAMPLE_RATE / HOP_LENGTH)
    plan = plan_windows(n, core=core, **({} if overlap is None else {"overlap": overlap}))
    cut = WindowedRender(synth.model, synth.device, job.parts, n, job.vocoder,
                         job.vocoder_name, windows=plan)
    # The model's mel, whole vs window by window.
    ref = 10 * np.log10(np.maximum(whole._mel(0, job.parts[0], whole.plan[0]) ** 2, 1e-10))
    diffs, levels = [], []
    for w in plan:
        m = 10 * np.log10(np.maximum(cut._mel(0, job.parts[0], w) ** 2, 1e-10))
        diffs.append(np.abs(m - ref[w.vocoded[0]:w.vocoded[1]]))
        levels.append(ref[w.vocoded[0]:w.vocoded[1]])
    d, lv = np.concatenate(diffs), np.concatenate(levels)
    sel = lv > ref.max() - 40.0
    mel = {f"p{q}": float(np.percentile(d[sel], q)) for q in (50, 99, 99.9)}
    mel["max"] = float(d[sel].max())
    # The audio at the joins.
    a = np.concatenate(list(whole.blocks()))
    b = np.concatenate(list(cut.blocks()))
    joins = [w.core[0] * HOP_LENGTH for w in plan[1:]]
    clicks = [_click_db(b, j) - _click_db(a, j) for j in joins]
    snr = [_snr_db(a, b, j, 4000) for j in joins]
    return {"core_s": JOIN_CORE_S, "joins": len(joins), "mel_db": mel,
            "click_excess_db": [float(x) for x in clicks],
            "join_snr_db": [float(x) for x in snr]}


def _highband(x: np.ndarray) -> np.ndarray:
    spec = np.fft.rfft(x * np.hanning(len(x)))
    freqs = np.fft.rfftfreq(len(x), 1.0 / 16000)
    return np.abs(spec[freqs > 4000.0]) ** 2


def _click_db(x: np.ndarray, at: int, half: int = 32, around: int = 4000) -> float:
    """Energy above 4 kHz in the 4 ms at ``at``, in dB over the median of the 4 ms
    blocks in the 0.5 s around it."""
    def energy(c: int) -> float:
        return float(_highband(x[c - half:c + half]).sum()) + 1e-12

    here = energy(at)
    others = [energy(c) for c in range(at - around, at + around, 2 * half) if c != at]
    return 10 * np.log10(here / np.median(others))


def _snr_db(a: np.ndarray, b: np.ndarray, at: int, half: int) -> float:
    """Whole vs windowed audio over the cross-fade around ``at``: signal-to-difference."""
    x, y = a[at - half:at + half], b[at - half:at + half]
    return float(10 * np.log10(np.sum(x ** 2) / max(np.sum((x - y) ** 2), 1e-20)))


def measure(args, work: Path) -> dict:
    model = resolve_model(args.model)
    lengths = {}
    for minutes in args.minutes:
        midi = work / f"piece_{minutes:g}min.mid"
        _compose(11, minutes * 60.0).write(os.fspath(midi))
        print(f"rendering {minutes:g} min ...", file=sys.stderr)
        lengths[f"{minutes:g} min"] = _timed_render(midi, work / "out.wav", model,
                                                    args.vocoder)
    joins = None if args.skip_joins else _joins(model, args.vocoder, args.join_overlap)
    peaks = [v["peak_rss_mb"] for v in lengths.values()]
    by_length = [lengths[f"{m:g} min"]["peak_rss_mb"] for m in sorted(set(args.minutes))]
    checks = {f"peak RSS <= {TARGET_MB:.0f} MB": (max(peaks) <= TARGET_MB,
                                                 f"{max(peaks):.0f} MB")}
    if len(by_length) > 1:
        ratio = by_length[-1] / by_length[-2]
        checks[f"flat: longest <= {FLAT_RATIO} x next longest"] = (ratio <= FLAT_RATIO,
                                                                   f"ratio {ratio:.2f}")
    return {"model": model, "vocoder": args.vocoder, "lengths": lengths, "joins": joins,
            "checks": checks, "target_met": all(ok for ok, _ in checks.values())}


def print_table(r: dict) -> None:
    print(f"render of generated pieces, vocoder {r['vocoder']} (`/usr/bin/time -v`)")
    print(f"  {'length':>8} {'peak RSS':>10} {'wall':>9} {'x real time':>12}")
    for name, v in r["lengths"].items():
        minutes = float(name.split()[0])
        print(f"  {name:>8} {v['peak_rss_mb']:8.0f} MB {v['wall_s']:7.1f} s "
              f"{minutes * 60 / v['wall_s']:11.1f}x")
    j = r["joins"]
    if j:
        m = j["mel_db"]
        print(f"joins: 150 s piano piece in {j['core_s']:.0f} s windows ({j['joins']} joins) "
              f"vs whole")
        print(f"  log-mel |difference| (bins within 40 dB of the peak): median "
              f"{m['p50']:.3f} dB, 99 % {m['p99']:.3f} dB, 99.9 % {m['p99.9']:.3f} dB, "
              f"max {m['max']:.3f} dB")
        print("  energy above 4 kHz at each join, dB over the whole-piece render: "
              + " ".join(f"{x:+.1f}" for x in j["click_excess_db"]))
        print("  whole vs windowed over the 0.5 s around each join, SNR dB: "
              + " ".join(f"{x:.1f}" for x in j["join_snr_db"]))
    print("targets:")
    for name, (ok, value) in r["checks"].items():
        print(f"  {name:36s} {value:>12s}  {'OK' if ok else 'BELOW TARGET'}")


def main(argv: list[str] | None = None) -> int:
    return script_main(parse_args, measure, print_table, "long_render_", argv)


if __name__ == "__main__":
    raise SystemExit(main())
