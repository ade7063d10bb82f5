"""WaveNet inference speed: samples per second of an engine on the paper's shape.

Builds the paper's WaveNet (20 layers, dilations 1…512 twice, R 64, G 128, S 256, 256
µ-law classes) with random weights, generates --seconds of audio in each of --streams
independent streams with the chosen engine, and prints one line of JSON (--json) or a
table: total samples per second over all streams, real-time factor at 16 kHz, the
multiply-add work per sample and the ratio to the issue's targets:

    cpu,  1 stream,  1 thread      >= 24 000 samples/s (1.5x real time)
    cpu,  B streams, N threads     >= 32 000 x N samples/s (64 000 on 2 threads)
    cuda, 1 stream                 >= 60 000 samples/s
    cuda, many streams             >= 1 600 000 samples/s (100x real time)

The reference engine (PyTorch, the oracle) runs the same streams for --reference-seconds
for the ratio; --engine reference measures it alone. Conditioning is generated once for
a block and reused, since the engines' speed does not depend on its values; compiling
(numba's first call) is done before timing.

    python benchmarks/wavenet_speed.py --engine cpu --streams 1 --threads 1 --json
    python benchmarks/wavenet_speed.py --engine cpu --streams 8 --threads 2 --seconds 2
    python benchmarks/wavenet_speed.py --engine cuda --streams 512 --seconds 1

Exit status: 0 when the target is met, 1 when it is not, 2 for bad input.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

from bench_common import argument_parser, script_main

SAMPLE_RATE = 16000
BLOCK = 1024


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argument_parser(__doc__)
    ap.add_argument("--engine", choices=("cpu", "cuda", "reference"), default="cpu")
    ap.add_argument("--streams", type=int, default=1, help="independent streams per call")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads (cpu, reference)")
    ap.add_argument("--seconds", type=float, default=1.0,
                    help="seconds of audio generated per stream (timed)")
    ap.add_argument("--precision", choices=("fp16", "fp32"), default="fp16",
                    help="weight storage of the cpu and cuda engines")
    ap.add_argument("--reference-seconds", type=float, default=0.05,
                    help="seconds per stream the reference engine runs for the ratio "
                         "(0: skip it)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print one JSON line")
    args = ap.parse_args(argv)
    if args.streams < 1 or args.threads < 1 or args.seconds <= 0 or args.reference_seconds < 0:
        ap.error("--streams and --threads must be >= 1, --seconds > 0, "
                 "--reference-seconds >= 0")
    return args


def target(engine: str, streams: int, threads: int) -> float | None:
    if engine == "cpu":
        return 24_000.0 if streams == 1 else 32_000.0 * threads
    if engine == "cuda":
        return 60_000.0 if streams == 1 else 1_600_000.0
    return None


def macs_per_sample(cfg) -> int:
    """Multiply-adds of one autoregressive step (the conditioning is computed ahead)."""
    L, R, G, S, C = (cfg.n_layers, cfg.residual_channels, cfg.gate_channels,
                     cfg.skip_channels, cfg.n_classes)
    H = G // 2
    return L * (2 * R * G + H * S) + (L - 1) * H * R + S * C + C * C


def device_name(engine: str) -> str:
    if engine == "cuda":
        from numba import cuda

        return cuda.get_current_device().name.decode() if hasattr(
            cuda.get_current_device().name, "decode") else str(cuda.get_current_device().name)
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f
                         if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{model}, {os.cpu_count()} cores"


def samples_per_second(engine, cond_block, streams: int, seconds: float, seed: int) -> float:
    """Time ``seconds`` of audio per stream, generated block by block
    (``cond_block`` time-major ``[B, BLOCK, L, G]``)."""
    import numpy as np

    total = max(1, int(round(seconds * SAMPLE_RATE)))
    rng = np.random.default_rng(seed)
    state = engine.start(streams)
    engine.run(state, cond_block[:, :64].transpose(0, 2, 3, 1), rng.random((streams, 64)))
    done, elapsed = 0, 0.0
    while done < total:
        n = min(BLOCK, total - done)
        u = rng.random((streams, n))
        t0 = time.perf_counter()
        engine.run(state, cond_block[:, :n].transpose(0, 2, 3, 1), u)
        elapsed += time.perf_counter() - t0
        done += n
    return streams * total / elapsed


def measure(args: argparse.Namespace, _tmp) -> dict:
    import numpy as np
    import torch

    from neuralsynth.vocoders.wavenet import WaveNet, WaveNetConfig, export_weights
    from neuralsynth.vocoders.wavenet.vocoder import make_engine

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = WaveNet(WaveNetConfig()).eval()
    weights = export_weights(model)
    frames = BLOCK // model.hop_length
    mel = torch.rand(args.streams, frames, model.n_mels) * 8.0 - 10.0
    with torch.no_grad():
        # Time-major [B, BLOCK, L, G], passed as [B, L, G, n] views: the layout the
        # vocoder hands the engines (a [B, L, G, T] array would cost a transposing copy
        # per call, about a third of the cpu engine's time).
        cond = np.ascontiguousarray(model.conditioning(mel).numpy().transpose(0, 3, 1, 2))

    engine = make_engine(args.engine, weights, precision=args.precision, threads=args.threads)
    sps = samples_per_second(engine, cond, args.streams, args.seconds, args.seed)
    ref_sps = None
    if args.engine != "reference" and args.reference_seconds > 0:
        ref = make_engine("reference", weights)
        ref_sps = samples_per_second(ref, cond, args.streams, args.reference_seconds, args.seed)
    macs = macs_per_sample(model.config)
    goal = target(args.engine, args.streams, args.threads)
    return {
        "engine": args.engine, "streams": args.streams, "threads": args.threads,
        "precision": args.precision if args.engine != "reference" else "fp32",
        "seconds_per_stream": args.seconds,
        "samples_per_second": round(sps, 1),
        "samples_per_second_per_stream": round(sps / args.streams, 1),
        "realtime_x": round(sps / SAMPLE_RATE, 3),
        "flops_per_sample": 2 * macs,
        "gflops": round(2 * macs * sps / 1e9, 2),
        "reference_samples_per_second": None if ref_sps is None else round(ref_sps, 1),
        "ratio_to_reference": None if ref_sps is None else round(sps / ref_sps, 2),
        "target_samples_per_second": goal,
        "ratio_to_target": None if goal is None else round(sps / goal, 3),
        "target_met": True if goal is None else sps >= goal,
        "device": device_name(args.engine),
    }


def print_table(r: dict) -> None:
    print(f"WaveNet {r['engine']} engine ({r['precision']} weights), {r['streams']} stream(s), "
          f"{r['threads']} thread(s), {r['seconds_per_stream']} s per stream; {r['device']}")
    print(f"  samples/s        {r['samples_per_second']:12,.0f}   "
          f"({r['samples_per_second_per_stream']:,.0f} per stream, {r['realtime_x']:.2f} x "
          f"real time)")
    print(f"  work             {r['flops_per_sample'] / 1e6:12.2f} MFLOP per sample = "
          f"{r['gflops']:.1f} GFLOP/s")
    if r["reference_samples_per_second"] is not None:
        print(f"  reference        {r['reference_samples_per_second']:12,.0f}   samples/s "
              f"-> ratio {r['ratio_to_reference']:.1f}")
    if r["target_samples_per_second"] is not None:
        print(f"  target           {r['target_samples_per_second']:12,.0f}   samples/s "
              f"-> ratio {r['ratio_to_target']:.2f} "
              f"{'OK' if r['target_met'] else 'BELOW TARGET'}")


def main(argv: list[str] | None = None) -> int:
    return script_main(parse_args, measure, print_table, "wavenet_speed_", argv)


if __name__ == "__main__":
    raise SystemExit(main())
