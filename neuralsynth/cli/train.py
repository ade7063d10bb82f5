"""``neuralsynth train``: train a Mel2Mel model or a vocoder from a recipe."""

from __future__ import annotations

import click


@click.command(short_help="Train a Mel2Mel model or a vocoder from a recipe.")
@click.argument("recipe", type=click.Path(dir_okay=False))
@click.option("-o", "--override", "overrides", multiple=True, metavar="KEY=VALUE",
              help="change a recipe value, e.g. -o train.steps=500 (repeatable)")
@click.option("--resume", is_flag=True,
              help="continue the run in the output directory from its last.pt")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="run directory (default: train.out of the recipe, runs/<recipe name>)")
@click.option("--device", default=None, metavar="DEVICE",
              help="auto, cpu, cuda or cuda:N (default: train.device of the recipe)")
@click.option("--progress/--no-progress", default=True, help="show a progress bar")
def train(recipe: str, overrides: tuple[str, ...], resume: bool, out_dir: str | None,
          device: str | None, progress: bool) -> None:
    """Train what RECIPE (a file, or a bundled recipe's name: see `neuralsynth
    recipes`) describes: the Mel2Mel synthesizer, or with train.task: vocoder the
    recipe's vocoder (WaveNet, or a plugin vocoder through the trainer it declares).

    Checkpoints go to the run directory: last.pt (for --resume), best.pt (lowest
    validation loss) and metrics.jsonl (one line per validation).

    \b
    Examples:
      neuralsynth train recipes/mel2mel_small_cpu.yaml
      neuralsynth train mel2mel_small_cpu                      # a bundled recipe by name
      neuralsynth train recipes/mel2mel_small_cpu.yaml -o train.steps=1000 --out runs/longer
      neuralsynth train recipes/mel2mel_small_cpu.yaml --resume
      neuralsynth train recipes/wavenet_vocoder_cpu.yaml       # the vocoder, ~45 min
    """
    from neuralsynth.recipe.load import load_recipe
    from neuralsynth.training.loop import train as run_training

    parsed = load_recipe(recipe, overrides)
    result = run_training(parsed, resume=resume, out_dir=out_dir, device=device,
                          progress=progress, log=lambda msg: click.echo(msg, err=True))
    if result.already_complete:
        click.echo(f"run in {result.run_dir} is already complete (step {result.step} of "
                   f"{result.steps}); nothing to do")
        return
    best = f"{result.best_val_loss:.5f}" if result.best_val_loss is not None else "n/a"
    click.echo(f"trained to step {result.step} on {result.device}; best validation loss {best}")
    click.echo(f"checkpoints: {result.best_checkpoint} (best), {result.last_checkpoint} (last)")
