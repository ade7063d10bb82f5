"""Two-pass mastering (neuralsynth.audio.master) and the Audio API on top of it."""

from __future__ import annotations

import io
import math
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from neuralsynth.audio.clip import Audio
from neuralsynth.audio.loudness import integrated_loudness
from neuralsynth.audio.master import Master, normalize
from neuralsynth.audio.output import output_frames, output_spec
from neuralsynth.errors import AudioError, UsageError
from tests.audio.signals import folder_listing, music

SR = 16000
CEILING = 10 ** (-1 / 20)


def _spiky(level: float = 0.3) -> np.ndarray:
    """Music with a few sharp clicks: normalising it needs the limiter."""
    x = music(4.0, SR, level=level, seed=3)
    for at in (8000, 30000, 50000):
        x[at:at + 3] = [level * 3, -level * 3.3, level * 2]
    return x


def _master(spec, x: np.ndarray, block: int = SR, **kw):
    with Master(spec, **kw) as m:
        for start in range(0, x.size, block):
            m.feed(x[start:start + block])
        return m.finish()


@pytest.mark.parametrize("x", [music(4.0, SR, level=0.02), music(4.0, SR, level=1.5),
                               _spiky()], ids=["quiet", "loud", "spiky"])
def test_normalize_reaches_the_target_under_the_ceiling(x):
    y, report = normalize(x, SR)
    assert y.dtype == np.float32 and y.shape == x.shape
    assert integrated_loudness(y, SR) == pytest.approx(-16.0, abs=0.1)
    assert np.abs(y).max() <= CEILING
    assert report.input_loudness == integrated_loudness(x, SR)
    assert report.output_loudness == integrated_loudness(y, SR)       # the second meter
    plain_gain = -16.0 - report.input_loudness
    if report.limited:        # the gain also makes up for what the limiter took
        assert plain_gain < report.gain_db < plain_gain + 2
    else:
        assert report.gain_db == pytest.approx(plain_gain)
    assert report.peak_dbfs <= -1.0 and report.n_frames == x.size and report.path is None


def test_the_limiter_runs_only_when_needed():
    _, plain = normalize(music(4.0, SR, level=0.02), SR)
    assert not plain.limited and plain.max_reduction_db == 0.0
    _, spiky = normalize(_spiky(), SR)
    assert spiky.limited and spiky.max_reduction_db > 1.0


@pytest.mark.parametrize("name, rate, depth", [("a.wav", 16000, "16"),
                                               ("b.flac", 48000, "24"),
                                               ("c.wav", 44100, "float")])
def test_master_file_equals_audio_write_of_normalize(tmp_path, name, rate, depth):
    x = _spiky()
    spec = output_spec(tmp_path / "m" / name, sample_rate=rate, bit_depth=depth)
    report = _master(spec, x, block=777)
    assert report.n_frames == output_frames(x.size, SR, rate) == sf.info(str(spec.path)).frames
    normalized = Audio(x, SR).normalized()
    api = normalized.write(tmp_path / "n" / name, sample_rate=rate, bit_depth=depth)
    assert api.read_bytes() == spec.path.read_bytes()
    # Normalising inside write is the same thing again.
    direct = Audio(x, SR).write(tmp_path / "d" / name, sample_rate=rate, bit_depth=depth,
                                loudness=-16.0)
    assert direct.read_bytes() == spec.path.read_bytes()
    assert normalized.info["master"] == report.__class__(
        **{**report.__dict__, "n_frames": x.size, "sample_rate": SR, "path": None})


def test_master_output_does_not_depend_on_the_feed_blocks(tmp_path):
    x = _spiky()
    files = []
    for block in (SR, 1, 4097):
        spec = output_spec(tmp_path / f"{block}.wav", bit_depth="float")
        _master(spec, x[:20000] if block == 1 else x, block=block)
        files.append(spec.path)
    spec = output_spec(tmp_path / "ref.wav", bit_depth="float")
    _master(spec, x[:20000], block=SR)
    assert files[1].read_bytes() == spec.path.read_bytes()
    assert files[0].read_bytes() == files[2].read_bytes()


@pytest.mark.parametrize("x", [np.zeros(SR * 2, np.float32),
                               np.full(SR * 2, 3e-6, np.float32)], ids=["zeros", "-110dB"])
def test_a_silent_render_is_an_error_and_writes_nothing(tmp_path, x):
    out = tmp_path / "x.wav"
    out.write_bytes(b"old")
    with pytest.raises(AudioError, match=r"^the render is silent \(peak .*\); nothing was "
                                         r"written$"):
        _master(output_spec(out), x)
    assert out.read_bytes() == b"old" and folder_listing(tmp_path) == ["x.wav"]
    with pytest.raises(AudioError, match="silent"):
        Audio(x, SR).normalized()
    with pytest.raises(AudioError, match="silent"):
        Audio(x, SR).write(tmp_path / "y.wav")
    assert folder_listing(tmp_path) == ["x.wav"]


def test_nan_is_refused_at_once(tmp_path):
    m = Master(output_spec(tmp_path / "x.wav"))
    m.feed(music(1.0, SR))
    bad = music(1.0, SR)
    bad[8000] = np.nan
    with pytest.raises(AudioError, match=r"NaN or infinite samples \(first at 1\.500 s\)"):
        m.feed(bad)
    with pytest.raises(RuntimeError):
        m.feed(music(1.0, SR))
    assert folder_listing(tmp_path) == []


