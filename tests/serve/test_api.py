"""The explorer's JSON API through an HTTP client: what the page and scripts rely on,
and that bad requests get the right status and a readable one-line message while the
server keeps serving."""

from __future__ import annotations

import io
import json
import time

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("fastapi", reason="the serve extra is not installed")
from fastapi.testclient import TestClient  # noqa: E402

import neuralsynth as ns  # noqa: E402
from neuralsynth.serve.app import create_app  # noqa: E402
from neuralsynth.serve.limits import Limits  # noqa: E402
from neuralsynth.serve.state import Explorer  # noqa: E402
from tests.midi_factory import random_melody, write_midi  # noqa: E402


@pytest.fixture(scope="module")
def explorer(tmp_path_factory):
    ex = Explorer(ns.load_model(device="cpu"), cache_dir=tmp_path_factory.mktemp("cache"),
                  limits=Limits(max_piece_seconds=60.0, max_midi_bytes=200_000,
                                max_audio_bytes=3_000_000),
                  map_grid=12)
    yield ex
    ex.close()


@pytest.fixture(scope="module")
def client(explorer):
    with TestClient(create_app(explorer)) as c:
        for _ in range(120):                       # the map is made on a thread
            if c.get("/api/map").status_code == 200:
                break
            time.sleep(0.5)
        yield c


def _error(response, status: int) -> str:
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"error"} and "\n" not in body["error"] and body["error"]
    return body["error"]


def test_model_and_map(client):
    model = client.get("/api/model").json()
    names = [i["name"] for i in model["instruments"]]
    assert names[0] == "grand_piano" and len(names) == 10 and model["map"] == "ready"
    assert all(len(i["coords"]) == 2 and i["xy"] == i["coords"] for i in model["instruments"])
    assert "etude_1.mid" in model["examples"] and model["vocoders"][0] == "harmonic"
    m = client.get("/api/map").json()
    assert m["status"] == "ready" and m["kind"] == "map" and m["grid"] == 12
    centroid = np.asarray(m["centroid_hz"])
    assert centroid.shape == (12, 12) and np.all(np.isfinite(centroid))
    assert centroid.std() > 10.0                   # the space is not one colour
    # The grid spans the instruments.
    xs = np.asarray(m["xs"])
    coords = np.asarray([i["coords"] for i in model["instruments"]])
    assert xs.min() < coords[:, 0].min() and xs.max() > coords[:, 0].max()


def test_timbre_points_and_paths(client):
    mix = client.post("/api/timbre", data={"spec": "piano:0.3,organ:0.7"}).json()
    assert mix["static"] and mix["mix"] == {"church_organ": 0.7, "grand_piano": 0.3}
    assert mix["nearest"][0][0] == "church_organ"
    path = client.post("/api/timbre", data={"spec": "piano@0s,xy:0.1;0.2@8s"}).json()
    assert not path["static"]
    assert [k["seconds"] for k in path["keyframes"]] == [0.0, 8.0]
    assert path["keyframes"][1]["xy"] == [0.1, 0.2]
    assert "pian'" in _error(client.post("/api/timbre", data={"spec": "pian"}), 422)
    assert "'spec'" in _error(client.post("/api/timbre", data={}), 422)


def test_midi_view_lists_tracks_and_notes(client):
    view = client.post("/api/midi", data={"example": "quartet.mid"}).json()
    assert len(view["tracks"]) == 5 and view["tracks"][4]["is_drum"]
    assert view["n_notes"] == 161 and len(view["notes"]) == 161
    assert all(len(n) == 4 and n[0] < n[1] for n in view["notes"])


def test_render_plays_and_is_cached(client):
    form = {"example": "etude_1.mid", "timbre": "piano:0.3,organ:0.7",
            "vocoder": "harmonic"}
    first = client.post("/api/render", data=form)
    assert first.status_code == 200 and first.headers["content-type"] == "audio/wav"
    info = json.loads(first.headers["x-render-info"])
    assert not info["cached"] and info["timbre"] == "grand_piano 30% + church_organ 70%"
    audio, rate = sf.read(io.BytesIO(first.content))
    assert rate == 16000 and abs(info["seconds"] - audio.size / rate) < 0.01
    assert 0.05 < np.abs(audio).max() <= 1.0
    again = client.post("/api/render", data=form)
    assert json.loads(again.headers["x-render-info"])["cached"]
    assert again.content == first.content
    key = first.headers["x-render-key"]
    mel = client.get(f"/api/renders/{key}/mel").json()
    assert mel["mels"] == 80
    assert abs(mel["frames"] * mel["frame_seconds"] - audio.size / rate) < 0.05
    download = client.get(f"/api/renders/{key}.wav")
    assert download.content == first.content and "attachment" in download.headers[
        "content-disposition"]


def test_uploads_and_track_rules(client, tmp_path):
    midi = write_midi(tmp_path / "m.mid", random_melody(5, seconds=4.0))
    r = client.post("/api/render", files={"midi": ("m.mid", midi.read_bytes(), "audio/midi")},
                    data={"timbre": "trumpet", "tracks": "0=organ\n",
                          "vocoder": "griffin_lim"})
    assert r.status_code == 200, r.text
    info = json.loads(r.headers["x-render-info"])
    assert info["vocoder"] == "griffin_lim" and "-> organ" in info["tracks"][0]


