"""Join the shards of a dataset (``data synth --shard I/N``) into one dataset.

Each shard holds every instrument of its pieces and records where those pieces stand in
the whole collection; the merge checks that the shards were made with the same settings
(instruments, SoundFont, split seed and fraction, level rule) and that all N are there
once, copies their files, and writes the manifest an unsharded run would have written:
the same items, in the same order, pointing at the same audio.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from neuralsynth.data.manifest import MANIFEST_NAME
from neuralsynth.errors import DataError, UsageError
from neuralsynth.fileio import atomic_path, write_text_atomic

#: Manifest fields that must agree between shards: they decide every rendered sample.
SETTINGS = ("format", "sample_rate", "instruments", "programs", "soundfont", "seed",
            "val_fraction", "level", "skipped_midi")


def _load(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"'{folder}' has no {MANIFEST_NAME}; it is not a dataset shard") \
            from None
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read it ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("shard"), dict):
        raise DataError(f"{folder}: not a shard (made without --shard I/N)")
    return data


def _copy(src: Path, dest: Path) -> None:
    """``src`` to ``dest`` atomically; a hard link where both are on one file system."""
    if dest.exists() and dest.stat().st_size == src.stat().st_size \
            and dest.read_bytes() == src.read_bytes():
        return
    with atomic_path(dest) as tmp:
        tmp.unlink()
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)


def merge_shards(shards: list[str | os.PathLike], out_dir: str | os.PathLike) -> Path:
    """Merge ``shards`` (folders written by ``data synth --shard I/N``) into ``out_dir``;
    returns the merged manifest's path. Every check runs before any file is copied."""
    folders = [Path(s) for s in shards]
    if not folders:
        raise UsageError("give the shard folders to merge")
    out = Path(out_dir)
    if any(f.resolve() == out.resolve() for f in folders):
        raise UsageError(f"--out {out} is one of the shards; merge into a new folder")
    loaded = [(f, _load(f)) for f in folders]
    first_folder, first = loaded[0]
    count = first["shard"]["count"]
    for folder, data in loaded[1:]:
        for key in SETTINGS:
            if data.get(key) != first.get(key):
                raise DataError(f"{folder} was made with another {key} than {first_folder} "
                                f"({data.get(key)!r:.80} vs {first.get(key)!r:.80}); shards "
                                f"must share every setting")
        if data["shard"]["count"] != count or data["shard"]["pieces"] != \
                first["shard"]["pieces"]:
            raise DataError(f"{folder} is shard {data['shard']['index']}/"
                            f"{data['shard']['count']} of {data['shard']['pieces']} pieces, "
                            f"{first_folder} of {count} shards of {first['shard']['pieces']}")
    seen: dict[int, Path] = {}
    for folder, data in loaded:
        index = data["shard"]["index"]
        if index in seen:
            raise DataError(f"shard {index}/{count} is given twice: {seen[index]} and "
                            f"{folder}")
        seen[index] = folder
    missing = sorted(set(range(1, count + 1)) - set(seen))
    if missing:
        raise DataError(f"shard(s) {', '.join(f'{i}/{count}' for i in missing)} missing; "
                        f"a merge needs all {count}")

    # Items in the order of an unsharded run: by the piece's place in the collection,
    # then as each shard listed them (instruments in their order).
    ordered: list[tuple[int, int, dict, Path]] = []
    failed: list[dict] = []
    for folder, data in loaded:
        positions = data["shard"]["positions"]
        for n, item in enumerate(data["items"]):
            if item.get("midi") not in positions:
                raise DataError(f"{folder}: item {item.get('id')} is not one of the "
                                f"shard's pieces")
            ordered.append((positions[item["midi"]], n, item, folder))
        failed.extend(data.get("failed", []))
    ordered.sort(key=lambda entry: (entry[0], entry[1]))
    for _, _, item, folder in ordered:
        for field in ("midi", "audio"):
            if not (folder / item[field]).is_file():
                raise DataError(f"{folder}: {item[field]} is listed but missing")

    out.mkdir(parents=True, exist_ok=True)
    for _, _, item, folder in ordered:
        for field in ("midi", "audio"):
            _copy(folder / item[field], out / item[field])
    manifest = {k: v for k, v in first.items() if k not in ("shard", "items", "failed")}
    manifest["items"] = [item for _, _, item, _ in ordered]
    manifest["failed"] = sorted(failed, key=lambda f: f.get("id", ""))
    # Same key order as an unsharded manifest.
    keys = list(first)
    merged = {k: manifest[k] for k in keys if k in manifest}
    path = out / MANIFEST_NAME
    write_text_atomic(path, json.dumps(merged, indent=1) + "\n")
    return path


__all__ = ["SETTINGS", "merge_shards"]
