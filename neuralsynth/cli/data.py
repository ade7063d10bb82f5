"""``neuralsynth data``: build and inspect training datasets."""

from __future__ import annotations

import click

from neuralsynth.cli.options import QUIET, VERBOSE, say, verbosity_options


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def data() -> None:
    """Build and inspect Mel2Mel training datasets.

    \b
    Examples:
      neuralsynth data corpus --hours 10 --out data/corpus_midi
      neuralsynth data synth midi/ --instruments piano,organ --out data/2inst
      neuralsynth data info data/2inst
    """


def _shard(value: str | None) -> tuple[int, int] | None:
    """``"I/N"`` → ``(I, N)``; a one-line usage error otherwise."""
    if value is None:
        return None
    parts = value.split("/")
    if len(parts) == 2 and all(p.strip().isdigit() for p in parts):
        index, count = int(parts[0]), int(parts[1])
        if 1 <= index <= count:
            return index, count
    raise click.BadParameter(f"'{value}': write I/N with 1 <= I <= N, like 1/4",
                             param_hint="--shard")


def _split_names(values: tuple[str, ...]) -> list[str]:
    return [n.strip() for v in values for n in v.split(",") if n.strip()]


def _show_synth_settings(sources: tuple[str, ...], names: list[str], out_dir: str,
                         soundfont: str | None, val_fraction: float, workers: int,
                         seed: int) -> None:
    """What ``data synth -v`` prints before rendering: every input, resolved."""
    import os
    from pathlib import Path

    from neuralsynth.data.midi_files import discover_midi
    from neuralsynth.data.soundfont import find_soundfont
    from neuralsynth.midi.instruments import expand_instruments

    resolved = expand_instruments(names)
    files = discover_midi(sources)
    lines = [f"instruments ({len(resolved)}): {', '.join(resolved)}",
             f"soundfont: {find_soundfont(soundfont).resolve()}",
             f"MIDI files: {len(files)} found in {', '.join(sources)}",
             f"output: {Path(out_dir).resolve()}",
             f"validation share {val_fraction:g}, split seed {seed}, workers "
             f"{workers or os.cpu_count()}"]
    click.echo("\n".join(lines), err=True)


