"""``neuralsynth tracks``: the tracks of a MIDI file, and the timbre each would get."""

from __future__ import annotations

import json
from pathlib import Path

import click

from neuralsynth.cli.options import QUIET, VERBOSE, verbosity_options


def _table(header: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    """Columns padded to their widest cell; ``right`` holds right-aligned columns."""
    widths = [max(len(c) for c in col) for col in zip(header, *rows)]

    def line(cells: list[str]) -> str:
        out = [c.rjust(w) if i in right else c.ljust(w)
               for i, (c, w) in enumerate(zip(cells, widths))]
        return "  ".join(out).rstrip()

    return [line(header), *(line(r) for r in rows)]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@click.command(short_help="List the tracks of a MIDI file (and the timbre each would get).",
               context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("midi", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--gm", is_flag=True,
              help="Add the timbre `render --gm` gives each track: its General MIDI "
                   "program mapped onto the model's instruments (see docs/tracks.md).")
@click.option("--track", "rules", multiple=True, metavar="SELECTOR=TIMBRE",
              help="Preview a `render --track` rule (repeatable; a later rule wins): "
                   "SELECTOR is a track index, a track name or program:N / program:A-B.")
@click.option("--timbre", "timbre", default=None, metavar="SPEC",
              help="With --gm/--track: the default timbre for the other tracks "
                   "(default: the model's, piano if it has one).")
@click.option("--model", "model", default=None, metavar="MODEL",
              help="With --gm/--track: the model whose instruments the timbres use "
                   "(a model file or a bundled model's name; default: the model `render` "
                   "uses). Only loaded when a timbre column is asked for.")
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON (tracks, totals, and with --gm/--track the plan) instead "
                   "of a table. Channels there are 0-15.")
@verbosity_options
def tracks(midi: Path, gm: bool, rules: tuple[str, ...], timbre: str | None,
           model: str | None, as_json: bool, verbosity: int) -> None:
    """List the tracks of MIDI: index, name, GM program, channel (1-16), notes, pitch
    range, drums. The index is what `render --track 3=...` selects; drum tracks are
    skipped when rendering.

    With --gm or --track, a timbre column shows what `neuralsynth render` with the same
    options would use for each track: an explicit --track rule first, then the --gm
    table, then the default timbre.

    With -v: also each track's time span and why it gets its timbre; with -q:
    nothing, only the exit code (1 for a bad file, 2 for a bad --track rule), which
    checks a file and its rules before a long render.

    \b
    Examples:
      neuralsynth tracks song.mid
      neuralsynth tracks song.mid --gm
      neuralsynth tracks song.mid --gm --track bass=pizzicato_strings -v
      neuralsynth tracks song.mid --json > tracks.json
      neuralsynth render song.mid --gm -o song.wav
    """
    from neuralsynth.errors import UsageError
    from neuralsynth.midi.tracks import list_tracks
    from neuralsynth.timbre.gm_map import gm_reason

    if timbre is not None and not (gm or rules):
        raise UsageError("--timbre only applies with --gm or --track (it is the timbre of "
                         "the tracks they leave)")
    if model is not None and not (gm or rules):
        raise UsageError("--model only applies with --gm or --track")
    infos = list_tracks(midi)          # a bad file fails here, before any model is loaded
    plan = None
    if gm or rules:
        from neuralsynth.inference.info import model_info
        from neuralsynth.inference.load import resolve_model
        from neuralsynth.inference.track_plan import plan_tracks
        from neuralsynth.midi.track_rules import assign_timbres

        assign_timbres(rules, infos)   # rule mistakes before the (slower) model load
        loaded = model_info(resolve_model(model))
        plan = plan_tracks(midi, rules, gm=gm, default_timbre=timbre,
                           instruments=loaded.instruments,
                           embedding_dim=loaded.embedding_dim)

    pitched = sum(t.n_notes for t in infos if not t.is_drum)
    drums = sum(t.n_notes for t in infos if t.is_drum)
    ends = [t.end for t in infos if t.end is not None]
    duration = max(ends) if ends else 0.0
    if as_json:
        out: dict = {"file": str(midi), "tracks": [t.as_dict() for t in infos],
                     "n_tracks": len(infos), "pitched_notes": pitched,
                     "drum_notes": drums, "duration": duration}
        if plan is not None:
            for row, a in zip(out["tracks"], plan.assignments):
                row.update(timbre=a.timbre, origin=a.origin, why=a.why)
            out["groups"] = [{"timbre": g.timbre, "tracks": list(g.tracks),
                              "origin": g.origin} for g in plan.groups]
        if verbosity > QUIET:
            click.echo(json.dumps(out, indent=2))
        return
    if verbosity == QUIET:
        return
    verbose = verbosity >= VERBOSE

    header = ["#", "name", "program", "ch", "notes", "range", "drum"]
    right = {0, 3, 4}
    if verbose:
        header.append("time (s)")
    if plan is not None:
        header += ["timbre", "why" if verbose else "from"]
    rows = []
    for i, t in enumerate(infos):
        row = [str(t.index), t.name or "-",
               "-" if t.is_drum else f"{t.program:>3} {t.program_name}",
               "?" if t.channel is None else str(t.channel + 1), str(t.n_notes),
               # a drum track's keys pick drum sounds, not pitches
               "-" if t.is_drum else t.pitch_range or "-", "yes" if t.is_drum else "no"]
        if verbose:
            row.append("-" if t.start is None else f"{t.start:.1f}-{t.end:.1f}")
        if plan is not None:
            a = plan.assignments[i]
            why = f"{a.why}: {gm_reason(t.program)}" if a.origin == "gm" else a.why
            row += ["-" if a.timbre is None else a.timbre, why if verbose else a.origin]
        rows.append(row)
    for line in _table(header, rows, right):
        click.echo(line)
    skipped = " (skipped when rendering)" if drums else ""
    click.echo(f"{_plural(len(infos), 'track')}, {_plural(pitched, 'pitched note')}, "
               f"{_plural(drums, 'drum note')}{skipped}; {duration:.1f} s")
    if plan is not None:
        n = len(plan.groups)
        click.echo(f"rendered as {_plural(n, 'timbre group')}"
                   f"{' (each through the model and vocoder, then mixed)' if n > 1 else ''}: "
                   + "; ".join(f"{g.timbre} <- track{'s' if len(g.tracks) > 1 else ''} "
                               f"{', '.join(map(str, g.tracks))}" for g in plan.groups))
