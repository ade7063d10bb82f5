"""Spectrograms of one recording and of its mel vocoded back: truth / Griffin-Lim / harmonic.

Takes the loudest --seconds of a dataset item, computes its mel, vocodes it with each
vocoder (the harmonic one also gets the item's notes) and draws the 2048-point STFT of
each, 0 to --top Hz, in dB, one above the other. docs/vocoder.md shows the result.

    python benchmarks/vocoder_picture.py --data data/heldout --item etude_7001.grand_piano \\
        --out docs/images/vocoder_spectrograms.png

Exit status: 0 when the picture was written, 2 for bad input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench_common import argument_parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argument_parser(__doc__)
    ap.add_argument("--data", required=True, metavar="DIR", help="dataset directory")
    ap.add_argument("--item", required=True, help="item id (PIECE.INSTRUMENT)")
    ap.add_argument("--out", required=True, type=Path, help="PNG to write")
    ap.add_argument("--seconds", type=float, default=3.0, help="excerpt length (3)")
    ap.add_argument("--top", type=float, default=4000.0, help="highest frequency shown (Hz)")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import torch

    from neuralsynth.audio import spectral as audio
    from neuralsynth.data.manifest import read_manifest
    from neuralsynth.errors import NeuralsynthError
    from neuralsynth.evaluation.cqt import cqt_correlation
    from neuralsynth.evaluation.lsd import log_spectral_distance
    from neuralsynth.evaluation.vocoder_check import loudest_excerpt
    from neuralsynth.fileio import atomic_path
    from neuralsynth.midi.read import load_notes
    from neuralsynth.vocoders.base import VOCODERS
    from neuralsynth.vocoders.score import Score

    try:
        manifest = read_manifest(args.data)
        items = {it.id: it for it in manifest.items}
        if args.item not in items:
            raise NeuralsynthError(f"no item '{args.item}' in {args.data}")
        item = items[args.item]
        wave = audio.read_audio(item.audio)
        notes = load_notes(item.midi)
    except NeuralsynthError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    n = int(args.seconds * audio.SAMPLE_RATE) // audio.HOP_LENGTH * audio.HOP_LENGTH
    start = loudest_excerpt(wave, n)
    mel = audio.mel_spectrogram(wave).numpy()
    f0 = start // audio.HOP_LENGTH
    part = mel[f0:f0 + n // audio.HOP_LENGTH]
    score = Score(notes, mel.shape[0]).excerpt(f0, part.shape[0])
    clip = wave[start:start + n]
    rows = {"original": clip}
    for name in ("griffin_lim", "harmonic"):
        rows[name] = VOCODERS.build({"name": name}).vocode(part, score)[:n]

    fig, axes = plt.subplots(len(rows), 1, figsize=(10, 2.6 * len(rows)), sharex=True)
    for ax, (name, y) in zip(axes, rows.items()):
        x = torch.from_numpy(np.ascontiguousarray(y, np.float32))
        spec = torch.stft(x, 2048, 256, window=torch.hann_window(2048),
                          return_complex=True).abs().numpy()
        db = 20 * np.log10(np.maximum(spec, 1e-5))
        top = int(args.top / (audio.SAMPLE_RATE / 2048))
        ax.imshow(db[:top], origin="lower", aspect="auto", cmap="magma",
                  vmin=db.max() - 90, vmax=db.max(),
                  extent=(0, n / audio.SAMPLE_RATE, 0, top * audio.SAMPLE_RATE / 2048))
        label = name
        if name != "original":
            r = cqt_correlation(y, clip)["mean"]
            label += f"  (log-CQT r {r:.3f}, LSD {log_spectral_distance(y, clip):.1f} dB)"
        ax.set_title(label, fontsize=10, loc="left")
        ax.set_ylabel("Hz")
    axes[-1].set_xlabel("seconds")
    fig.suptitle(f"{args.item}: its own mel, vocoded", fontsize=11)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out) as tmp:
        fig.savefig(tmp, dpi=80, format="png")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
