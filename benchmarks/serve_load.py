"""Load check of the timbre explorer on loopback: N concurrent renders of a short piece.

Starts the server in this process (uvicorn on 127.0.0.1, a free port, the bundled model),
then sends ``--requests`` renders at once from as many client threads, each with its own
timbre (so none is answered from the cache). Reports latency percentiles, the process's
memory before and at its peak, and checks every response: a 200 must be a WAV of the
piece's length that is not silent, a 503 (queue full) must be the JSON busy message.
A second burst repeats the same requests, which the cache answers.

    python benchmarks/serve_load.py --requests 8
    python benchmarks/serve_load.py --requests 24 --queue 8      # a burst beyond the queue
"""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from bench_common import argument_parser, resolve_model, script_main


def parse_args(argv=None):
    ap = argument_parser(__doc__)
    ap.add_argument("--requests", type=int, default=8, help="concurrent renders")
    ap.add_argument("--workers", type=int, default=1, help="server render workers")
    ap.add_argument("--queue", type=int, default=8, help="server queue length")
    ap.add_argument("--seconds", type=float, default=4.0, help="length of the piece")
    ap.add_argument("--vocoder", default="harmonic")
    ap.add_argument("--model", default=None)
    ap.add_argument("--json", action="store_true", help="print one JSON line")
    return ap.parse_args(argv)


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _melody(seconds: float) -> bytes:
    """A seeded two-voice piece of ``seconds``, as MIDI bytes."""
    from neuralsynth.midi.quiet_imports import pretty_midi

    pm_mod = pretty_midi()
    rng = np.random.default_rng(0)
    pm = pm_mod.PrettyMIDI()
    inst = pm_mod.Instrument(program=0)
    t = 0.0
    while t < seconds - 0.3:
        for voice in (48, 67):
            pitch = int(voice + rng.integers(0, 12))
            inst.notes.append(pm_mod.Note(velocity=int(rng.integers(60, 110)), pitch=pitch,
                                          start=t, end=min(seconds, t + 0.45)))
        t += 0.25
    pm.instruments.append(inst)
    buf = io.BytesIO()
    pm.write(buf)
    return buf.getvalue()


def measure(args, work: Path) -> dict:
    import httpx2
    import soundfile as sf
    import uvicorn

    import neuralsynth as ns
    from neuralsynth.serve.app import create_app
    from neuralsynth.serve.limits import Limits
    from neuralsynth.serve.state import Explorer
    midi = _melody(args.seconds)
    synth = ns.load_model(resolve_model(args.model), device="cpu")
    explorer = Explorer(synth, cache_dir=work / "cache", map_grid=8,
                        limits=Limits(workers=args.workers, queue=args.queue))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(explorer, compute_map=False),
                                           host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx2.get(f"{url}/api/model", timeout=5)
            break
        except httpx2.HTTPError:
            time.sleep(0.05)
    rss_before, peak = _rss_mb(), [_rss_mb()]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak.append(_rss_mb())
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    names = synth.instruments
    specs = [f"{names[i % len(names)]}:{0.2 + 0.6 * (i / max(1, args.requests)):.3f},"
             f"{names[(i + 3) % len(names)]}:0.5" for i in range(args.requests)]

    def one(spec: str) -> dict:
        t0 = time.perf_counter()
        r = httpx2.post(f"{url}/api/render", files={"midi": ("m.mid", midi, "audio/midi")},
                        data={"timbre": spec, "vocoder": args.vocoder}, timeout=600)
        took = time.perf_counter() - t0
        ok = False
        if r.status_code == 200:
            audio, rate = sf.read(io.BytesIO(r.content))
            info = json.loads(r.headers["x-render-info"])
            ok = (rate == 16000 and abs(audio.size / rate - info["seconds"]) < 0.01
                  and info["seconds"] >= args.seconds and np.abs(audio).max() > 0.01)
        elif r.status_code == 503:
            ok = "busy" in r.json().get("error", "")
        return {"status": r.status_code, "seconds": took, "ok": ok}

    bursts = {}
    for label in ("fresh", "cached"):
        started = time.perf_counter()
        with ThreadPoolExecutor(args.requests) as pool:
            results = list(pool.map(one, specs))
        wall = time.perf_counter() - started
        lat = np.array([r["seconds"] for r in results if r["status"] == 200])
        bursts[label] = {
            "wall_s": wall, "ok": sum(r["ok"] for r in results), "n": len(results),
            "status": {str(s): sum(r["status"] == s for r in results)
                       for s in sorted({r["status"] for r in results})},
            "p50_s": float(np.percentile(lat, 50)) if lat.size else None,
            "p90_s": float(np.percentile(lat, 90)) if lat.size else None,
            "max_s": float(lat.max()) if lat.size else None}
    stop.set()
    sampler.join()
    server.should_exit = True
    thread.join(timeout=10)
    explorer.close()
    all_ok = all(b["ok"] == b["n"] for b in bursts.values())
    return {"requests": args.requests, "workers": args.workers, "queue": args.queue,
            "piece_s": args.seconds, "vocoder": args.vocoder, "bursts": bursts,
            "rss_before_mb": rss_before, "rss_peak_mb": max(peak),
            "target_met": all_ok}


def print_table(r: dict) -> None:
    print(f"{r['requests']} concurrent renders of a {r['piece_s']:.0f}-s piece "
          f"({r['vocoder']}), {r['workers']} worker(s), queue {r['queue']}, loopback")
    for label, b in r["bursts"].items():
        lat = (f"p50 {b['p50_s']:.2f} s  p90 {b['p90_s']:.2f} s  max {b['max_s']:.2f} s"
               if b["p50_s"] is not None else "no 200s")
        print(f"  {label:7s} {lat}   wall {b['wall_s']:.2f} s   statuses {b['status']}   "
              f"correct {b['ok']}/{b['n']}")
    print(f"  memory  {r['rss_before_mb']:.0f} MB before, {r['rss_peak_mb']:.0f} MB at peak")
    print(f"  every response correct: {'yes' if r['target_met'] else 'NO'}")


def main(argv=None) -> int:
    return script_main(parse_args, measure, print_table, "serve_load_", argv)


if __name__ == "__main__":
    raise SystemExit(main())
