"""Dataset synthesis: render MIDI files with FluidSynth, one WAV per (piece, instrument).

Every piece is rendered once per instrument with all its pitched notes played on that
instrument's General MIDI program, so the only difference between two renderings of a
piece is the timbre: exactly what the Mel2Mel conditioning has to learn. Rendering
happens in-process through pyfluidsynth: note on/off and sustain-pedal events are fed at
sample-accurate times and audio is pulled between events, so nothing depends on a
real-time clock or an audio driver.

Pipeline per item: FluidSynth (44.1 kHz stereo float, reverb and chorus off) → mono
(mean of the channels) → 16 kHz (soxr, very high quality) → fixed gain with a peak guard
(see :func:`normalise`) → 24-bit WAV written atomically. The dataset format is described
in ``docs/dataset.md``.

Worker processes never import torch: this module depends on numpy, soxr, soundfile,
pretty_midi and pyfluidsynth only, which keeps process start-up cheap.
"""

from __future__ import annotations

import ctypes
import dataclasses
import json
import math
import multiprocessing
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from ..errors import DataError, MidiError, UsageError
from ..fileio import atomic_path, write_text_atomic
from .splits import split_files

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1
#: Output rate of the dataset; equal to ``neuralsynth.audio.SAMPLE_RATE`` (not imported
#: here because that module imports torch, which every worker would then pay for).
SAMPLE_RATE = 16000
#: FluidSynth's native rate for the SoundFonts we use; resampled to 16 kHz afterwards.
SYNTH_RATE = 44100
#: Seconds rendered after the last note-off so release tails are not cut.
RELEASE_TAIL = 1.0

#: Level rule (docs/dataset.md): a fixed gain for every item, lowered for an item only
#: when its peak would otherwise exceed PEAK_CEILING_DBFS.
MAKEUP_GAIN_DB = 6.0
PEAK_CEILING_DBFS = -1.0
#: A raw render whose peak stays below this is treated as silent (an error).
SILENCE_DBFS = -80.0
#: FluidSynth's master gain (its default); the makeup gain is applied on top in float.
SYNTH_GAIN = 0.2

DEFAULT_SOUNDFONTS = (
    "/usr/share/sounds/sf3/MuseScore_General.sf3",
    "/usr/share/sounds/sf3/MuseScore_General_Lite.sf3",
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
)

MIDI_SUFFIXES = (".mid", ".midi", ".smf", ".kar")
#: MIDI channel 10 (index 9) is the GM drum channel; pitched tracks avoid it.
_MELODIC_CHANNELS = tuple(c for c in range(16) if c != 9)
_CC_SUSTAIN = 64
# Event order at one sample position: releases first (a re-struck key sounds again),
# then pedal changes, then new notes.
_OFF, _CC, _ON = 0, 1, 2


# ----------------------------------------------------------------------------- helpers
def find_soundfont(path: str | os.PathLike | None = None) -> Path:
    """The SoundFont to render with: ``path`` if given, else the first system default.

    Raises :class:`DataError` when the given file is missing or no default is installed.
    """
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise DataError(f"SoundFont '{p}' not found")
        return p
    for candidate in DEFAULT_SOUNDFONTS:
        if Path(candidate).is_file():
            return Path(candidate)
    raise DataError("no General MIDI SoundFont found (looked for "
                    + ", ".join(DEFAULT_SOUNDFONTS)
                    + "); install one (Debian: fluid-soundfont-gm or musescore-general-soundfont"
                      "-lite) or pass --soundfont FILE")


def fluidsynth_available() -> str | None:
    """``None`` when pyfluidsynth and the FluidSynth library load, else the reason."""
    try:
        import fluidsynth  # noqa: F401
    except (ImportError, OSError) as exc:
        return f"FluidSynth is not available ({type(exc).__name__}: {exc})"
    return None


