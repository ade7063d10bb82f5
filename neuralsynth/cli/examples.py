"""``neuralsynth examples``: the example MIDI files shipped with the package."""

from __future__ import annotations

from pathlib import Path

import click

from neuralsynth.cli.options import QUIET, VERBOSE, say, verbosity_options


@click.command(short_help="List (or copy) the example MIDI files shipped with the package.",
               context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--copy", "copy_to", default=None, metavar="DIR",
              type=click.Path(file_okay=False, path_type=Path),
              help="Copy the examples into DIR (created if needed).")
@click.option("--force", is_flag=True,
              help="With --copy: replace files of the same name that differ.")
@verbosity_options
def examples(copy_to: Path | None, force: bool, verbosity: int) -> None:
    """List the example MIDI files bundled with neuralsynth: name, length, path.

    They are short generated piano études and a multi-track quartet (piano,
    strings, bass, trumpet and drums; try it with `render --gm`), free to use.
    With -v: also each file's number of notes and pitch range; with -q: nothing (with
    --copy, just the copy).

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
        say(verbosity, f"destination: {copy_to.resolve()}", level=VERBOSE)
        copied = copy_examples(copy_to, force=force)
        say(verbosity, f"copied {len(copied)} example MIDI files to {copy_to}:")
        paths = copied
    else:
        paths = example_paths()
        if not paths:
            raise UsageError("no bundled example MIDI files are installed")
    if verbosity == QUIET:
        return
    width = max(len(p.stem) for p in paths)
    for p in paths:
        notes = load_notes(p)
        line = f"  {p.stem:<{width}}  {notes.duration:6.1f} s  {p}"
        if verbosity >= VERBOSE:
            line += f"  ({_note_summary(notes)})"
        click.echo(line)


def _note_summary(notes) -> str:
    """``412 notes, MIDI 36-84``: what ``examples -v`` adds to each line."""
    if not len(notes):
        return "no notes"
    return f"{len(notes)} notes, MIDI {int(notes.pitch.min())}-{int(notes.pitch.max())}"
