"""Distributed training speed: steps/s of one process against N torchrun processes.

Both train the same recipe on the same global batch (``train.batch_size``): one process
with all the machine's threads, then ``torchrun --nproc_per_node N`` with
``cores / N`` threads each (gloo on the CPU, nccl with ``--device cuda``). Each run
builds its trainer exactly as ``neuralsynth train`` does, takes ``--warmup`` steps, then
times ``--steps`` steps (validation and checkpoints are not part of a step). Prints
steps/s and samples/s of each and the speed-up, against a target speed-up (default 1.0:
spreading the batch over processes must at least not cost time).

    python benchmarks/ddp_speed.py mel2mel_10inst_cpu --dataset data/10inst
    python benchmarks/ddp_speed.py mel2mel_100inst_cpu --dataset data/gm100 --nproc 2 --json
    python benchmarks/ddp_speed.py mel2mel_10inst --dataset data/10inst --device cuda --nproc 1

Exit status: 0 when the target speed-up is met, 1 when not, 2 for bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench_common import argument_parser, run_measurement

HERE = Path(__file__).resolve()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argument_parser(__doc__)
    ap.add_argument("recipe", help="recipe file or bundled recipe name")
    ap.add_argument("--dataset", required=True, metavar="DIR", help="dataset to train on")
    ap.add_argument("--set", dest="overrides", action="append", default=[],
                    metavar="KEY=VALUE", help="recipe override, repeatable")
    ap.add_argument("--nproc", type=int, default=2, help="processes of the distributed run "
                                                         "(default: 2)")
    ap.add_argument("--steps", type=int, default=100, help="timed steps (default: 100)")
    ap.add_argument("--warmup", type=int, default=10, help="untimed first steps (default: 10)")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--target", type=float, default=1.0,
                    help="speed-up of the distributed run to reach (default: 1.0)")
    ap.add_argument("--glibc-default", action="store_true",
                    help="leave glibc's allocator as it is (neuralsynth train keeps freed "
                         "blocks; this measures what that saves)")
    ap.add_argument("--json", action="store_true", help="print one JSON line")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def worker(args: argparse.Namespace) -> None:
    """One rank (or the single process): build, warm up, time; rank 0 prints JSON."""
    import torch

    from neuralsynth.device import resolve_device
    from neuralsynth.recipe.load import load_recipe
    from neuralsynth.training.allocator import keep_freed_memory
    from neuralsynth.training.distributed import from_environment, rank_device
    from neuralsynth.training.loop import _build_trainer

    if not args.glibc_default:
        keep_freed_memory()                  # as `neuralsynth train` does
    recipe = load_recipe(args.recipe, [f"data.dataset={args.dataset}", *args.overrides])
    dev = resolve_device(args.device)
    world = from_environment(dev)
    together = False
    try:
        trainer = _build_trainer(recipe, rank_device(dev, world), world, progress=False,
                                 say=lambda m: None)
        trainer.model.train()
        for step in range(1, args.warmup + 1):
            trainer.train_step(step)
        world.barrier()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        for step in range(args.warmup + 1, args.warmup + args.steps + 1):
            trainer.train_step(step)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - started
        if world.is_main:
            print(json.dumps({"world_size": world.world_size, "seconds": seconds,
                              "threads": torch.get_num_threads(),
                              "batch_size": recipe.train.batch_size,
                              "segment_samples": recipe.train.segment_samples}), flush=True)
        together = True
    finally:
        world.close(together)


def _run(cmd: list[str], env: dict[str, str]) -> dict:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    lines = [x for x in proc.stdout.splitlines() if x.startswith("{")]
    if proc.returncode != 0 or not lines:
        from neuralsynth.errors import UsageError

        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise UsageError(f"benchmark run failed: {tail}")
    return json.loads(lines[-1])


def measure(args: argparse.Namespace) -> dict:
    from neuralsynth.errors import UsageError

    if args.nproc < 1 or args.steps < 1 or args.warmup < 0:
        raise UsageError("--nproc and --steps must be >= 1, --warmup >= 0")
    if not (Path(args.dataset) / "manifest.json").is_file():
        raise UsageError(f"--dataset {args.dataset}: no manifest.json there")
    cores = os.cpu_count() or 1
    forward = [args.recipe, "--dataset", args.dataset, "--steps", str(args.steps),
               "--warmup", str(args.warmup), "--device", args.device, "--worker"]
    if args.glibc_default:
        forward.append("--glibc-default")
    for o in args.overrides:
        forward += ["--set", o]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE.parent.parent),
                                                       os.environ.get("PYTHONPATH", "")]))
    single = _run([sys.executable, str(HERE), *forward],
                  dict(env, OMP_NUM_THREADS=str(cores)))
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                f"--nproc_per_node={args.nproc}", str(HERE), *forward]
    shared = _run(torchrun, dict(env, OMP_NUM_THREADS=str(max(1, cores // args.nproc))))
    out = {"recipe": args.recipe, "device": args.device, "cores": cores,
           "allocator": "glibc default" if args.glibc_default else "freed blocks kept",
           "steps": args.steps, "batch_size": single["batch_size"],
           "segment_samples": single["segment_samples"]}
    for key, r in (("single", single), ("distributed", shared)):
        out[key] = {"processes": r["world_size"], "threads_per_process": r["threads"],
                    "steps_per_s": args.steps / r["seconds"],
                    "samples_per_s": args.steps * r["batch_size"] * r["segment_samples"]
                    / r["seconds"]}
    out["speedup"] = out["distributed"]["steps_per_s"] / out["single"]["steps_per_s"]
    out["target_speedup"] = args.target
    out["ratio_to_target"] = out["speedup"] / args.target
    out["target_met"] = out["speedup"] >= args.target
    return out


def print_table(r: dict) -> None:
    print(f"recipe {r['recipe']} on {r['device']} ({r['cores']} cores): global batch "
          f"{r['batch_size']} x {r['segment_samples']} samples, {r['steps']} timed steps, "
          f"allocator: {r['allocator']}")
    for key in ("single", "distributed"):
        x = r[key]
        print(f"  {key:<12} {x['processes']} process(es) x {x['threads_per_process']} "
              f"thread(s)   {x['steps_per_s']:7.2f} steps/s   "
              f"{x['samples_per_s'] / 1e3:8.1f} k samples/s")
    print(f"  speed-up     {r['speedup']:.2f}x   target {r['target_speedup']:.2f}x   ratio "
          f"{r['ratio_to_target']:.2f} {'OK' if r['target_met'] else 'BELOW TARGET'}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        worker(args)
        return 0
    return run_measurement(lambda tmp: measure(args), print_table, as_json=args.json,
                           prefix="ddp_speed_")


if __name__ == "__main__":
    sys.exit(main())
