"""``neuralsynth train``: train a Mel2Mel model or a vocoder from a recipe."""

from __future__ import annotations

import os
import time

import click

from neuralsynth.cli.options import (
    QUIET,
    VERBOSE,
    deprecated_override_option,
    device_option,
    refuse_override_as_output,
    say,
    set_option,
    verbosity_options,
)


@click.command(short_help="Train a Mel2Mel model or a vocoder from a recipe.",
               context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("recipe", type=click.Path(dir_okay=False))
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Run directory (default: train.out of the recipe, runs/<recipe name>).")
@set_option
@deprecated_override_option(short=False)
@click.option("--resume", is_flag=True,
              help="Continue the run in the output directory from its last.pt.")
@device_option(default=None,
               help="Where to train: auto, cpu, cuda or cuda:N (default: train.device of "
                    "the recipe).")
@click.option("--progress/--no-progress", default=True,
              help="Show a progress bar (never with -q).")
@verbosity_options
def train(recipe: str, out_dir: str | None, overrides: tuple[str, ...], resume: bool,
          device: str | None, progress: bool, verbosity: int) -> None:
    """Train what RECIPE (a file, or a bundled recipe's name: see `neuralsynth
    recipes`) describes: the Mel2Mel synthesizer, or with train.task: vocoder the
    recipe's vocoder (WaveNet, or a plugin vocoder through the trainer it declares).

    Checkpoints go to the run directory: last.pt (for --resume), best.pt (lowest
    validation loss) and metrics.jsonl (one line per validation). With -v: the
    resolved recipe, run directory and device first, and the time taken; with -q:
    nothing but errors.

    \b
    Examples:
      neuralsynth train recipes/mel2mel_small_cpu.yaml
      neuralsynth train mel2mel_small_cpu                      # a bundled recipe by name
      neuralsynth train recipes/mel2mel_small_cpu.yaml --set train.steps=1000 -o runs/longer
      neuralsynth train recipes/mel2mel_small_cpu.yaml --resume
      neuralsynth train recipes/wavenet_vocoder_cpu.yaml --device cuda:1
      torchrun --standalone --nproc_per_node 4 -m neuralsynth train mel2mel_100inst

    Under torchrun each process trains on its share of train.batch_size (the global
    batch); rank 0 alone prints and writes the checkpoints (docs/training.md).
    """
    from neuralsynth.cli.check import recipe_details
    from neuralsynth.device import resolve_device
    from neuralsynth.recipe.load import load_recipe
    from neuralsynth.training.allocator import keep_freed_memory
    from neuralsynth.training.loop import train as run_training

    if os.environ.get("RANK", "0") != "0":
        verbosity = QUIET        # a torchrun rank other than 0: rank 0 speaks for the run
    refuse_override_as_output("-o/--out", out_dir)
    start = time.perf_counter()
    parsed = load_recipe(recipe, overrides)
    # A GPU that is not there fails now, not after the run directory is set up.
    resolved = resolve_device(device or parsed.train.device)
    if verbosity >= VERBOSE:
        from pathlib import Path

        run_dir = Path(out_dir if out_dir is not None else parsed.train.out).resolve()
        say(verbosity, "\n".join(recipe_details(parsed, overrides)), err=True)
        say(verbosity, f"run directory: {run_dir}{' (resuming)' if resume else ''}", err=True)
        say(verbosity, f"device: {resolved} (asked: {device or parsed.train.device})",
            err=True)
    kept = keep_freed_memory()       # the same buffers every step: no page faults
    say(verbosity, f"allocator: freed blocks kept for reuse: {'yes' if kept else 'no'}",
        level=VERBOSE, err=True)
    log = None if verbosity == QUIET else (lambda msg: click.echo(msg, err=True))
    result = run_training(parsed, resume=resume, out_dir=out_dir, device=device,
                          progress=progress and verbosity > QUIET, log=log)
    if result.already_complete:
        say(verbosity, f"run in {result.run_dir} is already complete (step {result.step} of "
                       f"{result.steps}); nothing to do")
        return
    best = f"{result.best_val_loss:.5f}" if result.best_val_loss is not None else "n/a"
    say(verbosity, f"trained to step {result.step} on {result.device}; best validation loss "
                   f"{best}")
    say(verbosity, f"checkpoints: {result.best_checkpoint} (best), {result.last_checkpoint} "
                   f"(last)")
    say(verbosity, f"took {time.perf_counter() - start:.1f} s", level=VERBOSE)
