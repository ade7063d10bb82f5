"""The explorer's web application: the page, its static assets and the JSON API.

Routes (docs/serve.md has the request and response fields):

- ``GET /`` the page; ``GET /static/...`` its script and style (inside the package)
- ``GET /api/model`` instruments, coordinates, limits; ``GET /api/map`` the map
- ``GET /api/examples/{name}`` a bundled example MIDI file
- ``POST /api/midi`` tracks and notes of a MIDI file (the piano roll)
- ``POST /api/timbre`` a timbre spec as points of the space and of the map
- ``POST /api/render`` a render, as ``audio/wav``; ``GET /api/renders/{key}.wav`` and
  ``GET /api/renders/{key}/mel`` a finished one
- ``POST /api/fit`` a recording (and its MIDI) fitted and added as an instrument

Every error is ``{"error": "<one line>"}`` with a fitting status: 404 unknown, 413 too
large, 422 unusable input, 503 busy. (FastAPI is imported here at the top: it resolves
the handlers' annotations from this module's names. Only ``neuralsynth serve`` imports
this module, after checking the serve extra is installed.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from neuralsynth.inference.load import default_timbre
from neuralsynth.serve.limits import ApiError
from neuralsynth.serve.state import VOCODERS, Explorer, bundled_examples, mel_payload

STATIC = Path(__file__).resolve().parent / "static"


class BodyLimit:
    """ASGI middleware: a request body over ``max_bytes`` is refused with 413 before it
    is read, by its Content-Length, or while it streams when it has none."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = int(max_bytes)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            return await _send_error(send, 413, self._message())
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise ApiError(413, self._message())
            return message

        try:
            await self.app(scope, counted, send)
        except ApiError as exc:
            await _send_error(send, exc.status, exc.message)

    def _message(self) -> str:
        return f"the upload is larger than this server accepts ({self.max_bytes:,} bytes)"


