"""``neuralsynth data``: build and inspect training datasets."""

from __future__ import annotations

import click


@click.group()
def data() -> None:
    """Build and inspect Mel2Mel training datasets.

    \b
    Examples:
      neuralsynth data synth midi/ --instruments piano,organ --out data/2inst
      neuralsynth data info data/2inst
    """


def _split_names(values: tuple[str, ...]) -> list[str]:
    return [n.strip() for v in values for n in v.split(",") if n.strip()]


@data.command("synth")
@click.argument("sources", nargs=-1, required=True, type=click.Path())
@click.option("--instruments", "-i", multiple=True, required=True, metavar="NAMES",
              help="comma-separated instruments (canonical names, aliases or GM program "
                   "names); repeatable")
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
    from ..errors import DataError
    from ..data.synth import synthesize_dataset

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


@data.command("info")
@click.argument("dataset", type=click.Path())
def info(dataset: str) -> None:
    """Check a dataset directory and summarise it per split and instrument."""
    from ..data.manifest import read_manifest

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
