"""Ablations: train the Mel2Mel paper's Table 3 variants and tabulate their losses.

Each variant is a recipe in recipes/ablations/ that changes one thing in proposed.yaml
(the paper's model at a CPU scale): frame or onset input only, one FiLM layer only, a
forward-only LSTM, a ReLU after the input convolution, 3x1 or 5x1 convolutions, a
2-layer LSTM, and the three training losses. Every chosen variant is trained with the
library's train() for --steps steps, --seeds times (train.seed 0, 1, ...), into
OUT/VARIANT/seedK; a run that is already complete is reused and an interrupted one is
resumed, so running the same command again only does what is missing. The table gives
each variant's train and validation loss (its own training loss) as mean +- std over
the last --last validations of every seed, as the paper's "mean +- std over the last
checkpoints"; with --eval-losses, also every run's final model scored on the same
validation set in all three losses, so the loss variants can be compared in common
units. Losses are printed x 10^3. Variants whose recipes resolve to the same run (the
tanh-log loss variant is the proposed model) are trained once.

    python benchmarks/ablation.py --dataset data/10inst                  # all, ~2 h on 2 cores
    python benchmarks/ablation.py --dataset data/10inst --variants proposed,forward_lstm \\
        --seeds 2 --eval-losses
    python benchmarks/ablation.py --dataset data/small --steps 200 --json \\
        -o data.instruments=[grand_piano,church_organ] -o model.sequence.hidden_size=64
    python benchmarks/ablation.py --list

Exit status: 0 when every run finished, 1 when one did not (its loss diverged), 2 for
bad input, 130 on Ctrl-C (finished runs and the interrupted run's last checkpoint are
kept; the same command resumes).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from bench_common import argument_parser, script_main

REPO = Path(__file__).resolve().parent.parent
RECIPES = REPO / "recipes" / "ablations"
#: The rows of the table, in the paper's order; other recipes found in RECIPES follow.
VARIANTS = ("proposed", "frames_only", "onsets_only", "film_first_only", "film_second_only",
            "forward_lstm", "input_relu", "conv3x1", "conv5x1", "lstm_2layer",
            "loss_abs_mse", "loss_log_abs_mse", "loss_tanh_log_abs_mse")
SCALE_UNIT = 1e3          # losses are printed x 10^3, like the paper's tables
LOSS_SHORT = {"abs_mse": "abs", "log_abs_mse": "log", "tanh_log_abs_mse": "tanh"}


def available_variants() -> list[str]:
    """Variant names: those of :data:`VARIANTS` that have a recipe, then any other."""
    found = {p.stem for p in RECIPES.glob("*.yaml")}
    return [v for v in VARIANTS if v in found] + sorted(found - set(VARIANTS))


def describe(variant: str) -> str:
    """The first sentence of the variant recipe's opening comment (what it changes)."""
    words = []
    for line in (RECIPES / f"{variant}.yaml").read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        words += line.lstrip("#").split()
    text = " ".join(words)
    return text.split(". ")[0].rstrip(".")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argument_parser(__doc__)
    ap.add_argument("--dataset", metavar="DIR",
                    help="dataset directory with manifest.json (sets data.dataset)")
    ap.add_argument("--variants", default="all", metavar="A,B,...",
                    help="comma-separated variants to train, or 'all' (default); --list "
                         "names them")
    ap.add_argument("--steps", type=int, default=None, metavar="N",
                    help="training steps per run (default: the recipes' train.steps)")
    ap.add_argument("--val-every", type=int, default=None, metavar="K",
                    help="validate and checkpoint every K steps (default: the recipes' "
                         "val_every; with --steps, steps/10)")
    ap.add_argument("--seeds", type=int, default=1, metavar="K",
                    help="runs per variant, with train.seed 0..K-1 (default: 1)")
    ap.add_argument("--last", type=int, default=3, metavar="M",
                    help="validations per run the mean +- std is taken over (default: 3)")
    ap.add_argument("-o", "--override", dest="overrides", action="append", default=[],
                    metavar="KEY=VALUE", help="recipe override applied to every variant "
                                              "(repeatable; value is YAML)")
    ap.add_argument("--out", default="runs/ablations", metavar="DIR",
                    help="where the runs go, OUT/VARIANT/seedK (default: runs/ablations)")
    ap.add_argument("--eval-losses", action="store_true",
                    help="score every run's final model in all three losses on its "
                         "validation set")
    ap.add_argument("--device", default=None,
                    help="cpu, cuda or auto (default: the recipes' train.device)")
    ap.add_argument("--threads", type=int, default=None, metavar="N",
                    help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--list", action="store_true", help="list the variants and exit")
    ap.add_argument("--json", action="store_true",
                    help="print one JSON line with every figure instead of the table")
    args = ap.parse_args(argv)
    if args.list:
        return args
    if not args.dataset:
        ap.error("--dataset is required (a directory made by `neuralsynth data synth`)")
    for name in ("steps", "val_every", "threads"):
        value = getattr(args, name)
        if value is not None and value < 1:
            ap.error(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if args.seeds < 1 or args.last < 1:
        ap.error("--seeds and --last must be >= 1")
    return args


def chosen_variants(spec: str) -> list[str]:
    from neuralsynth.errors import UsageError, did_you_mean

    names = available_variants()
    if spec.strip() == "all":
        return names
    chosen = [v.strip() for v in spec.split(",") if v.strip()]
    for v in chosen:
        if v not in names:
            raise UsageError(f"unknown variant '{v}'{did_you_mean(v, names)}; choose from "
                             f"{', '.join(names)} (or 'all')")
    if not chosen:
        raise UsageError("--variants names no variant")
    return list(dict.fromkeys(chosen))


def variant_recipe(variant: str, args: argparse.Namespace, seed: int) -> Any:
    """The variant's recipe with the dataset, the user's overrides and the runner's
    schedule (steps, validation interval, seed) applied."""
    from neuralsynth.recipe.load import load_recipe

    path = RECIPES / f"{variant}.yaml"
    base = [f"data.dataset={args.dataset}", *args.overrides]
    if args.steps is not None:
        base.append(f"train.steps={args.steps}")
    val_every = args.val_every
    if val_every is None and args.steps is not None:
        val_every = max(1, args.steps // 10)
    if val_every is not None:
        base += [f"train.val_every={val_every}", f"train.checkpoint_every={val_every}"]
    return load_recipe(path, [*base, f"train.seed={seed}"])


def signature(recipe: Any) -> str:
    """What makes two runs the same run: the resolved recipe without name and out dir."""
    d = recipe.to_dict()
    d.pop("name", None)
    d["train"].pop("out", None)
    return json.dumps(d, sort_keys=True)


def dataset_hours(dataset: str, instruments: list[str]) -> dict[str, float]:
    """Audio hours per split over the recipe's instruments (all of them together)."""
    from neuralsynth.data.manifest import read_manifest

    hours: dict[str, float] = {}
    for it in read_manifest(dataset, check_files=False).items:
        if it.instrument in instruments and it.seconds is not None:
            hours[it.split] = hours.get(it.split, 0.0) + it.seconds / 3600
    return {k: round(v, 3) for k, v in sorted(hours.items())}


def scale_of(recipe: Any, args: argparse.Namespace) -> dict[str, Any]:
    from neuralsynth.audio.constants import HOP_LENGTH

    t = recipe.train
    return {"dataset": recipe.data.dataset, "instruments": list(recipe.data.instruments),
            "dataset_hours": dataset_hours(recipe.data.dataset, list(recipe.data.instruments)),
            "steps": t.steps, "batch_size": t.batch_size, "segment_samples": t.segment_samples,
            "segment_frames": t.segment_samples // HOP_LENGTH, "lr": t.lr,
            "lr_halve_every": t.lr_halve_every, "val_every": t.val_every,
            "val_pieces": t.val_pieces, "hidden_size": recipe.model["sequence"].get("hidden_size"),
            "seeds": args.seeds, "last": args.last, "overrides": list(args.overrides)}


def train_one(recipe: Any, run_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Train (or resume, or reuse) one run; its outcome and its last validations."""
    from neuralsynth.errors import UsageError
    from neuralsynth.evaluation.ablation import last_validations, mean_std
    from neuralsynth.training.loop import TrainingError, train

    start = time.perf_counter()
    error = None
    try:
        result = train(recipe, resume=True, out_dir=run_dir, progress=False,
                       device=args.device)
        step, reused = result.step, result.already_complete
    except TrainingError as exc:        # a diverged run is a result, not a crash
        error, step, reused = " ".join(str(exc).split()), None, False
    except UsageError as exc:
        if (run_dir / "last.pt").exists():     # a run made with other options
            raise UsageError(f"{exc}; give the options of that earlier command again "
                             f"to reuse its runs, or another --out") from None
        raise
    seconds = time.perf_counter() - start
    finished = error is None and step is not None and step >= recipe.train.steps
    recs = last_validations(run_dir / "metrics.jsonl", args.last)
    speed = [r["steps_per_s"] for r in recs if r.get("steps_per_s")]
    return {"seed": recipe.train.seed, "run_dir": str(run_dir), "steps": recipe.train.steps,
            "step": step, "finished": finished, "already_complete": reused,
            "train_s": round(seconds, 2), "error": error,
            "steps_per_s": speed[-1] if speed else None,
            "validations": [{k: r.get(k) for k in ("step", "train_loss", "val_loss")}
                            for r in recs],
            "train_loss": _summary(mean_std(r["train_loss"] for r in recs)),
            "val_loss": _summary(mean_std(r["val_loss"] for r in recs
                                          if r.get("val_loss") is not None))}


def _summary(ms: Any) -> dict[str, Any] | None:
    return ms.to_dict() if ms is not None else None


def summarize(variant: str, recipe: Any, runs: list[dict[str, Any]], same_as: str | None,
              eval_losses: bool) -> dict[str, Any]:
    """A table row: the last validations of every finished run pooled."""
    from neuralsynth.evaluation.ablation import LOSS_NAMES, mean_std

    done = [r for r in runs if r["finished"]]
    row = {"variant": variant, "recipe": str((RECIPES / f"{variant}.yaml").relative_to(REPO)),
           "description": describe(variant), "loss": recipe.loss["name"],
           "same_as": same_as, "runs": runs,
           "runs_finished": len(done),
           "train_loss": _summary(mean_std(v["train_loss"] for r in done
                                           for v in r["validations"])),
           "val_loss": _summary(mean_std(v["val_loss"] for r in done for v in r["validations"]
                                         if v["val_loss"] is not None)),
           "steps_per_s": _summary(mean_std(r["steps_per_s"] for r in done
                                            if r["steps_per_s"])),
           "eval_losses": None}
    if eval_losses:
        row["eval_losses"] = {n: _summary(mean_std(r["eval_losses"][n] for r in done
                                                   if r.get("eval_losses")))
                              for n in LOSS_NAMES}
    return row


def measure(args: argparse.Namespace, _tmp: Path) -> dict[str, Any]:
    from neuralsynth.device import resolve_device
    from neuralsynth.evaluation.ablation import ValidationSets, validation_losses

    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    variants = chosen_variants(args.variants)
    recipes = {(v, s): variant_recipe(v, args, s) for v in variants for s in range(args.seeds)}
    out = Path(args.out)
    first_of: dict[str, str] = {}          # run signature -> first variant with it
    same_as = {}
    for v in variants:
        first = first_of.setdefault(signature(recipes[(v, 0)]), v)
        same_as[v] = first if first != v else None
    todo = [(v, s) for v in variants if same_as[v] is None for s in range(args.seeds)]
    scale = scale_of(recipes[(variants[0], 0)], args)     # reads the manifest: fails early

    sets = ValidationSets()
    runs: dict[str, list[dict[str, Any]]] = {}
    for i, (v, s) in enumerate(todo, 1):
        run = train_one(recipes[(v, s)], out / v / f"seed{s}", args)
        if args.eval_losses and run["finished"]:
            device = str(resolve_device(args.device or recipes[(v, s)].train.device))
            run["eval_losses"] = validation_losses(Path(run["run_dir"]) / "last.pt",
                                                   device=device, sets=sets)
        runs.setdefault(v, []).append(run)
        print(f"[{i}/{len(todo)}] {_run_line(v, run)}", file=sys.stderr, flush=True)

    rows = [summarize(v, recipes[(v, 0)], runs[same_as[v] or v], same_as[v], args.eval_losses)
            for v in variants]
    total = len(todo)
    finished = sum(r["finished"] for v in variants if same_as[v] is None for r in runs[v])
    return {"benchmark": "ablation", "scale": scale,
            "out": str(out), "variants": rows, "eval_losses": bool(args.eval_losses),
            "runs_total": total, "runs_finished": finished,
            "target": "every run finishes", "target_met": finished == total,
            "paper": None}


def _run_line(variant: str, run: dict[str, Any]) -> str:
    head = f"{variant} seed {run['seed']}: "
    if run["error"]:
        return head + f"did not finish ({run['error']})"
    val = run["validations"][-1]["val_loss"] if run["validations"] else None
    tail = f", last val loss {val:.4g}" if val is not None else ""
    if run["already_complete"]:
        return head + f"complete already ({run['step']} steps){tail}"
    return head + f"{run['step']} steps in {run['train_s']:.1f} s{tail}"


# ---------------------------------------------------------------------------- table
def _ms(s: dict[str, Any] | None, width: int = 15) -> str:
    if s is None:
        return f"{'-':>{width}}"
    m, sd = s["mean"] * SCALE_UNIT, s["std"] * SCALE_UNIT
    digits = 1 if abs(m) >= 100 else 3
    return f"{f'{m:.{digits}f} ± {sd:.{digits}f}':>{width}}"


def _hours(h: float) -> str:
    return f"{h:.1f} h" if h >= 1 else f"{h * 60:.1f} min"


def print_table(r: dict[str, Any]) -> None:
    sc = r["scale"]
    n = len(sc["instruments"])
    hours = sc["dataset_hours"]
    h = ", ".join(_hours(hours[k]) + f" {k}" for k in hours) or "hours unknown"
    print(f"Mel2Mel ablations (the paper's Table 3) on {sc['dataset']}: {n} instrument"
          f"{'s' if n != 1 else ''}, {h} (all instruments together)")
    halve = (f"halved every {sc['lr_halve_every']}" if sc["lr_halve_every"] else "constant")
    print(f"scale: {sc['steps']} steps of batch {sc['batch_size']} x {sc['segment_frames']} "
          f"frames ({sc['segment_samples']} samples), BiLSTM {sc['hidden_size']}, lr "
          f"{sc['lr']:g} {halve}, validation every {sc['val_every']} steps on "
          f"{sc['val_pieces'] or 'all'} val pieces; {sc['seeds']} seed(s)")
    if sc["overrides"]:
        print(f"overrides: {' '.join(sc['overrides'])}")
    print(f"losses x 10^3; train/val: each variant's own training loss, mean ± std over "
          f"the last {sc['last']} validations of every seed")
    if r["eval_losses"]:
        print("abs/log/tanh: each run's final model on the same validation set in each loss "
              "(mean ± std over seeds)")
    cols = f"{'variant':<22} {'loss':<17} {'train':>15} {'val':>15}"
    if r["eval_losses"]:
        cols += "".join(f" {'val ' + LOSS_SHORT[k]:>15}" for k in LOSS_SHORT)
    print(cols + f" {'steps/s':>8}")
    for row in r["variants"]:
        loss = row["loss"]
        if row["same_as"]:
            print(f"{row['variant']:<22} {loss:<17} (the runs of {row['same_as']}: same recipe)")
            continue
        line = f"{row['variant']:<22} {loss:<17} {_ms(row['train_loss'])} {_ms(row['val_loss'])}"
        if r["eval_losses"]:
            line += "".join(f" {_ms(row['eval_losses'][k])}" for k in LOSS_SHORT)
        sp = row["steps_per_s"]
        line += f" {sp['mean']:8.2f}" if sp else f" {'-':>8}"
        unfinished = len(row["runs"]) - row["runs_finished"]
        if unfinished:
            line += f"  ({unfinished} of {len(row['runs'])} runs did not finish)"
        print(line)
    print(f"runs finished: {r['runs_finished']} of {r['runs_total']} (target: all) "
          f"{'OK' if r['target_met'] else 'NOT MET'}; runs in {r['out']}")
    print("paper's Table 3: not reproduced here (its figures were not available to us; "
          "see docs/ablations.md)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        for v in available_variants():
            print(f"{v:<22} {describe(v)}")
        return 0
    return script_main(lambda _argv: args, measure, print_table, "ablation-", argv)


if __name__ == "__main__":
    raise SystemExit(main())
