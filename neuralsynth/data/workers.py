"""The jobs of ``data synth`` and the processes that run them.

Each worker process keeps one :class:`FluidRenderer` (loading a SoundFont takes seconds).
Jobs never raise: a failure comes back as a reason, so one bad item is reported while
the others still render. This module and everything it imports stay free of torch, which
keeps worker start-up cheap.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from neuralsynth.data.dataset_audio import SAMPLE_RATE, to_dataset_audio, write_wav
from neuralsynth.data.fluid import FluidRenderer
from neuralsynth.errors import DataError, MidiError
from neuralsynth.midi.events import midi_events

# This process's renderer, or why it could not be started.
_RENDERER: FluidRenderer | None = None
_RENDERER_ERROR: str | None = None


def _init_worker(soundfont: str, programs: tuple[int, ...] = ()) -> None:
    """Pool initializer: load the SoundFont (and decode ``programs``) once per process.

    Never raises: a Pool whose initializer fails respawns workers forever, so the
    error is kept and reported by every job instead.
    """
    global _RENDERER, _RENDERER_ERROR
    try:
        _RENDERER = FluidRenderer(soundfont)
        _RENDERER.preload(programs)
        _RENDERER_ERROR = None
    except Exception as exc:
        _RENDERER = None
        _RENDERER_ERROR = str(exc) if isinstance(exc, DataError) else \
            f"cannot start FluidSynth ({type(exc).__name__}: {exc})"


def validate_job(path: str) -> tuple[str, str | None]:
    """``(path, None)`` for a usable MIDI file, ``(path, reason)`` otherwise."""
    from neuralsynth.midi.read import load_notes

    try:
        load_notes(path)
    except MidiError as exc:
        return path, str(exc)
    except Exception as exc:  # a parser bug must not stop the whole dataset
        return path, f"{path}: cannot read MIDI ({type(exc).__name__}: {exc})"
    return path, None


def render_job(job: dict[str, Any]) -> dict[str, Any]:
    """Render one item: ``job`` has ``id``, ``program``, ``midi_path``, ``audio_path``.

    Returns ``{"id", "error", "seconds", "gain_db", "render_s"}``; ``error`` is ``None``
    on success and the reason otherwise.
    """
    t0 = time.perf_counter()
    result = {"id": job["id"], "error": None, "seconds": 0.0, "gain_db": None}
    try:
        if _RENDERER is None:
            raise DataError(_RENDERER_ERROR or "FluidSynth renderer was not started")
        events = midi_events(job["midi_path"], _RENDERER.sample_rate)
        raw = _RENDERER.render(events, job["program"])
        wave, gain_db = to_dataset_audio(raw, _RENDERER.sample_rate)
        write_wav(Path(job["audio_path"]), wave)
        result["seconds"] = wave.shape[0] / SAMPLE_RATE
        result["gain_db"] = gain_db
    except DataError as exc:
        result["error"] = str(exc)
    except Exception as exc:  # one bad item is reported; the others still render
        result["error"] = f"{type(exc).__name__}: {exc}"
    result["render_s"] = time.perf_counter() - t0
    return result


class _InlinePool:
    """The subset of ``multiprocessing.Pool`` used here, run in this process.

    The SoundFont is loaded on the first render job, not before: a run whose items all
    exist already, or whose MIDI files are all unusable, never pays for it.
    """

    def __init__(self, soundfont: str, programs: tuple[int, ...]):
        self._soundfont = soundfont
        self._programs = programs
        self._renderer_ready = False

    def imap_unordered(self, fn: Callable, items: list, chunksize: int = 1) -> Iterator:
        for item in items:
            if fn is render_job and not self._renderer_ready:
                _init_worker(self._soundfont, self._programs)
                self._renderer_ready = True
            yield fn(item)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        global _RENDERER
        if self._renderer_ready and _RENDERER is not None:
            _RENDERER.close()
            _RENDERER = None


def make_pool(workers: int, soundfont: Path, programs: tuple[int, ...]):
    """A process pool for ``validate_job`` / ``render_job`` (in-process for one worker),
    used as a context manager."""
    if workers <= 1:
        return _InlinePool(os.fspath(soundfont), programs)
    # spawn: workers start clean (no copied torch/OpenMP state from the parent) and
    # behave the same on every platform.
    ctx = multiprocessing.get_context("spawn")
    return ctx.Pool(workers, initializer=_init_worker, initargs=(os.fspath(soundfont), programs))