def discover_midi(sources: Iterable[str | os.PathLike]) -> list[Path]:
    """MIDI files named on the command line; directories are searched recursively.

    Files given explicitly are taken whatever their suffix (so a bad file is reported
    rather than silently ignored); inside directories only MIDI suffixes count.
    """
    found: list[Path] = []
    for src in sources:
        p = Path(src)
        if p.is_dir():
            found.extend(sorted(f for f in p.rglob("*")
                                if f.is_file() and f.suffix.lower() in MIDI_SUFFIXES))
        elif p.exists():
            found.append(p)
        else:
            raise UsageError(f"no such file or directory: {p}")
    unique: list[Path] = []
    seen: set[Path] = set()
    for f in found:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    if not unique:
        raise UsageError("no MIDI files found in " + ", ".join(str(s) for s in sources))
    return unique


def piece_keys(files: list[Path]) -> list[str]:
    """A unique, filesystem-safe name per file (its stem; ``-2``, ``-3`` on clashes)."""
    keys: list[str] = []
    used: set[str] = set()
    for f in files:
        base = re.sub(r"[^A-Za-z0-9_.-]+", "_", f.stem).strip("._") or "piece"
        key, n = base, 1
        while key in used:
            n += 1
            key = f"{base}-{n}"
        used.add(key)
        keys.append(key)
    return keys


def normalise(wave: np.ndarray) -> tuple[np.ndarray, float]:
    """Apply the dataset level rule; returns ``(wave, gain_db)``.

    Every item gets the same fixed gain (``MAKEUP_GAIN_DB``), so a note of a given
    velocity has the same level in every piece and the model can learn the velocity →
    loudness mapping. Only when that would push the peak above ``PEAK_CEILING_DBFS``
    is the gain of this item lowered just enough to keep it there (no clipping).
    """
    peak = float(np.max(np.abs(wave))) if wave.size else 0.0
    gain_db = MAKEUP_GAIN_DB
    if peak > 0.0:
        peak_db = 20.0 * math.log10(peak)
        gain_db = min(gain_db, PEAK_CEILING_DBFS - peak_db)
    out = (wave * np.float32(10.0 ** (gain_db / 20.0))).astype(np.float32)
    return out, round(gain_db, 3)


# --------------------------------------------------------------------------- rendering
@dataclasses.dataclass
class MidiEvents:
    """Timed synthesiser events of one piece.

    ``events`` are ``(sample, order, channel, kind, a, b)`` tuples sorted by time: note on
    ``(key, velocity)``, note off ``(key, 0)``, or control change ``(number, value)``.
    ``n_channels`` channels are used; ``end`` is the last note-off in seconds.
    """

    events: list[tuple[int, int, int, int, int, int]]
    n_channels: int
    end: float


def midi_events(path: str | os.PathLike, sample_rate: int = SYNTH_RATE) -> MidiEvents:
    """Note and sustain-pedal events of the pitched tracks of a MIDI file.

    Each pitched track keeps its own channel (so its pedal only affects its notes);
    drums, program changes, pitch bends and other controllers are dropped because the
    piano-roll input cannot represent them and the instrument is forced anyway.
    """
    import pretty_midi
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        pm = pretty_midi.PrettyMIDI(os.fspath(path))
    events: list[tuple[int, int, int, int, int, int]] = []
    end = 0.0
    tracks = [inst for inst in pm.instruments if not inst.is_drum and inst.notes]
    for i, inst in enumerate(tracks):
        ch = _MELODIC_CHANNELS[i % len(_MELODIC_CHANNELS)]
        for note in inst.notes:
            on = int(round(note.start * sample_rate))
            # a zero-length note still gets one sample, so its note-off cannot sort
            # before its note-on and leave it hanging
            off = max(int(round(note.end * sample_rate)), on + 1)
            events.append((on, _ON, ch, 0, int(note.pitch), int(note.velocity)))
            events.append((off, _OFF, ch, 1, int(note.pitch), 0))
            end = max(end, float(note.end))
        for cc in inst.control_changes:
            if cc.number == _CC_SUSTAIN:
                events.append((int(round(cc.time * sample_rate)), _CC, ch, 2,
                               _CC_SUSTAIN, int(cc.value)))
    events.sort()
    n_channels = min(len(tracks), len(_MELODIC_CHANNELS))
    return MidiEvents(events, max(n_channels, 1), end)


