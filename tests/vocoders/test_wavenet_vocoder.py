"""The ``wavenet`` vocoder: block conditioning, chunked streams, joins, rendering."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from neuralsynth.audio.constants import HOP_LENGTH
from neuralsynth.audio.spectral import mu_law_decode
from neuralsynth.cli.main import cli
from neuralsynth.errors import CheckpointError, UsageError
from neuralsynth.inference.render import render_midi
from neuralsynth.vocoders.base import VOCODERS
from neuralsynth.vocoders.wavenet.chunks import Chunk, fade_in, join_chunks, plan_chunks
from neuralsynth.vocoders.wavenet.conditioning import PieceConditioning
from neuralsynth.vocoders.wavenet.vocoder import WaveNetVocoder
from tests.midi_factory import random_melody, write_midi
from tests.wavenet_factory import log_mel, random_walk_model, save_vocoder, tiny_model


@pytest.fixture(scope="module")
def tiny_vocoder(tmp_path_factory):
    return save_vocoder(tmp_path_factory.mktemp("voc") / "tiny.pt", tiny_model(seed=2))


def linear_mel(frames: int, seed: int = 0) -> np.ndarray:
    return np.exp(log_mel(frames, seed=seed)[0].numpy())


# ------------------------------------------------------------------ conditioning
@pytest.mark.parametrize("start, n", [(0, 256), (384, 640), (1920, 256), (-256, 512),
                                      (2304, 512)])
def test_block_conditioning_equals_the_whole_piece(start, n):
    model = tiny_model()
    mel = log_mel(20, seed=3)[0]                               # 2560 samples
    whole = model.conditioning(mel[None])[0].detach().numpy()  # [L, G, 2560]
    block = PieceConditioning(model, mel).block([start], n)[0]  # [n, L, G]
    inside = [i for i in range(n) if 0 <= start + i < 2560]
    np.testing.assert_allclose(block[inside], whole[:, :, [start + i for i in inside]]
                               .transpose(2, 0, 1), atol=1e-5, rtol=0)


# ------------------------------------------------------------------------ chunks
def test_chunk_plan_covers_every_frame_once_with_warmup_and_overlap():
    chunks = plan_chunks(1000, 8, warmup=16, overlap=2, min_frames=100)
    assert len(chunks) == 8
    assert chunks[0].own_start == 0 and chunks[-1].own_end == 1000
    for a, b in zip(chunks, chunks[1:]):
        assert a.own_end == b.own_start
        assert b.start == b.own_start - 16 and a.end == a.own_end + 2
    assert chunks[0].start == 0 and chunks[-1].end == 1000
    # Short pieces get fewer, longer chunks; empty ones none.
    assert len(plan_chunks(250, 8, warmup=16, overlap=2, min_frames=100)) == 2
    assert plan_chunks(0, 8, warmup=16, overlap=2) == []


def test_join_cross_fades_and_keeps_constant_signals_constant():
    chunks = [Chunk(0, 4, 0, 6), Chunk(4, 8, 2, 8)]
    hop = 4
    waves = [np.full(24, 0.5, np.float32), np.full(24, 0.5, np.float32)]
    np.testing.assert_allclose(join_chunks(waves, chunks, hop), 0.5, atol=1e-7)
    ramp = fade_in(8)
    assert np.all(np.diff(ramp) > 0) and 0 < ramp[0] < ramp[-1] < 1
    np.testing.assert_allclose(ramp + ramp[::-1], 1.0, atol=1e-6)   # fades sum to one
    waves = [np.zeros(24, np.float32), np.ones(24, np.float32)]
    out = join_chunks(waves, chunks, hop)
    assert np.all(out[:16] == 0) and np.all(out[24:] == 1)
    np.testing.assert_allclose(out[16:24], ramp, atol=1e-7)           # 0 → 1 smoothly


# ----------------------------------------------------------------------- vocoder
def build(checkpoint, **options) -> WaveNetVocoder:
    return VOCODERS.build({"name": "wavenet", "checkpoint": str(checkpoint), **options})


def test_vocoder_length_determinism_and_seed(tiny_vocoder, monkeypatch):
    monkeypatch.setattr(WaveNetVocoder, "MIN_CHUNK_FRAMES", 8)
    mel = linear_mel(37)
    voc = build(tiny_vocoder, kernel="cpu", streams=3, precision="fp32")
    a = voc.synthesize(mel)
    assert a.shape == (37 * HOP_LENGTH,) and a.dtype == np.float32
    assert np.abs(a).max() <= 1.0 and a.std() > 1e-3
    assert np.array_equal(a, voc.synthesize(mel))
    assert not np.array_equal(a, build(tiny_vocoder, kernel="cpu", streams=3,
                                       precision="fp32", seed=1).synthesize(mel))
    assert voc.synthesize(np.zeros((0, 80), np.float32)).shape == (0,)


def test_cpu_and_reference_kernels_render_the_same_audio(tiny_vocoder, monkeypatch):
    monkeypatch.setattr(WaveNetVocoder, "MIN_CHUNK_FRAMES", 8)
    mel = linear_mel(30, seed=4)
    ref = build(tiny_vocoder, kernel="reference", streams=2).synthesize(mel)
    cpu = build(tiny_vocoder, kernel="cpu", streams=2, precision="fp32").synthesize(mel)
    assert np.array_equal(ref, cpu)


def test_chunked_render_has_no_clicks_at_the_joins(tmp_path, monkeypatch):
    """A smooth (random-walk) model: joins must look like any other sample step."""
    monkeypatch.setattr(WaveNetVocoder, "MIN_CHUNK_FRAMES", 10)
    ckpt = save_vocoder(tmp_path / "walk.pt", random_walk_model())
    mel = linear_mel(80)
    voc = build(ckpt, kernel="cpu", streams=8, precision="fp32")

    def jumps(wave):
        chunks = plan_chunks(80, 8, warmup=voc.warmup_frames, overlap=voc.OVERLAP_FRAMES,
                             min_frames=10)
        steps = np.abs(np.diff(wave))
        at_joins = np.array([steps[c.own_start * HOP_LENGTH - 1] for c in chunks[1:]])
        inside = np.delete(steps, [c.own_start * HOP_LENGTH - 1 for c in chunks[1:]])
        return at_joins, inside

    at_joins, inside = jumps(voc.synthesize(mel))
    assert at_joins.max() <= inside.max()
    # Without the cross-fade the same streams meet with a jump: the test can fail.
    monkeypatch.setattr(WaveNetVocoder, "OVERLAP_FRAMES", 0)
    at_joins, inside = jumps(voc.synthesize(mel))
    assert at_joins.max() > 2 * inside.max()


def test_random_walk_model_walks():
    """The click test's model really is smooth: steps of a few classes at most."""
    from neuralsynth.vocoders.wavenet import export_weights
    from neuralsynth.vocoders.wavenet.engines import ReferenceEngine

    model = random_walk_model()
    cond = np.zeros((1, 1, 64, 500), np.float32)
    s, _ = ReferenceEngine(export_weights(model)).generate(
        cond[0], np.random.default_rng(0).random(500))
    assert np.abs(np.diff(s)).max() <= 3 and len(np.unique(s)) > 5
    assert np.isfinite(mu_law_decode(s, mu=31)).all()


