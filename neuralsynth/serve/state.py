"""What the explorer holds: the model (which grows when a recording is fitted), its map,
the render cache, the worker pool, and the work each request hands to the pool.

Handlers in :mod:`.app` parse requests; everything that touches the model is here, as
plain functions run on a worker thread.
"""

from __future__ import annotations

import base64
import hashlib
import io
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from neuralsynth.errors import NeuralsynthError
from neuralsynth.serve.cache import RenderCache, render_key
from neuralsynth.serve.limits import ApiError, Limits
from neuralsynth.serve.mapdata import MAP_GRID, cached_map, file_digest, plane_xy
from neuralsynth.serve.pool import WorkerPool

#: Vocoders the page offers (names of the registry), the first the default.
VOCODERS = ("harmonic", "griffin_lim")
#: Dynamic range of the mel picture the page draws, dB below its peak.
MEL_RANGE_DB = 80.0


#: Suffixes a recording keeps on disk (libsndfile also reads the header itself).
_AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff"}


def examples_folder() -> Path:
    return Path(__file__).resolve().parents[1] / "assets" / "examples"


def bundled_examples() -> dict[str, Path]:
    """The bundled example pieces by file name: the only files a client can name."""
    return {p.name: p for p in sorted(examples_folder().glob("*.mid"))}


