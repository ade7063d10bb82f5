"""``neuralsynth info [MODEL]``: what a model file contains."""

from __future__ import annotations

from pathlib import Path

import click

from neuralsynth.cli.options import VERBOSE, say, verbosity_options


@click.command(short_help="Show a model's instruments, timbre space and provenance.",
               context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("model", required=False, type=click.Path(path_type=Path))
@verbosity_options
def info(model: Path | None, verbosity: int) -> None:
    """Describe MODEL (a checkpoint, an exported model or a bundled model's name such as
    gm100; default: the model `render` uses without --model).

    Prints the name, size, training step and validation loss, the components, where it
    was exported from, and every instrument with its coordinates in the timbre space
    (the numbers `--timbre xy:...` takes). With -v: which file was chosen and why, and
    the time to load it; with -q: only the check (exit code 1 and the problem when the
    file is not a loadable model).

    \b
    Examples:
      neuralsynth info
      neuralsynth info runs/mel2mel_small_cpu/best.pt
      neuralsynth info gm100
    """
    import os
    import time

    from neuralsynth.errors import UsageError
    from neuralsynth.inference.info import format_info, model_info
    from neuralsynth.inference.load import (
        DEFAULT_MODEL_ENV,
        default_model_path,
        resolve_model,
    )

    path = resolve_model(model) if model is not None else default_model_path()
    if path is None:
        raise UsageError("no MODEL given and no bundled default model is installed")
    if model is not None:
        why = "given"
    else:
        why = f"${DEFAULT_MODEL_ENV}" if os.environ.get(DEFAULT_MODEL_ENV, "").strip() \
            else "the bundled default"
    say(verbosity, f"model file: {Path(path).resolve()} ({why})", level=VERBOSE)
    start = time.perf_counter()
    described = model_info(path)
    say(verbosity, f"loaded and rebuilt in {time.perf_counter() - start:.2f} s",
        level=VERBOSE)
    say(verbosity, "\n".join(format_info(described)))
