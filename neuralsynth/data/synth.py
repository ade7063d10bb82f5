"""Dataset synthesis: render MIDI files with FluidSynth, one WAV per (piece, instrument).

Every piece is rendered once per instrument with all its pitched notes played on that
instrument's General MIDI program, so the only difference between two renderings of a
piece is the timbre: exactly what the Mel2Mel conditioning has to learn.

Pipeline per item: MIDI events (:mod:`.midi_events`) → FluidSynth at 44.1 kHz
(:mod:`.fluid`) → 16 kHz mono with the level rule → 24-bit WAV (:mod:`.dataset_audio`),
run by a pool of worker processes (:mod:`.workers`). This module plans the items, skips
those already rendered (so an interrupted run can be restarted), assigns the split by
piece and writes the manifest; the format is described in ``docs/dataset.md``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from neuralsynth.data.dataset_audio import MAKEUP_GAIN_DB, PEAK_CEILING_DBFS, SAMPLE_RATE
from neuralsynth.data.fluid import RELEASE_TAIL, fluidsynth_available
from neuralsynth.data.manifest import MANIFEST_FORMAT, MANIFEST_NAME
from neuralsynth.data.midi_files import discover_midi, piece_keys
from neuralsynth.data.soundfont import find_soundfont
from neuralsynth.data.splits import split_files
from neuralsynth.data.workers import make_pool, render_job, validate_job
from neuralsynth.errors import DataError, UsageError
from neuralsynth.fileio import atomic_path, write_text_atomic


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


def _resolve_instruments(names: list[str]) -> dict[str, int]:
    """Canonical instrument name → GM program, in the order given, without repeats."""
    from neuralsynth.midi.instruments import expand_instruments, program_of

    programs: dict[str, int] = {}
    for canonical in expand_instruments(names):
        programs.setdefault(canonical, program_of(canonical))
    if not programs:
        raise UsageError("give at least one instrument with --instruments")
    return programs


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


def _usable_midi(pool, files: list[Path], keys: list[str]
                 ) -> tuple[list[tuple[Path, str]], list[tuple[str, str]]]:
    """``(file, key)`` of the files that load, and sorted ``(path, reason)`` of the others.

    Validated in the pool because parsing dominates for big collections.
    """
    key_of = {os.fspath(f): k for f, k in zip(files, keys)}
    ok: set[str] = set()
    bad: list[tuple[str, str]] = []
    for path, reason in pool.imap_unordered(validate_job, list(key_of), chunksize=8):
        if reason is None:
            ok.add(key_of[path])
        else:
            bad.append((path, reason))
    return [(f, k) for f, k in zip(files, keys) if k in ok], sorted(bad)


def _render_all(pool, jobs: list[dict[str, Any]], progress: bool) -> dict[str, dict]:
    """Results of ``jobs`` by item id, in the order they finished."""
    from tqdm import tqdm

    results: dict[str, dict] = {}
    audio_s = render_s = 0.0
    with tqdm(total=len(jobs), unit="item", desc="rendering", disable=not progress,
              dynamic_ncols=True) as bar:
        for res in pool.imap_unordered(render_job, jobs, chunksize=1):
            results[res["id"]] = res
            if res["error"] is None:
                audio_s += res["seconds"]
                render_s += res["render_s"]
            bar.update(1)
            if render_s > 0:
                bar.set_postfix_str(f"{audio_s / render_s:.0f}x real time")
    return results


def _manifest_items(out: Path, planned: list[dict], results: dict[str, dict],
                    previous: dict[str, dict]) -> list[dict]:
    """The planned items whose audio exists, with their length and gain."""
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
    return items


def synthesize_dataset(sources: Iterable[str | os.PathLike], instruments: list[str],
                       out_dir: str | os.PathLike, *, soundfont: str | os.PathLike | None = None,
                       val_fraction: float = 0.2, workers: int | None = None, seed: int = 0,
                       progress: bool = True, shard: tuple[int, int] | None = None,
                       log: Callable[[str], None] | None = None) -> SynthReport:
    """Render every MIDI file in ``sources`` with every instrument into ``out_dir``.

    Resumable: items whose WAV already exists are not rendered again. Unusable MIDI files
    are skipped and listed in the report and manifest; items that fail to render
    (silent output, missing preset) are listed in ``failed`` and left out of the
    manifest. ``shard=(i, n)`` renders only the pieces ``i-1, i-1+n, ...`` of the usable
    files (shard ``i`` of ``n``, 1-based), every instrument of each, with the split of
    the whole collection; :func:`neuralsynth.data.merge.merge_shards` joins the shards.
    Returns a :class:`SynthReport`.
    """
    say = log or (lambda msg: None)
    if shard is not None:
        index, count = shard
        if not (isinstance(count, int) and count >= 1 and 1 <= index <= count):
            raise UsageError(f"shard {index}/{count}: write I/N with 1 <= I <= N")
    out = Path(out_dir)
    programs = _resolve_instruments(list(instruments))
    font = find_soundfont(soundfont)
    files = discover_midi(sources)
    keys = piece_keys(files)
    n_workers = max(1, min(int(workers or os.cpu_count() or 1), len(files) * len(programs)))
    unavailable = fluidsynth_available()
    if unavailable is not None:
        raise DataError(unavailable)
    out.mkdir(parents=True, exist_ok=True)

    with make_pool(n_workers, font, tuple(programs.values())) as pool:
        good, bad = _usable_midi(pool, files, keys)
        if not good:
            raise DataError(f"none of the {len(files)} MIDI files can be used; first problem: "
                            f"{bad[0][1]}")
        # The split is the whole collection's, so a piece is in the same split in
        # every shard and in an unsharded run.
        split = split_files([key for _, key in good], val_fraction, seed)
        positions = list(range(len(good)))
        if shard is not None:
            positions = positions[shard[0] - 1::shard[1]]
        mine = [good[i] for i in positions]
        for f, key in mine:
            _copy_midi(f, out / "midi" / f"{key}.mid")

        planned: list[dict[str, Any]] = []
        jobs: list[dict[str, Any]] = []
        for f, key in mine:
            for inst, program in programs.items():
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
        t0 = time.perf_counter()
        results = _render_all(pool, jobs, progress)
        wall_s = time.perf_counter() - t0

    done = [res for res in results.values() if res["error"] is None]
    failed = sorted((res["id"], res["error"]) for res in results.values()
                    if res["error"] is not None)
    # Read before this run's manifest replaces it: it holds the gains of reused items.
    items = _manifest_items(out, planned, results, _previous_items(out))
    manifest = {
        "format": MANIFEST_FORMAT,
        "sample_rate": SAMPLE_RATE,
        "instruments": list(programs),
        "programs": programs,
        "soundfont": font.name,
        "seed": seed,
        "val_fraction": val_fraction,
        "level": {"makeup_gain_db": MAKEUP_GAIN_DB, "peak_ceiling_dbfs": PEAK_CEILING_DBFS,
                  "release_tail_s": RELEASE_TAIL},
        "items": items,
        "skipped_midi": [{"path": p, "reason": r} for p, r in bad],
        "failed": [{"id": i, "reason": r} for i, r in failed],
    }
    if shard is not None:
        # Where this shard's pieces stand in the whole collection, so a merge can put
        # every item back in the order of an unsharded run.
        manifest["shard"] = {"index": shard[0], "count": shard[1], "pieces": len(good),
                             "positions": {f"midi/{key}.mid": pos
                                           for pos, (_, key) in zip(positions, mine)}}
    manifest_path = out / MANIFEST_NAME
    write_text_atomic(manifest_path, json.dumps(manifest, indent=1) + "\n")
    return SynthReport(out_dir=out, manifest=manifest_path, n_items=len(items),
                       rendered=len(done), reused=reused, bad_midi=bad, failed=failed,
                       audio_seconds=sum((res["seconds"] for res in done), 0.0),
                       render_seconds=sum((res["render_s"] for res in done), 0.0),
                       wall_seconds=wall_s, workers=n_workers)