class Explorer:
    """The server's state. ``synth`` is replaced (never mutated) when a fit adds an
    instrument, so a render in flight keeps the model it started with."""

    def __init__(self, synth, *, cache_dir: str | Path, limits: Limits = Limits(),
                 map_grid: int = MAP_GRID):
        # (model, its identity), replaced in one assignment: a render reads both at once.
        self.current = (synth, file_digest(synth.path))
        self.limits = limits
        self.cache_dir = Path(cache_dir)
        self.digest = self.current[1]
        self.renders = RenderCache(self.cache_dir / "renders")
        self.pool = WorkerPool(limits.workers, limits.queue)
        self.map_grid = int(map_grid)
        self.map: dict[str, Any] | None = None
        self.map_error: str | None = None
        self._fits: Path | None = None      # made at the first fit, removed at close
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._map_thread: threading.Thread | None = None

    @property
    def synth(self):
        return self.current[0]

    @property
    def model_id(self) -> str:
        return self.current[1]

    # -- the map ------------------------------------------------------------------------
    def compute_map(self) -> None:
        """Fill ``map`` (or ``map_error``); run once, at start-up (see :meth:`start_map`)."""
        try:
            self.map = cached_map(self.synth, self.digest, self.cache_dir / "maps",
                                  grid=self.map_grid, cancel=self._closing.is_set)
        except InterruptedError:           # the server is stopping
            return
        except Exception as exc:           # the page says so; rendering still works
            self.map_error = " ".join(str(exc).split()) or type(exc).__name__

    def start_map(self) -> None:
        """Make the map on a thread, so the server answers while it is made."""
        self._map_thread = threading.Thread(target=self.compute_map, name="timbre-map")
        self._map_thread.start()

    def plane(self, point) -> list[float] | None:
        """Where a point of the space lies on the map: the point itself in a 2-D space,
        else its projection (None until the projection is made)."""
        if self.map is not None:
            return plane_xy(point, self.map)
        point = np.asarray(point, dtype=np.float64)
        return np.round(point, 4).tolist() if point.shape == (2,) else None

    # -- the model ----------------------------------------------------------------------
    def describe_model(self) -> dict[str, Any]:
        synth = self.synth
        table = synth.model.instrument_embeddings().detach().double().cpu().numpy()
        own = set(_adapted(synth))
        from neuralsynth.inference.load import default_timbre

        return {
            "name": str(getattr(synth.recipe, "name", "") or Path(synth.path).stem),
            "model_id": self.model_id[:16], "embedding_dim": int(table.shape[1]),
            "instruments": [{"name": n, "coords": np.round(row, 4).tolist(),
                             "xy": self.plane(row), "own_offsets": n in own}
                            for n, row in zip(synth.instruments, table)],
            "default_timbre": default_timbre(synth.instruments),
            "vocoders": list(VOCODERS), "examples": list(bundled_examples()),
            "map": ("ready" if self.map is not None else
                    "failed" if self.map_error else "computing"),
            "limits": {"max_midi_bytes": self.limits.max_midi_bytes,
                       "max_audio_bytes": self.limits.max_audio_bytes,
                       "max_piece_seconds": self.limits.max_piece_seconds,
                       "max_recording_seconds": self.limits.max_recording_seconds},
            "transcribe": _can_transcribe(),
        }

    def describe_timbre(self, spec: str) -> dict[str, Any]:
        """A timbre spec's keyframes as points of the space and of the map, and for a
        single point the nearest instruments and the closest mix of two."""
        import torch

        from neuralsynth.inference.timbre_fit import closest_mix, nearest_instruments

        synth = self.synth
        parsed = self.check_timbre(spec)
        table = synth.model.instrument_embeddings().detach().double().cpu()
        keys = ([(0.0, parsed)] if parsed.is_static
                else [(k.seconds, k.timbre) for k in parsed.keyframes])
        frames, points = [], []
        for seconds, timbre in keys:
            with torch.inference_mode():       # the point: the vector's first D numbers
                point = timbre.embedding(synth.model)[:table.shape[1]].double().cpu()
            points.append(point)
            frames.append({"seconds": seconds, "coords": np.round(point.numpy(), 4).tolist(),
                           "xy": self.plane(point.numpy()), "describe": timbre.describe()})
        out: dict[str, Any] = {"spec": spec, "static": bool(parsed.is_static),
                               "describe": parsed.describe(), "keyframes": frames}
        if parsed.is_static:
            names = list(synth.instruments)
            out["nearest"] = [[n, round(d, 4)] for n, d in
                              nearest_instruments(points[0], table, names)[:3]]
            out["mix"] = {k: round(v, 3) for k, v in
                          closest_mix(points[0], table, names).items()}
        return out

    def check_timbre(self, spec: str):
        """The parsed spec, or 422 with the parser's one-line reason."""
        try:
            return self.synth.timbre(spec)
        except NeuralsynthError as exc:
            raise ApiError(422, str(exc)) from None

    # -- work on the pool ---------------------------------------------------------------
    def key(self, midi: bytes, timbre: str, tracks: list[str], gm: bool,
            vocoder: str, model_id: str | None = None) -> str:
        """The cache key of a render with the current model (or ``model_id``'s)."""
        return render_key(model=model_id or self.model_id,
                          midi=hashlib.sha256(midi).hexdigest(),
                          timbre=timbre, tracks=tracks, gm=gm, vocoder=vocoder)

    def cached(self, key: str) -> dict | None:
        """The facts of a finished render, or None."""
        meta = self.renders.meta(key)
        return None if meta is None else {**meta, "cached": True}

    def render(self, midi: bytes, timbre: str, tracks: list[str], gm: bool,
               vocoder: str) -> tuple[str, dict]:
        """Render (or find in the cache); returns the cache key and the render's facts."""
        synth, model_id = self.current
        key = self.key(midi, timbre, tracks, gm, vocoder, model_id)
        meta = self.cached(key)
        if meta is not None:
            return key, meta
        parsed = check_piece(midi, self.limits)
        started = time.perf_counter()
        try:
            audio = synth.render(parsed, timbre, tracks=tracks, gm=gm, vocoder=vocoder)
        except NeuralsynthError as exc:
            raise ApiError(422, str(exc)) from None
        wav = wav_bytes(audio.samples, audio.sample_rate)
        meta = {"seconds": round(audio.seconds, 3), "timbre": audio.info.get("timbre"),
                "vocoder": audio.info.get("vocoder"), "tracks": audio.info.get("tracks"),
                "render_seconds": round(time.perf_counter() - started, 3)}
        self.renders.put(key, wav, mel_picture(audio.samples), meta)
        return key, {**meta, "cached": False}

    def fit(self, audio: bytes, audio_name: str, midi: bytes | None, name: str,
            adapt: str) -> dict[str, Any]:
        """Fit a recording, add it to the model as ``name`` and serve the grown model."""
        from neuralsynth.inference.add_instrument import check_new_name, save_with_instrument
        from neuralsynth.inference.synth import load_model

        with self._lock:                   # one fit at a time: each grows the model
            synth = self.synth
            try:
                check_new_name(name, synth.instruments)
            except NeuralsynthError as exc:
                raise ApiError(422, str(exc)) from None
            if self._fits is None:
                self._fits = Path(tempfile.mkdtemp(prefix="neuralsynth-fits-"))
            folder = Path(tempfile.mkdtemp(dir=self._fits))
            # The client's file name only picks a known suffix; it never names a path.
            suffix = Path(audio_name or "").suffix.lower()
            wav = folder / f"recording{suffix if suffix in _AUDIO_SUFFIXES else '.audio'}"
            wav.write_bytes(audio)
            midi_path = None
            if midi is not None:
                midi_path = folder / "notes.mid"
                midi_path.write_bytes(midi)
            check_recording(wav, self.limits)
            try:
                fit = synth.fit_timbre([(wav, midi_path)], adapt=adapt)
                grown = save_with_instrument(synth.path, name, fit.embedding,
                                             folder / "model.pt", film=fit.film)
                new = load_model(grown, device=str(synth.device))
            except NeuralsynthError as exc:
                raise ApiError(422, str(exc)) from None
            # A new identity: cached renders of the smaller model are not this model's.
            identity = f"{self.model_id}+{name}+{fit.embedding.tolist()}"
            self.current = (new, hashlib.sha256(identity.encode()).hexdigest())
            point = fit.embedding.double().numpy()
            return {"name": name, "coords": np.round(point, 4).tolist(),
                    "xy": self.plane(point), "loss": round(fit.loss, 6),
                    "point_loss": fit.point_loss, "adapt": adapt,
                    "nearest": [[n, round(d, 4)] for n, d in fit.nearest[:3]],
                    "mix": {k: round(v, 3) for k, v in fit.mix.items()},
                    "offset_s": round(fit.offsets[0], 3), "notes_heard": fit.notes_heard,
                    "fit_seconds": round(fit.seconds, 2)}

    def close(self) -> None:
        """Stop: the map (at its next batch) and the pool. Waiting for the map's thread
        matters: torch's threads must not be torn down while it runs."""
        self._closing.set()
        if self._map_thread is not None:
            self._map_thread.join()
        self.pool.close()
        if self._fits is not None:
            shutil.rmtree(self._fits, ignore_errors=True)