@data.command("synth", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("sources", nargs=-1, required=True, type=click.Path())
@click.option("--instruments", "-i", multiple=True, required=True, metavar="NAMES",
              help="comma-separated instruments (canonical names, aliases or GM program "
                   "names) or groups: 'paper' (the paper's 10), 'gm' (all 128 GM "
                   "programs), 'gm100' (the 100-instrument space), 'gm:0-99' (a "
                   "range); repeatable")
@click.option("--out", "-o", "out_dir", required=True, type=click.Path(file_okay=False),
              help="dataset directory to create or complete")
@click.option("--soundfont", type=click.Path(dir_okay=False), default=None,
              help="General MIDI SoundFont (.sf2/.sf3); default: the first one installed "
                   "in /usr/share/sounds")
@click.option("--val-fraction", type=click.FloatRange(0.0, 1.0, max_open=True), default=0.2,
              show_default=True, help="share of MIDI files used for validation")
@click.option("--workers", "-j", type=click.IntRange(min=0), default=0,
              help="parallel render processes (0: one per CPU core)")
@click.option("--seed", type=int, default=0, show_default=True,
              help="seed of the train/validation split")
@click.option("--shard", default=None, metavar="I/N", callback=lambda c, p, v: _shard(v),
              help="render only shard I of N (1 <= I <= N): every Nth piece, all its "
                   "instruments; join the shards with `neuralsynth data merge`")
@click.option("--progress/--no-progress", default=True,
              help="show a progress bar (never with -q)")
@verbosity_options
def synth(sources: tuple[str, ...], instruments: tuple[str, ...], out_dir: str,
          soundfont: str | None, val_fraction: float, workers: int, seed: int,
          shard: tuple[int, int] | None, progress: bool, verbosity: int) -> None:
    """Render MIDI files (or directories of them) with every instrument.

    Each piece is played once per instrument with FluidSynth and stored as 16 kHz mono
    WAV next to a copy of the MIDI file; manifest.json lists the items and their
    train/validation split (by piece). Rerunning the command skips items that already
    exist, so an interrupted run can simply be started again. With -v: the resolved
    instruments, SoundFont, MIDI files and output directory first; with -q: nothing but
    errors.

    With --shard I/N only every Nth piece is rendered (on N machines, or N runs), with
    the train/validation split of the whole collection; `neuralsynth data merge` joins
    the N folders into the dataset one run would have made.

    \b
    Examples:
      neuralsynth data synth data/corpus -i paper -o data/10inst
      neuralsynth data synth data/corpus -i paper -o shard1 --shard 1/2   # machine 1
      neuralsynth data synth data/corpus -i paper -o shard2 --shard 2/2   # machine 2
      neuralsynth data merge shard1 shard2 --out data/10inst
    """
    from neuralsynth.data.synth import synthesize_dataset
    from neuralsynth.errors import DataError, require_extra

    require_extra("fluidsynth", "data", "neuralsynth data synth")
    names = _split_names(instruments)
    if verbosity >= VERBOSE:
        _show_synth_settings(sources, names, out_dir, soundfont, val_fraction, workers, seed)
    report = synthesize_dataset(sources, names, out_dir,
                                soundfont=soundfont, val_fraction=val_fraction,
                                workers=workers or None, seed=seed, shard=shard,
                                progress=progress and verbosity > QUIET,
                                log=lambda msg: say(verbosity, msg, err=True))
    for path, reason in report.bad_midi:
        say(verbosity, f"skipped MIDI: {reason}", err=True)
    if report.rendered:
        say(verbosity, f"rendered {report.rendered} items ({report.audio_seconds:.1f} s of "
                       f"audio) in {report.wall_seconds:.1f} s with {report.workers} worker"
                       f"{'s' if report.workers != 1 else ''}: "
                       f"{report.realtime_factor:.0f}x real time per worker, "
                       f"{report.throughput:.0f}x overall")
    if report.reused:
        say(verbosity, f"kept {report.reused} items rendered earlier")
    say(verbosity, f"wrote {report.manifest} ({report.n_items} items)")
    if report.failed:
        for item_id, reason in report.failed:
            click.echo(f"failed: {item_id}: {reason}", err=True)
        raise DataError(f"{len(report.failed)} item(s) failed to render (listed above); "
                        f"the manifest lists the others")


@data.command("merge", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("shards", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("--out", "-o", "out_dir", required=True, type=click.Path(file_okay=False),
              help="folder of the merged dataset")
@verbosity_options
def merge(shards: tuple[str, ...], out_dir: str, verbosity: int) -> None:
    """Join the folders of `data synth --shard I/N` into one dataset.

    Refuses shards made with other settings (instruments, SoundFont, seed, validation
    fraction, level rule), a shard given twice and a missing one, before copying
    anything. The result is what one unsharded run writes: the same items in the same
    order, the same audio (hard-linked where the file system allows).

    \b
    Example:
      neuralsynth data merge shard1 shard2 shard3 --out data/10inst
    """
    from neuralsynth.data.merge import merge_shards

    path = merge_shards(list(shards), out_dir)
    import json

    n = len(json.loads(path.read_text(encoding="utf-8"))["items"])
    say(verbosity, f"merged {len(shards)} shards into {path} ({n} items)")


@data.command("corpus", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--out", "-o", "out_dir", required=True, type=click.Path(file_okay=False),
              help="directory for the MIDI files (one folder per collection)")
@click.option("--hours", type=float, default=None,
              help="stop once this many hours of music are exported (default: all)")
@click.option("--collections", default=None, metavar="NAMES",
              help="comma-separated corpus collections, e.g. bach,palestrina "
                   "(default: all but demos and theoryExercises)")
@click.option("--max-minutes", type=click.FloatRange(min=0, min_open=True), default=10.0,
              show_default=True, help="cut longer pieces after this many minutes")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=120.0,
              show_default=True, help="skip scores that take longer than this many "
                                      "seconds to convert")
@click.option("--humanize/--no-humanize", default=True, show_default=True,
              help="vary tempo, dynamics and timing so scores sound performed")
@click.option("--timing-jitter", type=click.FloatRange(0, 0.1), default=0.010,
              show_default=True, help="per-note onset standard deviation in seconds")
@click.option("--velocity-jitter", type=click.FloatRange(0, 40), default=5.0,
              show_default=True, help="per-note velocity standard deviation")
@click.option("--seed", type=int, default=0, show_default=True,
              help="seed of the piece order and the humanisation")
@click.option("--workers", "-j", type=click.IntRange(min=0), default=0,
              help="parallel processes (0: one per CPU core)")
@click.option("--progress/--no-progress", default=True,
              help="show a progress bar (never with -q)")
@verbosity_options
def corpus(out_dir: str, hours: float | None, collections: str | None, max_minutes: float,
           timeout: float, humanize: bool,
           timing_jitter: float, velocity_jitter: float, seed: int, workers: int,
           progress: bool, verbosity: int) -> None:
    """Export music21's bundled score corpus as MIDI files to train on.

    Scores are taken round-robin across the collections (Bach chorales, Palestrina,
    Monteverdi, string quartets, folk tunes, ...) in a seeded order until --hours of
    music are written. All parts are merged into one piano track; with --humanize
    (default) each piece gets its own tempo, rubato, dynamics and timing jitter.
    Scores music21 cannot convert are skipped and counted. Needs music21
    (pip install 'neuralsynth[data]'). Rerunning with the same settings keeps the
    files already written. With -v: the resolved settings first and every skipped
    score as it happens; with -q: nothing but errors.
    """
    import dataclasses

    from neuralsynth.data.corpus import export_corpus
    from neuralsynth.data.humanize import Humanize
    from neuralsynth.errors import require_extra

    require_extra("music21", "data", "neuralsynth data corpus")

    settings = None
    if humanize:
        settings = dataclasses.replace(Humanize(), timing_jitter=timing_jitter,
                                       velocity_jitter=velocity_jitter)
    names = [c.strip() for c in collections.split(",") if c.strip()] if collections else None
    if verbosity >= VERBOSE:
        import os
        from pathlib import Path

        click.echo("\n".join([
            f"output: {Path(out_dir).resolve()}",
            f"collections: {', '.join(names) if names else 'all but demos, theoryExercises'}",
            f"hours: {hours if hours is not None else 'all'}; pieces cut at {max_minutes:g} "
            f"min; conversion timeout {timeout:g} s",
            "humanize: " + (f"timing jitter {timing_jitter:g} s, velocity jitter "
                            f"{velocity_jitter:g}" if settings else "off"),
            f"seed {seed}, workers {workers or os.cpu_count()}"]), err=True)
    report = export_corpus(out_dir, hours=hours, collections=names, seed=seed,
                           humanized=settings, max_minutes=max_minutes, timeout=timeout,
                           workers=workers or None, progress=progress and verbosity > QUIET,
                           log=lambda m: say(verbosity, m, level=VERBOSE, err=True))
    by_collection: dict[str, float] = {}
    for f in report.files:
        by_collection[f["collection"]] = by_collection.get(f["collection"], 0.0) + f["seconds"]
    for name, seconds in sorted(by_collection.items(), key=lambda kv: -kv[1]):
        say(verbosity, f"  {name:20s} {seconds / 3600:6.2f} h")
    say(verbosity, f"wrote {len(report.files)} MIDI files ({report.seconds / 3600:.2f} h of "
                   f"music{f', {report.reused} kept from before' if report.reused else ''}) "
                   f"to {report.out_dir} in {report.wall_seconds:.0f} s; skipped "
                   f"{len(report.failed)} score(s) music21 could not convert "
                   f"(listed in {report.out_dir / 'corpus.json'})")


@data.command("info", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("dataset", type=click.Path())
@verbosity_options
def info(dataset: str, verbosity: int) -> None:
    """Check a dataset directory and summarise it per split and instrument.

    With -v: the manifest file and, per instrument, the minutes in each split; with -q:
    only the check (exit code 1 and the problem when the dataset is broken).
    """
    from neuralsynth.data.manifest import read_manifest

    manifest = read_manifest(dataset)
    say(verbosity, f"manifest: {(manifest.root / 'manifest.json').resolve()}", level=VERBOSE)
    say(verbosity, f"{manifest.root}: {len(manifest.items)} items, "
                   f"{len(manifest.instruments)} instruments, {manifest.sample_rate} Hz")
    for split in ("train", "val"):
        items = [it for it in manifest.items if it.split == split]
        pieces = {it.midi for it in items}
        seconds = sum(it.seconds or 0.0 for it in items)
        say(verbosity, f"  {split:5s} {len(pieces):5d} pieces {len(items):6d} items "
                       f"{seconds / 60:8.1f} min")
    for inst in manifest.instruments:
        mine = [it for it in manifest.items if it.instrument == inst]
        detail = ""
        if verbosity >= VERBOSE:
            minutes = {split: sum(it.seconds or 0.0 for it in mine if it.split == split) / 60
                       for split in ("train", "val")}
            detail = f" (train {minutes['train']:.1f} min, val {minutes['val']:.1f} min)"
        say(verbosity, f"  {inst}: {len(mine)} items{detail}")
