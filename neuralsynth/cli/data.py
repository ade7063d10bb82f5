"""``neuralsynth data``: build and inspect training datasets."""

from __future__ import annotations

import click


@click.group()
def data() -> None:
    """Build and inspect Mel2Mel training datasets.

    \b
    Examples:
      neuralsynth data corpus --hours 10 --out data/corpus_midi
      neuralsynth data synth midi/ --instruments piano,organ --out data/2inst
      neuralsynth data info data/2inst
    """


def _split_names(values: tuple[str, ...]) -> list[str]:
    return [n.strip() for v in values for n in v.split(",") if n.strip()]


@data.command("synth")
@click.argument("sources", nargs=-1, required=True, type=click.Path())
@click.option("--instruments", "-i", multiple=True, required=True, metavar="NAMES",
              help="comma-separated instruments (canonical names, aliases or GM program "
                   "names) or groups: 'paper' (the paper's 10), 'gm' (all 128 GM "
                   "programs), 'gm:0-99' (a range); repeatable")
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
@click.option("--progress/--no-progress", default=True, help="show a progress bar")
def synth(sources: tuple[str, ...], instruments: tuple[str, ...], out_dir: str,
          soundfont: str | None, val_fraction: float, workers: int, seed: int,
          progress: bool) -> None:
    """Render MIDI files (or directories of them) with every instrument.

    Each piece is played once per instrument with FluidSynth and stored as 16 kHz mono
    WAV next to a copy of the MIDI file; manifest.json lists the items and their
    train/validation split (by piece). Rerunning the command skips items that already
    exist, so an interrupted run can simply be started again.
    """
    from neuralsynth.data.synth import synthesize_dataset
    from neuralsynth.errors import DataError, require_extra

    require_extra("fluidsynth", "data", "neuralsynth data synth")
    report = synthesize_dataset(sources, _split_names(instruments), out_dir,
                                soundfont=soundfont, val_fraction=val_fraction,
                                workers=workers or None, seed=seed, progress=progress,
                                log=lambda msg: click.echo(msg, err=True))
    for path, reason in report.bad_midi:
        click.echo(f"skipped MIDI: {reason}", err=True)
    if report.rendered:
        click.echo(f"rendered {report.rendered} items ({report.audio_seconds:.1f} s of audio) "
                   f"in {report.wall_seconds:.1f} s with {report.workers} worker"
                   f"{'s' if report.workers != 1 else ''}: "
                   f"{report.realtime_factor:.0f}x real time per worker, "
                   f"{report.throughput:.0f}x overall")
    if report.reused:
        click.echo(f"kept {report.reused} items rendered earlier")
    click.echo(f"wrote {report.manifest} ({report.n_items} items)")
    if report.failed:
        for item_id, reason in report.failed:
            click.echo(f"failed: {item_id}: {reason}", err=True)
        raise DataError(f"{len(report.failed)} item(s) failed to render (listed above); "
                        f"the manifest lists the others")


@data.command("corpus")
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
@click.option("--progress/--no-progress", default=True, help="show a progress bar")
@click.option("--verbose", "-v", is_flag=True, help="list every skipped score as it happens")
def corpus(out_dir: str, hours: float | None, collections: str | None, max_minutes: float,
           timeout: float, humanize: bool,
           timing_jitter: float, velocity_jitter: float, seed: int, workers: int,
           progress: bool, verbose: bool) -> None:
    """Export music21's bundled score corpus as MIDI files to train on.

    Scores are taken round-robin across the collections (Bach chorales, Palestrina,
    Monteverdi, string quartets, folk tunes, ...) in a seeded order until --hours of
    music are written. All parts are merged into one piano track; with --humanize
    (default) each piece gets its own tempo, rubato, dynamics and timing jitter.
    Scores music21 cannot convert are skipped and counted. Needs music21
    (pip install 'neuralsynth[data]'). Rerunning with the same settings keeps the
    files already written.
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
    report = export_corpus(out_dir, hours=hours, collections=names, seed=seed,
                           humanized=settings, max_minutes=max_minutes, timeout=timeout,
                           workers=workers or None, progress=progress,
                           log=(lambda m: click.echo(m, err=True)) if verbose else
                           (lambda m: None))
    by_collection: dict[str, float] = {}
    for f in report.files:
        by_collection[f["collection"]] = by_collection.get(f["collection"], 0.0) + f["seconds"]
    for name, seconds in sorted(by_collection.items(), key=lambda kv: -kv[1]):
        click.echo(f"  {name:20s} {seconds / 3600:6.2f} h")
    click.echo(f"wrote {len(report.files)} MIDI files ({report.seconds / 3600:.2f} h of music"
               f"{f', {report.reused} kept from before' if report.reused else ''}) to "
               f"{report.out_dir} in {report.wall_seconds:.0f} s; skipped "
               f"{len(report.failed)} score(s) music21 could not convert "
               f"(listed in {report.out_dir / 'corpus.json'})")


@data.command("info")
@click.argument("dataset", type=click.Path())
def info(dataset: str) -> None:
    """Check a dataset directory and summarise it per split and instrument."""
    from neuralsynth.data.manifest import read_manifest

    manifest = read_manifest(dataset)
    click.echo(f"{manifest.root}: {len(manifest.items)} items, "
               f"{len(manifest.instruments)} instruments, {manifest.sample_rate} Hz")
    for split in ("train", "val"):
        items = [it for it in manifest.items if it.split == split]
        pieces = {it.midi for it in items}
        seconds = sum(it.seconds or 0.0 for it in items)
        click.echo(f"  {split:5s} {len(pieces):5d} pieces {len(items):6d} items "
                   f"{seconds / 60:8.1f} min")
    for inst in manifest.instruments:
        n = sum(1 for it in manifest.items if it.instrument == inst)
        click.echo(f"  {inst}: {n} items")
