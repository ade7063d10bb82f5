"""Export music21's bundled corpus as (optionally humanised) MIDI files for training.

The paper trained on 334 piano performances; what is reachable here without a network is
music21's corpus of scores (Bach chorales, Palestrina masses, Monteverdi madrigals,
classical string quartets, folk tunes, …). Each score becomes one single-track MIDI file:

    music21 score ──write('midi')──▶ pretty_midi notes ──merge unisons──▶ humanize ──▶ .mid

- music21 writes 10 080 ticks per quarter, so long pieces exceed pretty_midi's corrupt-file
  guard (``MAX_TICK``); worker processes raise that guard while reading music21's own
  output, and the exported file is rewritten at 480 ticks per quarter, which every reader
  accepts.
- All parts are merged into one acoustic-grand-piano track (``data synth`` forces the
  instrument anyway); unison voices become one key (:func:`humanize.merge_unisons`).
- Pieces are taken round-robin across the corpus' collections in a seeded order, so a
  ``--hours`` budget gets a mix of styles rather than the first composer alphabetically.
- Failures (malformed repeats, unparsable files) are listed with their reason and skipped.

``corpus.json`` in the output directory records the pieces, their durations, the failures
and the settings; it is rewritten atomically as work progresses, and a rerun with the same
settings keeps what exists.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import multiprocessing
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable

from neuralsynth.data.humanize import Humanize, humanize, merge_unisons
from neuralsynth.errors import DataError, require_extra
from neuralsynth.fileio import atomic_path, write_text_atomic
from neuralsynth.midi import quiet_imports
from neuralsynth.midi.read import read_midi

#: File types of the corpus that hold playable scores (``.rntxt`` are harmonic analyses).
SCORE_SUFFIXES = (".mxl", ".xml", ".musicxml", ".krn", ".abc", ".mid", ".midi")
#: Collections that are teaching material or examples rather than music to perform.
EXCLUDED_COLLECTIONS = ("demos", "theoryExercises")
MANIFEST_NAME = "corpus.json"
_MANIFEST_VERSION = 1
# pretty_midi refuses files whose last tick exceeds 1e7 as likely corrupt; music21's
# 10 080 ticks per quarter reach that after ~17 minutes at 60 qpm.
_MUSIC21_MAX_TICK = 10 ** 9


@dataclasses.dataclass(frozen=True)
class CorpusPiece:
    """One score of the corpus: its ``collection`` (top folder) and ``path`` on disk."""

    collection: str
    path: str
    name: str   # output stem, unique within the export


@dataclasses.dataclass
class CorpusReport:
    """What :func:`export_corpus` did."""

    out_dir: Path
    files: list[dict[str, Any]]
    failed: list[tuple[str, str]]
    reused: int
    seconds: float
    wall_seconds: float


def _require_music21():
    require_extra("music21", "data", "building a corpus from music21's scores")
    from music21 import corpus
    return corpus


def _suffix_rank(path: str) -> int:
    return SCORE_SUFFIXES.index(Path(path).suffix.lower())


def list_corpus(collections: Iterable[str] | None = None) -> list[CorpusPiece]:
    """The playable scores of music21's corpus, optionally only some ``collections``."""
    corpus = _require_music21()
    wanted = {c.strip() for c in collections} if collections else None
    pieces: list[CorpusPiece] = []
    for p in corpus.getPaths():
        p = Path(p)
        if p.suffix.lower() not in SCORE_SUFFIXES:
            continue
        parts = p.as_posix().split("/corpus/", 1)[-1].split("/")
        collection = parts[0]
        if collection in EXCLUDED_COLLECTIONS and wanted is None:
            continue
        if wanted is not None and collection not in wanted:
            continue
        stem = "_".join(parts[1:])
        stem = stem.rsplit(".", 1)[0].replace(" ", "_")
        pieces.append(CorpusPiece(collection, str(p), f"{collection}/{stem}"))
    # Some scores exist in two encodings (movement1.mxl and movement1.krn): one output
    # name, so keep one file per name, preferring the earlier suffix of SCORE_SUFFIXES.
    best: dict[str, CorpusPiece] = {}
    for piece in pieces:
        held = best.get(piece.name)
        if held is None or _suffix_rank(piece.path) < _suffix_rank(held.path):
            best[piece.name] = piece
    pieces = list(best.values())
    if wanted is not None:
        found = {piece.collection for piece in pieces}
        missing = sorted(wanted - found)
        if missing:
            known = sorted({Path(p).as_posix().split('/corpus/', 1)[-1].split('/')[0]
                            for p in corpus.getPaths()})
            raise DataError(f"unknown corpus collection(s) {', '.join(missing)}; "
                            f"known: {', '.join(known)}")
    return pieces