async def _send_error(send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def create_app(explorer: Explorer, *, compute_map: bool = True):
    """The FastAPI application over ``explorer``. With ``compute_map`` the map is made
    (or read from its cache) on a thread at start-up; the page polls until it is ready."""
    app = FastAPI(title="neuralsynth timbre explorer", docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.explorer = explorer
    limits = explorer.limits
    app.add_middleware(BodyLimit, max_bytes=limits.max_request_bytes)
    if compute_map:
        explorer.start_map()

    @app.exception_handler(ApiError)
    async def api_error(_request, exc: ApiError):
        return JSONResponse({"error": exc.message}, status_code=exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request, exc):
        message = {404: "no such page or API route", 405: "method not allowed"}.get(
            exc.status_code, str(exc.detail))
        return JSONResponse({"error": message}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request, exc):
        return JSONResponse({"error": "malformed request"}, status_code=422)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/api/model")
    async def model():
        return explorer.describe_model()

    @app.get("/api/map")
    async def timbre_map():
        if explorer.map is not None:
            return {"status": "ready", **explorer.map}
        if explorer.map_error is not None:
            raise ApiError(500, f"the map could not be made: {explorer.map_error}")
        return JSONResponse({"status": "computing"}, status_code=202)

    @app.get("/api/examples/{name}")
    async def example(name: str):
        path = bundled_examples().get(name)        # a name from our list, never a path
        if path is None:
            raise ApiError(404, f"no bundled example '{name[:60]}'; there are: "
                                f"{', '.join(bundled_examples())}")
        return Response(path.read_bytes(), media_type="audio/midi")

    @app.post("/api/midi")
    async def midi_view(request: Request):
        form = await request.form()
        data = await _midi_from(form, limits)
        return await explorer.pool.run(_midi_summary, data)

    @app.post("/api/timbre")
    async def timbre(request: Request):
        form = await request.form()
        spec = _text(form, "spec", required=True)
        return explorer.describe_timbre(spec)

    @app.post("/api/render")
    async def render(request: Request):
        form = await request.form()
        data = await _midi_from(form, limits)
        spec = _text(form, "timbre") or default_timbre(explorer.synth.instruments)
        tracks = [line.strip() for line in _text(form, "tracks").splitlines() if line.strip()]
        if len(tracks) > 64:
            raise ApiError(422, "at most 64 track rules")
        gm = _text(form, "gm").lower() in ("1", "true", "yes", "on")
        vocoder = _text(form, "vocoder") or VOCODERS[0]
        if vocoder not in VOCODERS:
            raise ApiError(422, f"unknown vocoder '{vocoder[:40]}'; choose "
                                f"{' or '.join(VOCODERS)}")
        explorer.check_timbre(spec)                # a bad spec: 422 before any work
        # A finished render is answered at once, without queueing for a worker.
        key = explorer.key(data, spec, tracks, gm, vocoder)
        meta = explorer.cached(key)
        if meta is None:
            key, meta = await explorer.pool.run(explorer.render, data, spec, tracks, gm,
                                                vocoder)
        wav = explorer.renders.wav(key)
        return Response(wav, media_type="audio/wav",
                        headers={"X-Render-Key": key,
                                 "X-Render-Info": json.dumps(meta, ensure_ascii=True)})

    @app.get("/api/renders/{key}.wav")
    async def render_file(key: str):
        wav = explorer.renders.wav(key)
        if wav is None:
            raise ApiError(404, "no such render (renders are kept while the cache has room)")
        return Response(wav, media_type="audio/wav", headers={
            "Content-Disposition": f'attachment; filename="neuralsynth-{key[:12]}.wav"'})

    @app.get("/api/renders/{key}/mel")
    async def render_mel(key: str):
        mel = explorer.renders.mel(key)
        if mel is None:
            raise ApiError(404, "no such render (renders are kept while the cache has room)")
        return mel_payload(mel)

    @app.post("/api/fit")
    async def fit(request: Request):
        form = await request.form()
        upload = form.get("audio")
        if upload is None or not hasattr(upload, "read"):
            raise ApiError(422, "send the recording as the file field 'audio'")
        audio = await _read_file(upload, limits.max_audio_bytes, "recording")
        transcribe = _text(form, "transcribe").lower() in ("1", "true", "yes", "on")
        midi = None if transcribe else await _midi_from(form, limits)
        name = _text(form, "name", required=True)
        adapt = _text(form, "adapt") or "none"
        if adapt not in ("none", "film"):
            raise ApiError(422, "adapt is none or film")
        return await explorer.pool.run(explorer.fit, audio, upload.filename or "", midi,
                                       name, adapt)

    return app


def _text(form, field: str, *, required: bool = False) -> str:
    value = form.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ApiError(422, f"the field '{field}' is missing")
        return ""
    if not isinstance(value, str):
        raise ApiError(422, f"the field '{field}' must be text, not a file")
    if len(value) > 4000:
        raise ApiError(422, f"the field '{field}' is longer than 4000 characters")
    return value.strip()


async def _read_file(upload, max_bytes: int, what: str) -> bytes:
    data = await upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ApiError(413, f"the {what} is larger than this server accepts "
                            f"({max_bytes:,} bytes)")
    if not data:
        raise ApiError(422, f"the {what} is empty")
    return data


async def _midi_from(form, limits) -> bytes:
    """The MIDI of a request: the uploaded file field ``midi``, or the bundled example
    named by the field ``example``."""
    upload = form.get("midi")
    if upload is not None and hasattr(upload, "read"):
        return await _read_file(upload, limits.max_midi_bytes, "MIDI file")
    name = _text(form, "example")
    if name:
        path = bundled_examples().get(name)
        if path is None:
            raise ApiError(422, f"no bundled example '{name[:60]}'")
        return path.read_bytes()
    raise ApiError(422, "send a MIDI file as the field 'midi' (or name a bundled 'example')")


#: Notes sent for the piano roll at most (a picture, not the piece).
_ROLL_NOTES = 20000


def _midi_summary(data: bytes) -> dict[str, Any]:
    """Tracks and notes of a MIDI file for the page's track list and piano roll."""
    from neuralsynth.errors import NeuralsynthError
    from neuralsynth.midi.read import read_midi
    from neuralsynth.midi.tracks import list_tracks

    try:
        pm = read_midi(data)
        tracks = list_tracks(pm)
    except NeuralsynthError as exc:
        raise ApiError(422, str(exc)) from None
    notes = []
    for index, inst in enumerate(pm.instruments):
        if inst.is_drum:
            continue
        for n in inst.notes:
            notes.append([round(float(n.start), 3), round(float(n.end), 3), int(n.pitch),
                          index])
    notes.sort()
    if not notes:
        raise ApiError(422, "the MIDI file has no pitched notes to render")
    return {"duration": round(max(n[1] for n in notes), 3), "n_notes": len(notes),
            "notes": notes[:_ROLL_NOTES],
            "tracks": [{"index": t.index, "name": t.name, "program": t.program,
                        "program_name": t.program_name, "n_notes": t.n_notes,
                        "lowest": t.lowest, "highest": t.highest, "is_drum": t.is_drum}
                       for t in tracks]}


__all__ = ["BodyLimit", "create_app"]