@pytest.mark.parametrize("files, data, status, needle", [
    ({"midi": ("e.mid", b"", "audio/midi")}, {}, 422, "empty"),
    ({"midi": ("r.mid", bytes(range(256)) * 8, "audio/midi")}, {}, 422, "not a MIDI file"),
    ({"midi": ("big.mid", b"MThd" + b"\0" * 300_000, "audio/midi")}, {}, 413, "larger"),
    (None, {"example": "etude_1.mid", "timbre": "kazoo"}, 422, "unknown instrument 'kazoo'"),
    (None, {"example": "../models/default.pt"}, 422, "no bundled example"),
    (None, {"example": "etude_1.mid", "vocoder": "wavenet_big"}, 422, "unknown vocoder"),
    (None, {}, 422, "send a MIDI file"),
])
def test_bad_renders_get_a_status_and_one_line(client, files, data, status, needle):
    message = _error(client.post("/api/render", files=files, data=data), status)
    assert needle in message
    assert client.get("/api/model").status_code == 200       # still serving


def test_too_long_and_oversized_bodies(client, tmp_path):
    long = write_midi(tmp_path / "long.mid", random_melody(3, seconds=90.0))
    message = _error(client.post("/api/render", files={
        "midi": ("long.mid", long.read_bytes(), "audio/midi")}), 422)
    assert "lasts 9" in message and "up to 60 s" in message
    # A body over the request limit is refused from its Content-Length, unread.
    huge = b"0" * (3_000_000 + 300_000)
    message = _error(client.post("/api/fit", files={"audio": ("a.wav", huge, "audio/wav")},
                                 data={"name": "x"}), 413)
    assert "larger than this server accepts" in message


def test_no_client_path_reaches_the_file_system(client):
    assert client.get("/api/examples/etude_1.mid").content[:4] == b"MThd"
    for bad in ("..%2Fmodels%2Fdefault.pt", "%2Fetc%2Fpasswd", "quartet"):
        assert client.get(f"/api/examples/{bad}").status_code == 404
    assert client.get("/api/renders/" + "a" * 64 + ".wav").status_code == 404
    assert client.get("/api/renders/..%2F..%2Fetc%2Fpasswd/mel").status_code == 404
    assert client.get("/static/../app.py").status_code == 404
    _error(client.get("/no/such/route"), 404)


def test_fit_adds_an_instrument(explorer, client, tmp_path):
    synth = explorer.synth
    before = client.get("/api/model").json()["model_id"]
    midi = write_midi(tmp_path / "f.mid", random_melody(9, seconds=6.0))
    audio = synth.render(midi, "trumpet", vocoder="harmonic", loudness=None).samples
    buf = io.BytesIO()
    sf.write(buf, audio, 16000, format="WAV")
    r = client.post("/api/fit", files={"audio": ("horn.wav", buf.getvalue(), "audio/wav"),
                                       "midi": ("f.mid", midi.read_bytes(), "audio/midi")},
                    data={"name": "my_horn", "adapt": "none"})
    assert r.status_code == 200, r.text
    fit = r.json()
    assert fit["name"] == "my_horn" and fit["nearest"][0][0] == "trumpet"
    model = client.get("/api/model").json()
    assert model["instruments"][-1]["name"] == "my_horn" and model["model_id"] != before
    mixed = client.post("/api/render", data={"example": "etude_1.mid",
                                             "timbre": "my_horn:0.5,organ:0.5"})
    assert mixed.status_code == 200
    taken = client.post("/api/fit", files={"audio": ("h.wav", buf.getvalue(), "audio/wav"),
                                           "midi": ("f.mid", midi.read_bytes(), "audio/midi")},
                        data={"name": "my_horn"})
    assert "is taken" in _error(taken, 422)
    junk = client.post("/api/fit", files={"audio": ("j.wav", b"not audio", "audio/wav"),
                                          "midi": ("f.mid", midi.read_bytes(), "audio/midi")},
                       data={"name": "junk"})
    assert "cannot be read" in _error(junk, 422)


def test_a_space_of_three_dimensions_is_projected(tmp_path):
    from tests.model_factory import make_checkpoint

    path = make_checkpoint(tmp_path / "m3.pt", embedding_dim=3)
    ex = Explorer(ns.load_model(path, device="cpu"), cache_dir=tmp_path / "cache")
    try:
        ex.compute_map()
        assert ex.map_error is None and ex.map["kind"] == "projection"
        with TestClient(create_app(ex, compute_map=False)) as c:
            m = c.get("/api/map").json()
            points = np.asarray(m["points"])
            assert points.shape[1] == 2 and len(m["centroid_hz"]) == points.shape[0]
            assert np.asarray(m["axes"]).shape == (3, 2)
            model = c.get("/api/model").json()
            assert all(len(i["coords"]) == 3 and len(i["xy"]) == 2
                       for i in model["instruments"])
            # A point picked on the plane is a point of the space: mean + axes @ xy.
            xy = np.asarray(model["instruments"][0]["xy"])
            back = np.asarray(m["mean"]) + np.asarray(m["axes"]) @ xy
            spec = "xy:" + ",".join(f"{v:.5f}" for v in back)
            r = c.post("/api/timbre", data={"spec": spec}).json()
            assert np.allclose(r["keyframes"][0]["xy"], xy, atol=1e-3)
        # The map is cached on disk: a second explorer reads it, computing nothing.
        again = Explorer(ex.synth, cache_dir=tmp_path / "cache")
        again.compute_map()
        assert again.map == ex.map
    finally:
        ex.close()
