"""``neuralsynth timbre``: work with the timbre space (``fit``: a timbre from a recording)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from neuralsynth.cli.options import NORMAL, VERBOSE, device_option, say, verbosity_options

#: Recordings of their own MIDI fit with a loss of 0.001-0.004 (the ten instruments on
#: held-out pieces); the wrong MIDI for a recording gave 0.024.
POOR_FIT = 0.01


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def timbre() -> None:
    """The timbre space: place new sounds in it."""


@timbre.command("fit")
@click.argument("audio", nargs=-1, required=True,
                type=click.Path(dir_okay=False, path_type=Path))
@click.option("--midi", "midis", multiple=True, metavar="MIDI",
              type=click.Path(dir_okay=False, path_type=Path),
              help="The MIDI file each AUDIO plays, once per AUDIO, in the same order.")
@click.option("--transcribe", "transcribe", is_flag=True,
              help="No MIDI: hear the notes in each AUDIO (Basic Pitch's note model, "
                   "shipped in its pip package). Needs onnxruntime and basic-pitch; the "
                   "fit is worse than with the true MIDI (docs/timbre.md).")
@click.option("-o", "--output", "output", required=True, metavar="OUT.pt",
              type=click.Path(dir_okay=False, path_type=Path),
              help="Model file to write: the model with the fitted timbre added as a new "
                   "instrument (written atomically).")
@click.option("--name", "name", default=None, metavar="NAME",
              help="Name of the new instrument (snake_case; default: the first AUDIO "
                   "file's name).")
@click.option("--model", "model", default=None, type=click.Path(path_type=Path),
              help="Model to fit in (default: the bundled model).")
@click.option("--steps", "steps", type=click.IntRange(0, 1000), default=30,
              show_default=True, help="Adam steps after the best start.")
@click.option("--adapt", "adapt", type=click.Choice(["none", "film"]), default="none",
              show_default=True,
              help="film: also fit the new instrument's own FiLM offsets (gamma and beta "
                   "per channel), for sounds the space has no place for; the other "
                   "instruments are untouched.")
@click.option("--adapt-steps", "adapt_steps", type=click.IntRange(0, 1000), default=None,
              metavar="N", help="Adam steps of --adapt film  [default: 60]")
@click.option("--max-offset", "max_offset", type=click.FloatRange(0.0, 2.0), default=0.5,
              show_default=True, metavar="SECONDS",
              help="Largest constant offset searched between a recording and its MIDI.")
@click.option("--json", "json_path", default=None, metavar="FILE",
              type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the fit (coordinates, loss, offsets, nearest, mix) as JSON.")
@device_option(default="cpu", help="Where to run the model: cpu, cuda or cuda:N.")
@verbosity_options
def fit(audio: tuple[Path, ...], midis: tuple[Path, ...], transcribe: bool, output: Path,
        name: str | None,
        model: Path | None, steps: int, adapt: str, adapt_steps: int | None,
        max_offset: float, json_path: Path | None, device: str, verbosity: int) -> None:
    """Fit a timbre to recordings of known notes and add it to the model as an instrument.

    With the network frozen, the point of the timbre space whose prediction best matches
    the recordings (the training loss) is found, starting from every instrument and the
    centroid. Several recordings of one sound are fitted jointly. The new instrument then
    works in every timbre spec: --timbre NAME, mixes, morphs. With --adapt film the new
    instrument also gets its own FiLM offsets, which bring sounds unlike any trained
    instrument much closer.

    \b
    Examples:
      neuralsynth timbre fit flute.wav --midi flute.mid --name flute -o flute.pt
      neuralsynth timbre fit a.wav b.flac --midi a.mid --midi b.mid --name my_synth -o my.pt
      neuralsynth timbre fit cello.wav --midi cello.mid --adapt film -o cello.pt
      neuralsynth timbre fit solo.wav --transcribe --name solo -o solo.pt
      neuralsynth render song.mid --model flute.pt --timbre flute:0.5,organ:0.5 -o out.wav
    """
    from neuralsynth.errors import UsageError
    from neuralsynth.inference.add_instrument import check_new_name, save_with_instrument
    from neuralsynth.inference.synth import load_model
    from neuralsynth.inference.timbre_fit import fit_timbre

    if transcribe and midis:
        raise UsageError("give either --midi or --transcribe, not both")
    if not transcribe and len(midis) != len(audio):
        raise UsageError(f"give one --midi per AUDIO file (or --transcribe): {len(audio)} "
                         f"audio file(s), {len(midis)} --midi")
    if output.suffix.lower() != ".pt":
        raise UsageError(f"output '{output}' must end in .pt")
    if adapt_steps is not None and adapt == "none":
        raise UsageError("--adapt-steps is for --adapt film")
    if transcribe:
        from neuralsynth.midi.transcribe import check_available

        check_available()                  # a missing note model is said before any work
    new_name = name if name is not None else audio[0].stem.lower().replace("-", "_")
    synth = load_model(model, device=device)
    check_new_name(new_name, synth.instruments)
    extra = {} if adapt_steps is None else {"adapt_steps": adapt_steps}
    pairs = list(zip(audio, [None] * len(audio) if transcribe else midis))
    result = fit_timbre(synth, pairs, steps=steps, max_offset=max_offset, adapt=adapt,
                        **extra)
    written = save_with_instrument(synth.path, new_name, result.embedding, output,
                                   film=result.film)
    record = {"name": new_name, "coordinates": result.embedding.tolist(),
              "loss": result.loss, "adapt": adapt, "point_loss": result.point_loss,
              "start": result.start, "start_loss": result.start_loss,
              "offsets_s": result.offsets, "notes_heard": result.notes_heard, "nearest": result.nearest[:3],
              "mix": result.mix, "gain_db": result.gain_db, "seconds": result.seconds,
              "model": str(written)}
    if json_path is not None:
        from neuralsynth.fileio import atomic_path

        with atomic_path(json_path) as tmp:
            tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    coords = ",".join(f"{v:.3f}" for v in result.embedding.tolist())
    say(verbosity, f"fitted '{new_name}' at xy:{coords} (loss {result.loss:.5f}; best start "
                   f"{result.start} {result.start_loss:.5f})")
    if result.film is not None:
        say(verbosity, f"FiLM adapted: loss {result.point_loss:.5f} at the point alone, "
                       f"{result.loss:.5f} with its own offsets")
    say(verbosity, "nearest: " + ", ".join(f"{n} {d:.3f}" for n, d in result.nearest[:3])
        + "; closest mix: " + ",".join(f"{k}:{w:.2f}" for k, w in result.mix.items()))
    if result.loss > POOR_FIT:
        say(verbosity, f"warning: the fit is poor (loss {result.loss:.4f}, a recording of "
                       f"its own MIDI fits below {POOR_FIT}); is each AUDIO a recording of "
                       f"its --midi?", err=True)
    if transcribe:
        say(verbosity, "notes heard: " + ", ".join(f"{a.name} {n}" for a, n in
                                                   zip(audio, result.notes_heard)),
            level=VERBOSE)
    say(verbosity, f"level: the recordings are {result.gain_db:+.1f} dB from the model's",
        level=VERBOSE)
    say(verbosity, "offsets (recording after MIDI): "
        + ", ".join(f"{o:+.3f} s" for o in result.offsets), level=VERBOSE)
    say(verbosity, f"wrote {written} (instruments: {', '.join(synth.instruments)}, "
                   f"{new_name}); took {result.seconds:.1f} s", level=NORMAL)
