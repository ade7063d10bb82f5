"""``neuralsynth examples``: the example MIDI files shipped with the package."""

from __future__ import annotations

from pathlib import Path

import click


@click.command(short_help="List (or copy) the example MIDI files shipped with the package.",
               context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--copy", "copy_to", default=None, metavar="DIR",
              type=click.Path(file_okay=False, path_type=Path),
              help="Copy the examples into DIR (created if needed).")
@click.option("--force", is_flag=True,
              help="With --copy: replace files of the same name that differ.")
def examples(copy_to: Path | None, force: bool) -> None:
    """List the example MIDI files bundled with neuralsynth: name, length, path.

    They are short generated piano études (free to use), handy for a first render.

    \b
    Examples:
      neuralsynth examples
      neuralsynth examples --copy midi/
      neuralsynth render midi/etude_1.mid --timbre piano:0.3,organ:0.7 -o etude.wav
    """
    from neuralsynth.assets import copy_examples, example_paths
    from neuralsynth.errors import UsageError
    from neuralsynth.midi.read import load_notes

    if force and copy_to is None:
        raise UsageError("--force only applies with --copy DIR")
    if copy_to is not None:
        copied = copy_examples(copy_to, force=force)
        click.echo(f"copied {len(copied)} example MIDI files to {copy_to}:")
        paths = copied
    else:
        paths = example_paths()
        if not paths:
            raise UsageError("no bundled example MIDI files are installed")
    width = max(len(p.stem) for p in paths)
    for p in paths:
        click.echo(f"  {p.stem:<{width}}  {load_notes(p).duration:6.1f} s  {p}")