# ------------------------------------------------------------------------ errors
def test_wavenet_needs_a_checkpoint():
    with pytest.raises(UsageError, match="--vocoder-model"):
        VOCODERS.build({"name": "wavenet"})


def test_a_mel2mel_checkpoint_is_not_a_vocoder(untrained_ckpt):
    with pytest.raises(CheckpointError, match="not a trained wavenet vocoder"):
        build(untrained_ckpt)


def test_kernel_choice_is_checked(tiny_vocoder):
    from neuralsynth.errors import RecipeError

    with pytest.raises(RecipeError, match="kernel"):
        build(tiny_vocoder, kernel="gpu")


# ------------------------------------------------------------------------ render
@pytest.fixture(scope="module")
def short_midi(tmp_path_factory):
    return write_midi(tmp_path_factory.mktemp("midi") / "m.mid",
                      random_melody(5, seconds=0.6, polyphony=1))


def test_render_cli_with_vocoder_model(tmp_path, untrained_ckpt, tiny_vocoder, short_midi):
    out = tmp_path / "wn.wav"
    result = CliRunner().invoke(cli, ["render", str(short_midi), "-o", str(out), "--model",
                                      str(untrained_ckpt), "--vocoder-model",
                                      str(tiny_vocoder), "--tail", "0.2", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "vocoder wavenet" in result.stdout
    wave, sr = sf.read(str(out), dtype="float32")
    # Same as the library call with the same vocoder settings.
    render_midi(short_midi, tmp_path / "lib.wav", model_path=untrained_ckpt,
                vocoder={"name": "wavenet", "checkpoint": str(tiny_vocoder)}, tail_seconds=0.2)
    lib, _ = sf.read(str(tmp_path / "lib.wav"), dtype="float32")
    assert sr == 16000 and np.array_equal(wave, lib) and wave.std() > 0


@pytest.mark.parametrize("args, needle", [
    (["--vocoder-model", "missing.pt"], "vocoder model missing.pt not found"),
    (["--vocoder", "griffin_lim", "--vocoder-model", "{voc}"], "cannot be used with"),
    (["--vocoder", "wavenet"], "needs a trained model"),
    (["--vocoder-model", "{ckpt}"], "not a trained wavenet vocoder"),
    (["--vocoder-model", "{voc}", "--vocoder-opt", "kernel=tpu"], "kernel"),
])
def test_render_cli_vocoder_errors(tmp_path, untrained_ckpt, tiny_vocoder, short_midi, args,
                                   needle):
    out = tmp_path / "o.wav"
    args = [a.format(voc=tiny_vocoder, ckpt=untrained_ckpt) for a in args]
    result = CliRunner().invoke(cli, ["render", str(short_midi), "-o", str(out), "--model",
                                      str(untrained_ckpt), *args])
    assert result.exit_code != 0
    assert needle in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not out.exists()


def test_a_vocoder_is_not_a_mel2mel_model(tmp_path, tiny_vocoder, short_midi):
    from neuralsynth.inference.load import load_trained_model

    with pytest.raises(CheckpointError, match="is a trained vocoder.*--vocoder-model"):
        load_trained_model(tiny_vocoder)
    out = tmp_path / "o.wav"
    result = CliRunner().invoke(cli, ["render", str(short_midi), "-o", str(out), "--model",
                                      str(tiny_vocoder)])
    assert result.exit_code != 0 and "is a trained vocoder" in result.output
    assert len(result.output.strip().splitlines()) == 1 and not out.exists()


def test_auto_kernel_is_cuda_only_with_a_gpu(tiny_vocoder):
    from neuralsynth.vocoders.wavenet.engines.cuda import cuda_available

    voc = build(tiny_vocoder)                       # kernel: auto
    assert voc.engine.name == ("cuda" if cuda_available() else "cpu")


def test_cuda_kernel_without_a_gpu_is_one_line(tiny_vocoder):
    from neuralsynth.vocoders.wavenet.engines.cuda import cuda_available

    if cuda_available():
        pytest.skip("a GPU is present")
    with pytest.raises(UsageError, match="no CUDA GPU") as info:
        build(tiny_vocoder, kernel="cuda")
    assert "\n" not in str(info.value)