def test_loudness_off_keeps_the_samples_and_only_guards_the_ceiling(tmp_path):
    x = music(2.0, SR, level=0.5)
    spec = output_spec(tmp_path / "a.wav", bit_depth="float")
    report = _master(spec, x, loudness=None)
    assert report.gain_db == 0.0 and not report.limited
    assert np.array_equal(sf.read(str(spec.path), dtype="float32")[0], x)
    # Over the ceiling: limited (not scaled as a whole, not clipped).
    hot = music(2.0, SR, level=1.3)
    spec = output_spec(tmp_path / "b.wav", bit_depth="float")
    report = _master(spec, hot, loudness=None)
    y = sf.read(str(spec.path), dtype="float32")[0]
    assert report.limited and np.abs(y).max() <= CEILING
    # Away from the peaks the gain is back near 1 (scaling it all would give 0.69).
    quiet_part = np.abs(hot) > 0.01
    assert np.median(y[quiet_part] / hot[quiet_part]) > 0.9
    # Audio.write without loudness: samples as they are, peaks over 0 dBFS limited.
    Audio(x, SR).write(tmp_path / "c.wav", bit_depth="float")
    assert np.array_equal(sf.read(str(tmp_path / "c.wav"), dtype="float32")[0], x)
    Audio(hot, SR).write(tmp_path / "d.wav", bit_depth="float")
    assert np.abs(sf.read(str(tmp_path / "d.wav"), dtype="float32")[0]).max() <= 1.0


def test_aborting_leaves_nothing(tmp_path):
    out = tmp_path / "x.wav"
    out.write_bytes(b"old")
    with pytest.raises(KeyError):
        with Master(output_spec(out)) as m:
            m.feed(music(1.0, SR))
            raise KeyError("crash mid-render")
    with Master(output_spec(out)) as m:         # left without finish(): nothing either
        m.feed(music(1.0, SR))
    assert out.read_bytes() == b"old" and folder_listing(tmp_path) == ["x.wav"]


def test_path_and_level_problems_come_before_any_work(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(UsageError, match="is a file, not a folder"):
        Master(output_spec(tmp_path / "f" / "x.wav"))
    for kw, needle in [({"loudness": 3.0}, "loudness must be"),
                       ({"loudness": "loud"}, "loudness must be"),
                       ({"loudness": -90.0}, "loudness must be"),
                       ({"ceiling_db": 2.0}, "peak ceiling must be")]:
        with pytest.raises(UsageError, match=needle):
            Master(output_spec(tmp_path / "x.wav"), **kw)
    assert folder_listing(tmp_path) == ["f"]


def test_a_full_disk_while_spooling(tmpfs):
    small = tmpfs(size="64k")
    rng = np.random.default_rng(0)
    with pytest.raises(AudioError, match=r"^disk full: cannot write '.*x\.wav'$"):
        with Master(output_spec(small / "x.wav")) as m:
            for _ in range(4):
                m.feed((0.1 * rng.standard_normal(SR)).astype(np.float32))
            m.finish()
    assert folder_listing(small) == []


def test_memory_does_not_grow_with_the_length(tmp_path):
    block = music(1.0, SR, level=0.05)

    def run(seconds: int) -> tuple[int, int]:
        spec = output_spec(tmp_path / "long.flac", sample_rate=44100)
        tracemalloc.start()
        try:
            with Master(spec) as m:
                for _ in range(seconds):
                    m.feed(block)
                report = m.finish()
            return tracemalloc.get_traced_memory()[1], report.n_frames
        finally:
            tracemalloc.stop()

    run(2)                       # imports and compiled kernels loaded outside the count
    short, _ = run(30)
    long, frames = run(180)      # 11.5 MB of float32 if it were held, 32 MB at 44.1 kHz
    assert frames == 180 * 44100
    assert long < 3_000_000 and long - short < 200_000, (short, long)


def test_audio_api(tmp_path):
    x = music(3.0, SR, level=0.05)
    a = Audio(x, SR, {"timbre": "piano"})
    assert a.loudness == integrated_loudness(x, SR) < -25
    n = a.normalized(loudness=-20.0, ceiling_db=-3.0)
    assert n.loudness == pytest.approx(-20.0, abs=0.1)
    assert np.abs(n.samples).max() <= 10 ** (-3 / 20)
    assert n.info["timbre"] == "piano" and n.info["master"].output_loudness == n.loudness
    assert a.write(tmp_path / "x.ogg") == tmp_path / "x.ogg"
    assert sf.info(str(tmp_path / "x.ogg")).subtype == "VORBIS"
    with pytest.raises(UsageError, match="must end in .wav"):
        a.write(tmp_path / "x.mp3")
    with pytest.raises(UsageError, match="Ogg Vorbis has no bit depth"):
        a.write(tmp_path / "y.ogg", bit_depth="24")
    assert not math.isnan(n.loudness)


def test_audio_write_to_stdout(tmp_path):
    code = ("import sys, numpy as np; from neuralsynth.audio.clip import Audio; "
            "Audio(np.load(sys.argv[1]), 16000).write('-', sample_rate=22050, "
            "loudness=-16.0)")
    x = music(1.5, SR, level=0.05)
    np.save(tmp_path / "x.npy", x)
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "x.npy")],
                          capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    y, sr = sf.read(io.BytesIO(proc.stdout), dtype="float32")
    Audio(x, SR).write(tmp_path / "f.wav", sample_rate=22050, loudness=-16.0)
    assert sr == 22050 and np.array_equal(y, sf.read(str(tmp_path / "f.wav"),
                                                     dtype="float32")[0])