#: FluidSynth's internal block size (FLUID_BUFSIZE, fixed at 64 in FluidSynth 1.x and 2.x).
BLOCK = 64


def _round_block(sample: int) -> int:
    return int((sample + BLOCK // 2) // BLOCK) * BLOCK


def _ceil_block(n: int) -> int:
    return -(-n // BLOCK) * BLOCK


class FluidRenderer:
    """A FluidSynth instance with one SoundFont loaded, reused for many renders.

    ``render(events, program)`` → float32 mono ``[N]`` at 44.1 kHz. Loading a SoundFont
    takes seconds (SF3 samples are decoded on load), so each worker process keeps one.
    """

    def __init__(self, soundfont: str | os.PathLike, sample_rate: int = SYNTH_RATE):
        reason = fluidsynth_available()
        if reason is not None:
            raise DataError(reason)
        import fluidsynth

        self.sample_rate = int(sample_rate)
        self.soundfont = Path(soundfont)
        # Reverb and chorus are off: the dataset should hold the instruments' dry sound
        # (room effects would be a second, uncontrolled "timbre").
        # Dynamic sample loading decodes only the presets actually played (an SF3
        # font takes seconds to decode in full) and keeps them for later renders.
        self._synth = fluidsynth.Synth(gain=SYNTH_GAIN, samplerate=self.sample_rate,
                                       channels=16, **{"synth.reverb.active": 0,
                                                       "synth.chorus.active": 0,
                                                       "synth.dynamic-sample-loading": 1})
        self._sfid = self._synth.sfload(os.fspath(self.soundfont))
        if self._sfid < 0:
            self._synth.delete()
            raise DataError(f"FluidSynth cannot load SoundFont '{self.soundfont}'")
        # pyfluidsynth only exposes 16-bit output; the float writer avoids quantising
        # quiet release tails and cannot clip.
        proto = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int,
                                 ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                                 ctypes.c_void_p, ctypes.c_int, ctypes.c_int)
        self._write_float = proto(("fluid_synth_write_float", fluidsynth._fl))

    def preload(self, programs: Iterable[int]) -> None:
        """Decode the samples of ``programs`` now (dynamic loading would do it on first use),
        so render timings measure synthesis only."""
        for program in programs:
            self._synth.program_select(0, self._sfid, 0, int(program))
        self._synth.system_reset()

    def close(self) -> None:
        if self._synth is not None:
            self._synth.delete()
            self._synth = None

    def __del__(self) -> None:  # pragma: no cover - interpreter shutdown order varies
        try:
            self.close()
        except Exception:
            pass

    def _pull(self, left: np.ndarray, right: np.ndarray, start: int, stop: int) -> None:
        # Spans are split so a long silence does not need one giant request.
        pos = start
        while pos < stop:
            n = min(stop - pos, 1 << 16)
            rc = self._write_float(self._synth.synth, n, left.ctypes.data, pos, 1,
                                   right.ctypes.data, pos, 1)
            if rc != 0:
                raise DataError("FluidSynth failed to render audio")
            pos += n

    def render(self, events: MidiEvents, program: int, tail: float = RELEASE_TAIL) -> np.ndarray:
        """Play ``events`` on GM ``program`` (bank 0); float32 mono ``[N]``."""
        synth = self._synth
        synth.system_reset()                      # no voices or controllers left over
        for ch in _MELODIC_CHANNELS[:events.n_channels]:
            if synth.program_select(ch, self._sfid, 0, int(program)) != 0:
                raise DataError(f"SoundFont '{self.soundfont.name}' has no preset for GM "
                                f"program {program} (bank 0)")
        # FluidSynth computes audio in blocks of BLOCK samples and applies an event at
        # the start of the next block it computes. Event times are therefore placed on
        # that grid here (nearest boundary, at most BLOCK/2 samples = 0.73 ms off, far
        # below the 8 ms frame hop) and every pull is a whole number of blocks, so an
        # event lands exactly where we put it and a render never depends on the one
        # before it.
        total = _ceil_block(int(math.ceil((events.end + tail) * self.sample_rate)))
        left = np.zeros(total, dtype=np.float32)
        right = np.zeros(total, dtype=np.float32)
        pos = 0
        for sample, _, ch, kind, a, b in events.events:
            sample = min(_round_block(sample), total)
            if sample > pos:
                self._pull(left, right, pos, sample)
                pos = sample
            if kind == 0:
                synth.noteon(ch, a, b)
            elif kind == 1:
                synth.noteoff(ch, a)
            else:
                synth.cc(ch, a, b)
        self._pull(left, right, pos, total)
        synth.system_reset()
        return (0.5 * (left + right)).astype(np.float32)


def to_dataset_audio(wave: np.ndarray, sample_rate: int = SYNTH_RATE) -> tuple[np.ndarray, float]:
    """Synth output (mono, any rate) → normalised 16 kHz float32; returns ``(wave, gain_db)``.

    Raises :class:`DataError` when the render is empty or silent.
    """
    import soxr

    if wave.size == 0:
        raise DataError("rendered audio is empty")
    peak = float(np.max(np.abs(wave)))
    if not math.isfinite(peak):
        raise DataError("rendered audio contains NaN or infinite samples")
    if peak < 10.0 ** (SILENCE_DBFS / 20.0):
        raise DataError(f"rendered audio is silent (peak below {SILENCE_DBFS:g} dBFS)")
    if sample_rate != SAMPLE_RATE:
        wave = soxr.resample(wave, sample_rate, SAMPLE_RATE, quality="VHQ")
    return normalise(np.asarray(wave, dtype=np.float32))


def write_wav(path: Path, wave: np.ndarray) -> None:
    """16 kHz mono 24-bit WAV, atomically (a partial file never has the final name)."""
    import soundfile as sf

    with atomic_path(path) as tmp:
        sf.write(os.fspath(tmp), wave, SAMPLE_RATE, format="WAV", subtype="PCM_24")


# ------------------------------------------------------------------ worker processes
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


def _validate_job(path: str) -> tuple[str, str | None]:
    """``(path, None)`` for a usable MIDI file, ``(path, reason)`` otherwise."""
    from ..midi import load_notes

    try:
        load_notes(path)
    except MidiError as exc:
        return path, str(exc)
    except Exception as exc:  # a parser bug must not stop the whole dataset
        return path, f"{path}: cannot read MIDI ({type(exc).__name__}: {exc})"
    return path, None


def _render_job(job: dict[str, Any]) -> dict[str, Any]:
    """Render one item; returns a result dict (``error`` set on failure, never raises)."""
    t0 = time.perf_counter()
    result = {"id": job["id"], "error": None, "seconds": 0.0, "gain_db": None}
    try:
        if _RENDERER is None:
            raise DataError(_RENDERER_ERROR or "FluidSynth renderer was not started")
        events = midi_events(job["midi_path"])
        raw = _RENDERER.render(events, job["program"])
        wave, gain_db = to_dataset_audio(raw)
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
    """The subset of ``multiprocessing.Pool`` used here, run in this process."""

    def __init__(self, soundfont: str, programs: tuple[int, ...]):
        self._soundfont = soundfont
        self._programs = programs
        self._renderer_ready = False

    def imap_unordered(self, fn: Callable, items: list, chunksize: int = 1) -> Iterator:
        for item in items:
            if fn is _render_job and not self._renderer_ready:
                _init_worker(self._soundfont, self._programs)
                self._renderer_ready = True
            yield fn(item)

    def close(self) -> None:
        global _RENDERER
        if self._renderer_ready and _RENDERER is not None:
            _RENDERER.close()
            _RENDERER = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ------------------------------------------------------------------------- pipeline
@dataclasses.dataclass
class SynthReport:
    """What a ``data synth`` run did.

    ``bad_midi`` and ``failed`` are ``(what, reason)`` pairs; ``audio_seconds`` and
    ``render_seconds`` cover items rendered in this run (worker time, summed), ``wall_seconds``
    the rendering phase as a whole.
    """

    out_dir: Path
    manifest: Path
    n_items: int
    rendered: int
    reused: int
    bad_midi: list[tuple[str, str]]
    failed: list[tuple[str, str]]
    audio_seconds: float
    render_seconds: float
    wall_seconds: float
    workers: int

    @property
    def realtime_factor(self) -> float:
        """Audio seconds rendered per second of one worker's time (× real time)."""
        return self.audio_seconds / self.render_seconds if self.render_seconds > 0 else 0.0

    @property
    def throughput(self) -> float:
        """Audio seconds rendered per wall-clock second, all workers together."""
        return self.audio_seconds / self.wall_seconds if self.wall_seconds > 0 else 0.0


def _resolve_instruments(names: list[str]) -> list[tuple[str, int]]:
    from ..instruments import program_of, resolve_instrument

    out: list[tuple[str, int]] = []
    for name in names:
        canonical = resolve_instrument(name)
        if canonical not in [c for c, _ in out]:
            out.append((canonical, program_of(canonical)))
    if not out:
        raise UsageError("give at least one instrument with --instruments")
    return out


def _previous_items(out_dir: Path) -> dict[str, dict]:
    """Items of an existing manifest (to keep their recorded gains on resume)."""
    try:
        data = json.loads((out_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
        return {it["id"]: it for it in data.get("items", []) if isinstance(it, dict) and "id" in it}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


def _copy_midi(src: Path, dest: Path) -> None:
    if dest.exists() and dest.read_bytes() == src.read_bytes():
        return
    with atomic_path(dest) as tmp:
        shutil.copyfile(src, tmp)


def _make_pool(workers: int, soundfont: Path, programs: tuple[int, ...]):
    if workers <= 1:
        return _InlinePool(os.fspath(soundfont), programs)
    # spawn: workers start clean (no copied torch/OpenMP state from the parent) and
    # behave the same on every platform.
    ctx = multiprocessing.get_context("spawn")
    return ctx.Pool(workers, initializer=_init_worker, initargs=(os.fspath(soundfont), programs))


def synthesize_dataset(sources: Iterable[str | os.PathLike], instruments: list[str],
                       out_dir: str | os.PathLike, *, soundfont: str | os.PathLike | None = None,
                       val_fraction: float = 0.2, workers: int | None = None, seed: int = 0,
                       progress: bool = True,
                       log: Callable[[str], None] | None = None) -> SynthReport:
    """Render every MIDI file in ``sources`` with every instrument into ``out_dir``.

    Resumable: items whose WAV already exists are not rendered again. Unusable MIDI files
    are skipped and listed in the report and manifest; items that fail to render
    (silent output, missing preset) are listed in ``failed`` and left out of the
    manifest. Returns a :class:`SynthReport`.
    """
    from tqdm import tqdm

    say = log or (lambda msg: None)
    out = Path(out_dir)
    insts = _resolve_instruments(list(instruments))
    font = find_soundfont(soundfont)
    files = discover_midi(sources)
    keys = piece_keys(files)
    n_workers = max(1, min(int(workers or os.cpu_count() or 1), len(files) * len(insts)))
    unavailable = fluidsynth_available()
    if unavailable is not None:
        raise DataError(unavailable)
    out.mkdir(parents=True, exist_ok=True)

    bad: list[tuple[str, str]] = []
    failed: list[tuple[str, str]] = []
    t_wall = 0.0
    audio_s = render_s = 0.0
    rendered = 0
    with _make_pool(n_workers, font, tuple(p for _, p in insts)) as pool:
        # 1. validate the MIDI files (in parallel: parsing dominates for big collections)
        by_path = {os.fspath(f): k for f, k in zip(files, keys)}
        ok: set[str] = set()
        for path, reason in pool.imap_unordered(_validate_job, list(by_path), chunksize=8):
            if reason is None:
                ok.add(by_path[path])
            else:
                bad.append((path, reason))
        bad.sort()
        good = [(f, k) for f, k in zip(files, keys) if k in ok]
        if not good:
            raise DataError(f"none of the {len(files)} MIDI files can be used; first problem: "
                            f"{bad[0][1]}")
        for f, k in good:
            _copy_midi(f, out / "midi" / f"{k}.mid")
        split = split_files([k for _, k in good], val_fraction, seed)

        # 2. render what is not there yet
        previous = _previous_items(out)
        planned: list[dict[str, Any]] = []
        jobs: list[dict[str, Any]] = []
        for f, key in good:
            for inst, program in insts:
                item = {"id": f"{key}.{inst}", "midi": f"midi/{key}.mid",
                        "audio": f"audio/{inst}/{key}.wav", "instrument": inst,
                        "split": split[key], "source": os.fspath(f)}
                planned.append(item)
                if not (out / item["audio"]).exists():
                    jobs.append({"id": item["id"], "program": program,
                                 "midi_path": os.fspath(out / item["midi"]),
                                 "audio_path": os.fspath(out / item["audio"])})
        reused = len(planned) - len(jobs)
        if reused:
            say(f"{reused} of {len(planned)} items already rendered; skipping them")
        results: dict[str, dict] = {}
        t0 = time.perf_counter()
        with tqdm(total=len(jobs), unit="item", desc="rendering", disable=not progress,
                  dynamic_ncols=True) as bar:
            for res in pool.imap_unordered(_render_job, jobs, chunksize=1):
                results[res["id"]] = res
                if res["error"] is None:
                    rendered += 1
                    audio_s += res["seconds"]
                    render_s += res["render_s"]
                else:
                    failed.append((res["id"], res["error"]))
                bar.update(1)
                if render_s > 0:
                    bar.set_postfix_str(f"{audio_s / render_s:.0f}x real time")
        t_wall = time.perf_counter() - t0
    failed.sort()

    # 3. manifest of everything that exists on disk, in a stable order
    items = []
    for item in planned:
        if not (out / item["audio"]).exists():
            continue
        res = results.get(item["id"])
        if res is not None:
            item["seconds"] = round(res["seconds"], 4)
            item["gain_db"] = res["gain_db"]
        else:               # rendered by an earlier run
            for field in ("seconds", "gain_db"):
                if field in previous.get(item["id"], {}):
                    item[field] = previous[item["id"]][field]
            if "seconds" not in item:   # that run was stopped before its manifest
                import soundfile as sf

                item["seconds"] = round(sf.info(os.fspath(out / item["audio"])).duration, 4)
        items.append(item)
    manifest = {
        "format": MANIFEST_FORMAT,
        "sample_rate": SAMPLE_RATE,
        "instruments": [inst for inst, _ in insts],
        "programs": {inst: program for inst, program in insts},
        "soundfont": font.name,
        "seed": seed,
        "val_fraction": val_fraction,
        "level": {"makeup_gain_db": MAKEUP_GAIN_DB, "peak_ceiling_dbfs": PEAK_CEILING_DBFS,
                  "release_tail_s": RELEASE_TAIL},
        "items": items,
        "skipped_midi": [{"path": p, "reason": r} for p, r in bad],
        "failed": [{"id": i, "reason": r} for i, r in failed],
    }
    manifest_path = out / MANIFEST_NAME
    write_text_atomic(manifest_path, json.dumps(manifest, indent=1) + "\n")
    return SynthReport(out_dir=out, manifest=manifest_path, n_items=len(items),
                       rendered=rendered, reused=reused, bad_midi=bad, failed=failed,
                       audio_seconds=audio_s, render_seconds=render_s, wall_seconds=t_wall,
                       workers=n_workers)