def interleave(pieces: list[CorpusPiece], seed: int) -> list[CorpusPiece]:
    """Seeded shuffle within each collection, then round-robin across collections."""
    import random

    by_collection: dict[str, list[CorpusPiece]] = {}
    for piece in sorted(pieces, key=lambda p: p.name):
        by_collection.setdefault(piece.collection, []).append(piece)
    rng = random.Random(seed)
    queues = []
    for name in sorted(by_collection):
        group = by_collection[name]
        rng.shuffle(group)
        queues.append(group)
    order: list[CorpusPiece] = []
    depth = 0
    while any(depth < len(q) for q in queues):
        order.extend(q[depth] for q in queues if depth < len(q))
        depth += 1
    return order


def piece_seed(name: str, seed: int) -> int:
    """A stable per-piece seed (Python's ``hash`` is salted per process)."""
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def _score_notes(path: str):
    """All pitched notes of a corpus score as ``[N, 4]`` (start, end, pitch, velocity)."""
    import numpy as np
    pretty_midi = quiet_imports.pretty_midi()
    from music21 import corpus, stream
    from music21 import midi as m21midi

    parsed = corpus.parse(path)
    if isinstance(parsed, stream.Opus):
        # an .abc file of many tunes: play them one after another is not a piece;
        # take the first tune so each file stays one piece of music
        scores = list(parsed.scores)
        if not scores:
            raise DataError("collection without any score")
        parsed = scores[0]
    mf = m21midi.translate.music21ObjectToMidiFile(parsed)

    with tempfile.NamedTemporaryFile(suffix=".mid") as tmp:
        mf.open(tmp.name, "wb")
        mf.write()
        mf.close()
        pretty_midi.pretty_midi.MAX_TICK = _MUSIC21_MAX_TICK
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pm = read_midi(tmp.name)
    rows = [(n.start, n.end, n.pitch, n.velocity)
            for inst in pm.instruments if not inst.is_drum for n in inst.notes]
    if not rows:
        raise DataError("score has no pitched notes")
    return np.array(rows, dtype=np.float64)


def write_notes_midi(notes, out_path: str | os.PathLike) -> float:
    """Write ``notes [N, 4]`` as a one-track piano MIDI file atomically; return its length."""
    pretty_midi = quiet_imports.pretty_midi()

    pm = pretty_midi.PrettyMIDI(resolution=480, initial_tempo=120.0)
    inst = pretty_midi.Instrument(program=0, name="piano")
    for start, end, pitch, velocity in notes:
        inst.notes.append(pretty_midi.Note(velocity=int(velocity), pitch=int(pitch),
                                           start=float(start), end=float(end)))
    pm.instruments.append(inst)
    with atomic_path(out_path) as tmp:
        pm.write(os.fspath(tmp))
    return float(max(n.end for n in inst.notes))


class PieceTimeout(Exception):
    """A score took longer than the time limit to convert."""


