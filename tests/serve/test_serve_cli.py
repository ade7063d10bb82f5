"""``neuralsynth serve`` as users start it: a real process on a real port."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

pytest.importorskip("uvicorn", reason="the serve extra is not installed")

from tests.installed import neuralsynth_command  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_answers_and_warns_off_loopback(tmp_path):
    port = _free_port()
    proc = subprocess.Popen([neuralsynth_command(), "serve", "--host", "0.0.0.0",
                             "--port", str(port), "--cache-dir", str(tmp_path),
                             "--map-grid", "8"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        model = None
        for _ in range(240):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/model",
                                            timeout=2) as r:
                    model = json.loads(r.read())
                break
            except OSError:
                if proc.poll() is not None:
                    break
                time.sleep(0.25)
        assert model is not None, proc.stderr.read() if proc.poll() is not None else ""
        assert model["instruments"][0]["name"] == "grand_piano"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
            assert r.headers["content-type"].startswith("text/html")
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "warning: listening on 0.0.0.0" in err and "Traceback" not in err
    assert f":{port}/" in out


def test_bad_host_is_one_line():
    proc = subprocess.run([neuralsynth_command(), "serve", "--host", "my laptop"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: --host 'my laptop' is not an IP address (e.g. 127.0.0.1, or 0.0.0.0 for "
        "every interface)"]
