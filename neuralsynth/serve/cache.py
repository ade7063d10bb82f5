"""Finished renders on disk, keyed by everything that decides them, bounded in size.

A key is the SHA-256 of (model, MIDI bytes' hash, timbre, track rules, options), so the
same request is answered from disk; file names are keys the server made (64 hex digits),
never anything a client sent. The oldest-used entries are dropped beyond ``max_bytes``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from pathlib import Path
from typing import Any

import numpy as np

from neuralsynth.fileio import atomic_path

_KEY = re.compile(r"^[0-9a-f]{64}$")


def render_key(**parts: Any) -> str:
    """The cache key of a render: SHA-256 of its parts as canonical JSON."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def is_key(text: str) -> bool:
    return bool(_KEY.match(text or ""))


class RenderCache:
    """``put(key, wav_bytes, mel_db_u8 [T, M], meta)``, ``wav(key)``, ``mel(key)``,
    ``meta(key)``; entries live in ``folder`` as ``<key>.wav``, ``<key>.mel.npy`` and
    ``<key>.json``."""

    def __init__(self, folder: str | os.PathLike, max_bytes: int = 500_000_000):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.max_bytes = int(max_bytes)
        self._lock = threading.Lock()

    def _path(self, key: str, suffix: str) -> Path:
        if not is_key(key):
            raise KeyError(key)
        return self.folder / f"{key}{suffix}"

    def has(self, key: str) -> bool:
        return is_key(key) and self._path(key, ".json").is_file()

    def put(self, key: str, wav: bytes, mel_u8: np.ndarray, meta: dict) -> None:
        with self._lock:
            # The .json goes last: an entry counts only once all three files are whole.
            with atomic_path(self._path(key, ".wav")) as tmp:
                tmp.write_bytes(wav)
            with atomic_path(self._path(key, ".mel.npy")) as tmp:
                with open(tmp, "wb") as f:
                    np.save(f, np.ascontiguousarray(mel_u8, dtype=np.uint8),
                            allow_pickle=False)
            with atomic_path(self._path(key, ".json")) as tmp:
                tmp.write_text(json.dumps(meta), encoding="utf-8")
            self._trim()

    def wav(self, key: str) -> bytes | None:
        if not self.has(key):
            return None
        path = self._path(key, ".wav")
        os.utime(path)                     # recently used: kept longest
        return path.read_bytes()

    def mel(self, key: str) -> np.ndarray | None:
        if not self.has(key):
            return None
        return np.load(self._path(key, ".mel.npy"), allow_pickle=False)

    def meta(self, key: str) -> dict | None:
        if not self.has(key):
            return None
        return json.loads(self._path(key, ".json").read_text(encoding="utf-8"))

    def _trim(self) -> None:
        entries = []
        for meta in self.folder.glob("*.json"):
            key = meta.name[:-5]
            if not is_key(key):
                continue
            files = [self.folder / f"{key}{s}" for s in (".wav", ".mel.npy", ".json")]
            size = sum(f.stat().st_size for f in files if f.exists())
            used = max(f.stat().st_mtime for f in files if f.exists())
            entries.append((used, size, files))
        total = sum(size for _, size, _ in entries)
        for _, size, files in sorted(entries, key=lambda e: e[0]):
            if total <= self.max_bytes:
                break
            for f in files:
                f.unlink(missing_ok=True)
            total -= size


__all__ = ["RenderCache", "is_key", "render_key"]