@contextlib.contextmanager
def _time_limit(seconds: float | None):
    """Raise :class:`PieceTimeout` in this (worker) process after ``seconds``.

    Whole string quartets in one file take music21 minutes; with ordered results one
    such score would stall the whole export, so it is skipped instead. Uses SIGALRM,
    so it only applies on POSIX in a process's main thread.
    """
    import signal
    import threading

    usable = (seconds and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def expire(signum, frame):
        raise PieceTimeout(f"took longer than {seconds:g} s to convert")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _convert(job: tuple[str, str, int, Humanize | None, float, float | None]
             ) -> tuple[str, float, int, str]:
    """Worker: score → MIDI file. Never raises; returns (name, seconds, notes, error).

    Notes starting after ``max_seconds`` (of the performed piece) are dropped, so a few
    long movements cannot dominate a dataset of a few hours.
    """
    path, out_path, seed, settings, max_seconds, timeout = job
    name = Path(out_path).stem
    try:
        with warnings.catch_warnings(), _time_limit(timeout):
            warnings.simplefilter("ignore")
            notes = merge_unisons(_score_notes(path))
            notes = notes[(notes[:, 2] >= 21) & (notes[:, 2] <= 108)]  # the 88 piano keys
            if notes.shape[0] == 0:
                raise DataError("no notes within the piano range")
            if settings is not None:
                # jitter can make a note overlap the next one of its pitch again
                notes = merge_unisons(humanize(notes, seed, settings))
            notes = notes[notes[:, 0] < max_seconds]
            seconds = write_notes_midi(notes, out_path)
        return name, seconds, int(notes.shape[0]), ""
    except Exception as exc:  # one bad score must not stop the export
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return name, 0.0, 0, f"{type(exc).__name__}: {reason}"[:200]


def _settings_record(humanized: Humanize | None, seed: int,
                     max_minutes: float) -> dict[str, Any]:
    return {"seed": seed, "max_minutes": max_minutes,
            "humanize": dataclasses.asdict(humanized) if humanized is not None else None}


def _read_previous(manifest_path: Path, settings: dict[str, Any]) -> dict[str, dict]:
    """Files of an earlier export with the same settings, by name, if they still exist."""
    if not manifest_path.is_file():
        return {}
    try:
        data = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if data.get("version") != _MANIFEST_VERSION or data.get("settings") != settings:
        raise DataError(f"{manifest_path} was written with other settings "
                        f"({data.get('settings')}); use a new --out directory")
    root = manifest_path.parent
    return {f["name"]: f for f in data.get("files", []) if (root / f["file"]).is_file()}


def export_corpus(out_dir: str | os.PathLike, *, hours: float | None = None,
                  collections: Iterable[str] | None = None, seed: int = 0,
                  humanized: Humanize | None = Humanize(), max_minutes: float = 10.0,
                  timeout: float | None = 120.0, workers: int | None = None,
                  progress: bool = True,
                  log: Callable[[str], None] = lambda msg: None) -> CorpusReport:
    """Export corpus scores to ``out_dir/<collection>/<piece>.mid`` until ``hours`` of music.

    ``hours=None`` exports everything; pieces are cut after ``max_minutes``, and scores
    that take more than ``timeout`` seconds to convert are skipped. ``humanized=None`` keeps the score's timing and
    velocities. Deterministic for a given seed and settings: pieces are accepted in the
    interleaved order, whatever order the workers finish in.
    """
    from tqdm import tqdm

    if hours is not None and not hours > 0:
        raise DataError(f"--hours must be > 0, got {hours}")
    if not max_minutes > 0:
        raise DataError(f"--max-minutes must be > 0, got {max_minutes}")
    if humanized is not None:
        try:
            humanized.check()
        except ValueError as exc:
            raise DataError(f"humanisation: {exc}") from None
    order = interleave(list_corpus(collections), seed)
    if not order:
        raise DataError("the corpus selection is empty")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / MANIFEST_NAME
    # compared with what corpus.json holds, so in its JSON form (tuples become lists)
    settings = json.loads(json.dumps(_settings_record(humanized, seed, max_minutes)))
    previous = _read_previous(manifest_path, settings)
    target = hours * 3600.0 if hours is not None else float("inf")

    started = time.perf_counter()
    accepted: list[dict[str, Any]] = []
    failed: list[tuple[str, str]] = []
    total = 0.0
    reused = 0

    def save() -> None:
        write_text_atomic(manifest_path, json.dumps(
            {"version": _MANIFEST_VERSION, "source": "music21 corpus", "settings": settings,
             "hours": total / 3600.0, "files": accepted,
             "failed": [{"name": n, "reason": r} for n, r in failed]}, indent=1) + "\n")

    jobs = [(p.path, str(out / f"{p.name}.mid"), piece_seed(p.name, seed), humanized,
             max_minutes * 60.0, timeout) for p in order]
    n_workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    # with a budget the bar counts hours of music, without one it counts pieces
    bar = tqdm(total=len(jobs) if hours is None else hours, disable=not progress,
               desc="corpus", dynamic_ncols=True,
               bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.2f}/{total:.2f} "
                          + ("pieces" if hours is None else "h")
                          + " [{elapsed}<{remaining}{postfix}]")

    def results():
        todo = [job for piece, job in zip(order, jobs) if piece.name not in previous]
        if n_workers == 1:
            yield from map(_convert, todo)
            return
        ctx = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
        with ctx.Pool(n_workers) as pool:
            # ordered results make the selection independent of worker timing
            yield from pool.imap(_convert, todo, chunksize=1)
            pool.terminate()

    stream = results()
    try:
        for piece in order:
            if total >= target:
                break
            if piece.name in previous:
                record = previous[piece.name]
                reused += 1
            else:
                name, seconds, n_notes, error = next(stream)
                if error:
                    failed.append((piece.name, error))
                    with tqdm.external_write_mode():   # keep the bar on its own line
                        log(f"skipped {piece.name}: {error}")
                    continue
                record = {"name": piece.name, "file": f"{piece.name}.mid",
                          "collection": piece.collection, "seconds": round(seconds, 3),
                          "notes": n_notes, "source": Path(piece.path).name}
            accepted.append(record)
            total += record["seconds"]
            bar.set_postfix_str(f"{len(accepted)} pieces, {len(failed)} skipped")
            step = 1 if hours is None else min(record["seconds"] / 3600.0, bar.total - bar.n)
            bar.update(step)
            if len(accepted) % 25 == 0:
                save()
    finally:
        stream.close()
        bar.close()
    # a worker may have finished pieces past the budget: they are not part of the export
    keep = {out / r["file"] for r in accepted}
    for extra in {out / f"{p.name}.mid" for p in order} - keep:
        extra.unlink(missing_ok=True)
    save()
    return CorpusReport(out_dir=out, files=accepted, failed=failed, reused=reused,
                        seconds=total, wall_seconds=time.perf_counter() - started)
