"""``neuralsynth info [MODEL]``: what a model file contains."""

from __future__ import annotations

from pathlib import Path

import click


@click.command(short_help="Show a model's instruments, timbre space and provenance.",
               context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("model", required=False, type=click.Path(path_type=Path))
def info(model: Path | None) -> None:
    """Describe MODEL (a checkpoint or an exported model; default: the model `render`
    uses without --model).

    Prints the name, size, training step and validation loss, the components, where it
    was exported from, and every instrument with its coordinates in the timbre space
    (the numbers `--timbre xy:...` takes).

    \b
    Examples:
      neuralsynth info
      neuralsynth info runs/mel2mel_small_cpu/best.pt
    """
    from neuralsynth.errors import UsageError
    from neuralsynth.inference.info import format_info, model_info
    from neuralsynth.inference.load import default_model_path

    path = model if model is not None else default_model_path()
    if path is None:
        raise UsageError("no MODEL given and no bundled default model is installed")
    click.echo("\n".join(format_info(model_info(path))))
