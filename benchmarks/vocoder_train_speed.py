"""Vocoder training speed: seconds per optimisation step of a ``train.task: vocoder`` recipe.

Builds the recipe's trainer (the same VocoderTrainer `neuralsynth train` runs, on the
recipe's dataset), runs --warmup untimed steps, then times --steps steps (crop reading,
mel, forward, backward, Adam) and one validation, and prints one line of JSON (--json)
or a table: median and 90th-percentile step time, training samples per second, the
projected time of the recipe's steps with its validations, and the ratio to the target
step time (--target-s, default 0.3 s: what a ~40-minute CPU run of 12 000 steps needs).
Nothing is written to the run directory.

    python benchmarks/vocoder_train_speed.py recipes/wavenet_vocoder_cpu.yaml --threads 2
    python benchmarks/vocoder_train_speed.py recipes/wavenet_vocoder.yaml --steps 3 \\
        --warmup 1 --target-s 10 -o train.val_pieces=1 -o train.val_crops=1

Exit status: 0 when the target is met, 1 when it is not, 2 for bad input.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

from bench_common import argument_parser, script_main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argument_parser(__doc__)
    ap.add_argument("recipe", help="a recipe with train.task: vocoder")
    ap.add_argument("-o", "--override", dest="overrides", action="append", default=[],
                    metavar="KEY=VALUE", help="recipe override (repeatable)")
    ap.add_argument("--steps", type=int, default=30, help="timed steps")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    ap.add_argument("--target-s", type=float, default=0.3, help="target median step time")
    ap.add_argument("--json", action="store_true", help="print one JSON line")
    args = ap.parse_args(argv)
    if args.steps < 1 or args.warmup < 0 or args.threads < 1 or args.target_s <= 0:
        ap.error("--steps and --threads must be >= 1, --warmup >= 0, --target-s > 0")
    return args


def measure(args: argparse.Namespace, tmp) -> dict:
    import torch

    from neuralsynth.device import resolve_device
    from neuralsynth.errors import UsageError
    from neuralsynth.recipe.load import load_recipe
    from neuralsynth.training.vocoder import VocoderTrainer

    torch.set_num_threads(args.threads)
    recipe = load_recipe(args.recipe, args.overrides)
    if recipe.train.task != "vocoder":
        raise UsageError(f"{args.recipe} trains a {recipe.train.task} model; this benchmark "
                         "measures train.task vocoder recipes")
    device = resolve_device(args.device)
    trainer = VocoderTrainer(recipe, device, progress=False, say=lambda _msg: None)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for step in range(1, args.warmup + 1):
        trainer.train_step(step)
    times = []
    for step in range(args.warmup + 1, args.warmup + args.steps + 1):
        sync()
        start = time.perf_counter()
        trainer.train_step(step)
        sync()
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    trainer.validate()
    sync()
    val_s = time.perf_counter() - start

    cfg = recipe.train
    median = statistics.median(times)
    p90 = sorted(times)[min(len(times) - 1, int(0.9 * len(times)))]
    validations = cfg.steps // cfg.val_every + 1
    return {
        "recipe": args.recipe, "device": str(device), "threads": args.threads,
        "machine": platform.processor() or platform.machine(),
        "vocoder": {k: recipe.vocoder[k] for k in ("n_layers", "residual_channels",
                                                   "gate_channels", "skip_channels")},
        "batch": [cfg.batch_size, cfg.segment_samples], "timed_steps": len(times),
        "step_s_median": round(median, 4), "step_s_p90": round(p90, 4),
        "samples_per_s": round(cfg.batch_size * cfg.segment_samples / median),
        "validation_s": round(val_s, 2),
        "validation_samples": sum(b.n_samples for b in trainer.val_batches),
        "projected_run_min": round((cfg.steps * median + validations * val_s) / 60, 1),
        "target_s": args.target_s, "ratio_to_target": round(args.target_s / median, 2),
        "target_met": median <= args.target_s,
    }


def print_table(r: dict) -> None:
    v = r["vocoder"]
    print(f"{r['recipe']} on {r['device']} ({r['threads']} threads, {r['machine']})")
    print(f"  wavenet          {v['n_layers']} layers, R{v['residual_channels']} "
          f"G{v['gate_channels']} S{v['skip_channels']}; batch {r['batch'][0]} x "
          f"{r['batch'][1]} samples")
    print(f"  step             {r['step_s_median']:.3f} s median, {r['step_s_p90']:.3f} s p90 "
          f"over {r['timed_steps']} steps ({r['samples_per_s']:,} samples/s)")
    print(f"  validation       {r['validation_s']:.1f} s for {r['validation_samples']:,} "
          f"samples")
    print(f"  projected run    {r['projected_run_min']:.1f} min for the recipe's steps and "
          f"validations")
    print(f"  target           {r['target_s']:.3f} s/step   ratio {r['ratio_to_target']:.2f} "
          f"{'OK' if r['target_met'] else 'BELOW TARGET'}")


def main(argv: list[str] | None = None) -> int:
    return script_main(parse_args, measure, print_table, "vocoder-train-speed-", argv)


if __name__ == "__main__":
    raise SystemExit(main())
