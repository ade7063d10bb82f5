"""``neuralsynth serve``: the timbre explorer, a local web app."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import click

from neuralsynth.cli.options import VERBOSE, device_option, say, verbosity_options

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def default_cache_dir() -> Path:
    import os

    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "neuralsynth" / "serve"


def _check_host(host: str) -> None:
    from neuralsynth.errors import UsageError

    if host in ("localhost",):
        return
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise UsageError(f"--host '{host}' is not an IP address (e.g. 127.0.0.1, or 0.0.0.0 "
                         f"for every interface)") from None


@click.command(short_help="The timbre explorer: a local web app with live audio.",
               context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--model", "model", default=None, type=click.Path(path_type=Path),
              help="Model to explore (default: the bundled model).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback lets other machines in "
                   "(a warning says so).")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--open", "open_browser", is_flag=True, help="Open the page in a browser.")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Renders and fits run at once; more wait in a queue.")
@click.option("--queue", type=click.IntRange(0, 1000), default=8, show_default=True,
              help="Requests that may wait for a worker; beyond that the server answers "
                   "503 (busy).")
@click.option("--max-seconds", "max_seconds", type=click.FloatRange(1, 43200), default=600,
              show_default=True, help="Longest piece rendered, in seconds.")
@click.option("--cache-dir", "cache_dir", default=None, type=click.Path(path_type=Path),
              help="Where the map and finished renders are kept  "
                   "[default: ~/.cache/neuralsynth/serve]")
@click.option("--map-grid", "map_grid", type=click.IntRange(8, 256), default=64,
              show_default=True, help="Cells per side of the timbre map.")
@device_option(default="cpu", help="Where to run the model: cpu, cuda or cuda:N.")
@verbosity_options
def serve(model: Path | None, host: str, port: int, open_browser: bool, workers: int,
          queue: int, max_seconds: float, cache_dir: Path | None, map_grid: int,
          device: str, verbosity: int) -> None:
    """Serve the timbre explorer: the model's timbre map (click to pick a timbre), a MIDI
    file's tracks with a timbre each, renders played in the page with their mel
    spectrogram, morphs drawn on the map, and new instruments fitted from recordings.

    It listens on 127.0.0.1 (this machine only) unless --host says otherwise. The page
    uses a small JSON API that scripts can use too (docs/serve.md).

    \b
    Examples:
      neuralsynth serve --open
      neuralsynth serve --model runs/mel2mel_10inst_cpu/best.pt --port 8080
      curl -F example=etude_1.mid -F timbre=piano:0.3,organ:0.7 \\
           http://127.0.0.1:8000/api/render -o out.wav
    """
    from neuralsynth.errors import require_extra

    for module in ("fastapi", "uvicorn", "multipart"):
        require_extra(module, "serve", "neuralsynth serve")
    _check_host(host)
    import threading
    import webbrowser

    import uvicorn

    from neuralsynth.inference.synth import load_model
    from neuralsynth.serve.app import create_app
    from neuralsynth.serve.limits import Limits
    from neuralsynth.serve.state import Explorer

    synth = load_model(model, device=device)
    limits = Limits(workers=workers, queue=queue, max_piece_seconds=max_seconds)
    explorer = Explorer(synth, cache_dir=cache_dir or default_cache_dir(), limits=limits,
                        map_grid=map_grid)
    app = create_app(explorer)
    if host not in LOOPBACK:
        say(verbosity, f"warning: listening on {host}: anyone who can reach this machine "
                       f"on port {port} can use the explorer", err=True)
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"
    say(verbosity, f"timbre explorer for {synth.path.name} at {url} (Ctrl-C stops it)")
    say(verbosity, f"cache: {explorer.cache_dir}; {workers} worker(s), queue {queue}",
        level=VERBOSE)
    if open_browser:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    try:
        uvicorn.run(app, host=host, port=port, log_level="info" if verbosity >= VERBOSE
                    else "warning")
    finally:
        explorer.close()