def check_piece(midi: bytes, limits: Limits):
    """The parsed MIDI file (a ``PrettyMIDI``, which rendering takes as it is); 422 for
    one that cannot be read or is longer than the limit."""
    from neuralsynth.midi.read import load_notes, read_midi

    try:
        parsed = read_midi(midi)
        notes = load_notes(parsed)
    except NeuralsynthError as exc:
        raise ApiError(422, str(exc)) from None
    if notes.duration > limits.max_piece_seconds:
        raise ApiError(422, f"the piece lasts {notes.duration:.0f} s; this server renders "
                            f"pieces up to {limits.max_piece_seconds:.0f} s")
    return parsed


def check_recording(path: Path, limits: Limits) -> None:
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except Exception:
        raise ApiError(422, "the recording cannot be read as audio (WAV, FLAC or OGG)") \
            from None
    if info.duration > limits.max_recording_seconds:
        raise ApiError(422, f"the recording lasts {info.duration:.0f} s; this server fits "
                            f"recordings up to {limits.max_recording_seconds:.0f} s")


def wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.clip(samples, -1.0, 1.0), rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def mel_picture(samples: np.ndarray) -> np.ndarray:
    """The render's log-mel ``[T, 80]`` as bytes 0-255 over the top 80 dB."""
    from neuralsynth.audio.spectral import mel_spectrogram

    db = 20.0 * np.log10(np.maximum(mel_spectrogram(samples).numpy(), 1e-8))
    top = float(db.max())
    scaled = (np.clip(db, top - MEL_RANGE_DB, top) - (top - MEL_RANGE_DB)) / MEL_RANGE_DB
    return np.round(scaled * 255.0).astype(np.uint8)


def mel_payload(mel_u8: np.ndarray) -> dict[str, Any]:
    from neuralsynth.audio.constants import HOP_LENGTH, SAMPLE_RATE

    return {"frames": int(mel_u8.shape[0]), "mels": int(mel_u8.shape[1]),
            "range_db": MEL_RANGE_DB, "frame_seconds": HOP_LENGTH / SAMPLE_RATE,
            "data": base64.b64encode(np.ascontiguousarray(mel_u8).tobytes()).decode()}


def _adapted(synth) -> list[str]:
    from neuralsynth.inference.info import adapted_instruments

    return adapted_instruments(synth.model, synth.instruments)


def _can_transcribe() -> bool:
    try:
        from neuralsynth.midi.transcribe import check_available

        check_available()
        return True
    except NeuralsynthError:
        return False


__all__ = ["Explorer", "VOCODERS", "bundled_examples", "mel_payload"]
