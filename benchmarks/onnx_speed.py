"""ONNX export: parity with torch and speed of both, on the Mel2Mel network alone.

Exports the model (bundled by default) with ``neuralsynth export --format onnx``'s code,
then predicts the log mel of a real piece (the piano roll of a bundled étude, repeated
to ``--seconds``) with a static mix and with a morph, in torch and in onnxruntime on the
CPU, and prints the largest difference (target < 1e-4) and each runtime's speed in
seconds of music per second.

    python benchmarks/onnx_speed.py --seconds 120
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from bench_common import argument_parser, resolve_model, script_main


def parse_args(argv=None):
    ap = argument_parser(__doc__)
    ap.add_argument("--model", default=None)
    ap.add_argument("--seconds", type=float, default=120.0, help="length of the piece")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs (best is kept)")
    ap.add_argument("--json", action="store_true", help="print one JSON line")
    return ap.parse_args(argv)


def measure(args, work: Path) -> dict:
    import onnxruntime as ort
    import torch

    import neuralsynth as ns
    from neuralsynth.inference.onnx_export import export_onnx
    from neuralsynth.midi.read import load_notes

    model_path = resolve_model(args.model)
    onnx_path = export_onnx(model_path, work / "model.onnx")
    synth = ns.load_model(model_path, device="cpu")
    model = synth.model
    etude = Path(model_path).parents[1] / "examples" / "etude_1.mid"
    if not etude.is_file():
        etude = Path(ns.__file__).parent / "assets" / "examples" / "etude_1.mid"
    notes = load_notes(etude)
    one = model.encoder.encode(notes, model.encoder.frames_for(notes.duration))
    frames = model.encoder.frames_for(args.seconds)
    reps = -(-frames // one.shape[0])
    x = torch.from_numpy(np.ascontiguousarray(np.tile(one, (reps, 1))[:frames],
                                              np.float32)).unsqueeze(0)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    rows = {}
    for label, spec in (("mix", "piano:0.3,organ:0.7"),
                        ("morph", f"piano@0s,trumpet@{args.seconds:g}s")):
        t = synth.timbre(spec).trajectory(model, frames).detach().float().unsqueeze(0)
        torch_s, onnx_s = [], []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            with torch.inference_mode():
                ref = model(x, t).numpy()
            torch_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            got = session.run(["log_mel"], {"pianoroll": x.numpy(), "timbre": t.numpy()})[0]
            onnx_s.append(time.perf_counter() - t0)
        rows[label] = {"max_abs_diff": float(np.abs(got - ref).max()),
                       "torch_x": args.seconds / min(torch_s),
                       "onnx_x": args.seconds / min(onnx_s)}
    worst = max(r["max_abs_diff"] for r in rows.values())
    return {"seconds": args.seconds, "frames": frames, "threads": torch.get_num_threads(),
            "rows": rows, "file_mb": onnx_path.stat().st_size / 1e6,
            "max_abs_diff": worst, "ratio_to_target": 1e-4 / max(worst, 1e-12),
            "target_met": worst < 1e-4}


def print_table(r: dict) -> None:
    print(f"Mel2Mel network, {r['seconds']:.0f} s piece ({r['frames']} frames), CPU, "
          f"{r['threads']} torch threads; ONNX file {r['file_mb']:.2f} MB")
    print(f"  {'timbre':6s} {'max |onnx - torch|':>20s} {'torch':>14s} {'onnxruntime':>14s}")
    for label, row in r["rows"].items():
        print(f"  {label:6s} {row['max_abs_diff']:20.2e} {row['torch_x']:11.0f} x rt "
              f"{row['onnx_x']:11.0f} x rt")
    print(f"  target: difference < 1e-4; ratio {r['ratio_to_target']:.0f} "
          f"{'OK' if r['target_met'] else 'BELOW TARGET'}")


def main(argv=None) -> int:
    return script_main(parse_args, measure, print_table, "onnx_speed_", argv)


if __name__ == "__main__":
    raise SystemExit(main())
