"""Output formats, path checks and the streaming writer (neuralsynth.audio.output)."""

from __future__ import annotations

import errno
import io
import os
import subprocess
import sys
import wave

import numpy as np
import pytest
import soundfile as sf
import soxr

from neuralsynth.audio.output import (
    AudioFileWriter,
    OutputSpec,
    check_output_path,
    output_frames,
    output_spec,
)
from neuralsynth.errors import AudioError, NeuralsynthError, UsageError
from tests.audio.signals import folder_listing, sine

FORMATS = [("wav", "16", "PCM_16"), ("wav", "24", "PCM_24"), ("wav", "float", "FLOAT"),
           ("flac", "16", "PCM_16"), ("flac", "24", "PCM_24"), ("ogg", None, "VORBIS")]
RATES = (16000, 22050, 44100, 48000)


def _write(spec: OutputSpec, x: np.ndarray, sizes=(1000, 1, 4097, 333)) -> None:
    """Through the writer in uneven blocks, as a render would feed it."""
    with AudioFileWriter(spec, source_rate=16000) as w:
        start, i = 0, 0
        while start < x.size:
            size = sizes[i % len(sizes)]
            w.write(x[start:start + size])
            start, i = start + size, i + 1


def _peak_hz(y: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(y * np.hanning(y.size)))
    return float(np.argmax(spectrum) * sr / y.size)


# --------------------------------------------------------------------------- specs
def test_output_spec_parses_suffixes_rates_and_depths(tmp_path):
    s = output_spec(tmp_path / "a.FLAC", sample_rate=48000, bit_depth="24")
    assert (s.container, s.sample_rate, s.bit_depth, s.subtype) == ("flac", 48000, "24",
                                                                     "PCM_24")
    assert output_spec("x.Ogg").bit_depth is None and output_spec("x.ogg").subtype == "VORBIS"
    assert output_spec("x.wav", bit_depth="float").subtype == "FLOAT"
    assert output_spec("x.wav", bit_depth=24).bit_depth == "24"
    stdout = output_spec("-")
    assert stdout.path is None and stdout.container == "wav" and stdout.display == "<stdout>"


@pytest.mark.parametrize("call, needle", [
    (lambda: output_spec("song.mp3"), "must end in .wav, .flac or .ogg"),
    (lambda: output_spec("song"), "must end in .wav, .flac or .ogg"),
    (lambda: output_spec(""), "output path is empty"),
    (lambda: output_spec("a.wav", sample_rate=8000), "sample rate must be one of 16000, 2"),
    (lambda: output_spec("a.wav", sample_rate=True), "sample rate must be one of"),
    (lambda: output_spec("a.wav", bit_depth="32"), "bit depth must be 16, 24 or float"),
    (lambda: output_spec("a.flac", bit_depth="float"), "flac has no float bit depth"),
    (lambda: output_spec("a.ogg", bit_depth="24"), "Ogg Vorbis has no bit depth"),
    (lambda: output_spec("a.ogg", bit_depth="float"), "Ogg Vorbis has no bit depth"),
])
def test_output_spec_errors_are_one_line(call, needle):
    with pytest.raises(UsageError) as info:
        call()
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_output_frames_rounds_half_up_like_soxr():
    assert output_frames(160, 16000, 22050) == 221           # 220.5
    assert output_frames(12345, 16000, 22050) == 17013       # 17012.95
    assert output_frames(999, 16000, 44100) == 2753          # 2753.49
    x = np.zeros(160, np.float32)
    assert soxr.resample(x, 16000, 22050).size == 221


# --------------------------------------------------------------------------- formats
@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("container, depth, subtype", FORMATS)
def test_each_format_round_trips(tmp_path, container, depth, subtype, rate):
    x = sine(440, 1.0, 16000, 0.5) + sine(2500, 1.0, 16000, 0.1)
    x = x[:15999]                                    # an odd length: rounding matters
    spec = output_spec(tmp_path / f"out.{container}", sample_rate=rate, bit_depth=depth)
    _write(spec, x)
    info = sf.info(str(spec.path))
    assert (info.samplerate, info.subtype, info.channels) == (rate, subtype, 1)
    y, _ = sf.read(str(spec.path), dtype="float64")
    assert y.size == output_frames(x.size, 16000, rate) == round(x.size * rate / 16000 + 1e-9)
    assert _peak_hz(y, rate) == pytest.approx(440, abs=1.5)    # resampling kept the pitch
    if container == "ogg":
        assert np.abs(y).max() == pytest.approx(0.6, abs=0.1)  # lossy, but the level holds
        return
    # Lossless: exactly the one-shot soxr resampling, quantised to the bit depth.
    ref = x.astype(np.float64) if rate == 16000 else soxr.resample(x, 16000, rate, "HQ")
    step = {"16": 2.0 ** -15, "24": 2.0 ** -23, "float": 0.0}[depth]
    assert np.abs(y - ref).max() <= step


def test_files_are_reproducible(tmp_path):
    # libsndfile stamps float WAVs with the time of writing (a PEAK chunk) unless told
    # not to; without it the same samples always give the same bytes.
    x = sine(440, 0.5, 16000, 0.5)
    written = []
    for i in range(2):
        spec = output_spec(tmp_path / f"{i}.wav", bit_depth="float")
        _write(spec, x)
        written.append(spec.path.read_bytes())
    assert b"PEAK" not in written[0] and written[0] == written[1]


def test_integer_formats_clip_instead_of_wrapping(tmp_path):
    x = np.array([0.5, 1.7, -3.0, 0.25] * 100, np.float32)
    spec = output_spec(tmp_path / "c.wav")
    _write(spec, x)
    y, _ = sf.read(str(spec.path), dtype="float64")
    assert y.max() == pytest.approx(1.0, abs=1e-4) and y.min() == -1.0
    fspec = output_spec(tmp_path / "f.wav", bit_depth="float")
    _write(fspec, x)
    assert sf.read(str(fspec.path), dtype="float32")[0].min() == -3.0   # float keeps it


_STDOUT_CODE = """
import sys, numpy as np
from neuralsynth.audio.output import AudioFileWriter, output_spec
x = np.load(sys.argv[1])
spec = output_spec("-", sample_rate=int(sys.argv[2]), bit_depth=sys.argv[3])
w = AudioFileWriter(spec, source_rate=16000, n_frames=x.size)
for start in range(0, x.size, 1234):
    w.write(x[start:start + 1234])
w.close()
"""


@pytest.mark.parametrize("rate, depth", [(16000, "16"), (44100, "24"), (22050, "float"),
                                         (48000, "24")])
def test_stdout_is_a_wav_stream(tmp_path, rate, depth):
    x = sine(440, 0.5, 16000, 0.5)[:7999]
    np.save(tmp_path / "x.npy", x)
    proc = subprocess.run([sys.executable, "-c", _STDOUT_CODE, str(tmp_path / "x.npy"),
                           str(rate), depth], capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    data = proc.stdout
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    assert int.from_bytes(data[4:8], "little") == len(data) - 8     # sizes in the header
    y, sr = sf.read(io.BytesIO(data), dtype="float64")
    info = sf.info(io.BytesIO(data))
    assert sr == rate and y.size == output_frames(x.size, 16000, rate)
    assert info.subtype == {"16": "PCM_16", "24": "PCM_24", "float": "FLOAT"}[depth]
    # The same samples as a file written with the same spec.
    spec = output_spec(tmp_path / "f.wav", sample_rate=rate, bit_depth=depth)
    _write(spec, x)
    assert np.array_equal(y, sf.read(str(spec.path), dtype="float64")[0])
    if depth == "16":                                   # and Python's own parser agrees
        with wave.open(io.BytesIO(data)) as w:
            assert (w.getframerate(), w.getsampwidth(), w.getnframes()) == (rate, 2, y.size)


def test_stdout_needs_the_length_and_refuses_a_terminal(tmp_path):
    with pytest.raises(ValueError, match="n_frames"):
        AudioFileWriter(output_spec("-"))
    master, slave = os.openpty()
    code = "from neuralsynth.audio.output import check_output_path; check_output_path('-')"
    try:
        proc = subprocess.run([sys.executable, "-c", code], stdout=slave,
                              stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(slave)
        os.close(master)
    assert proc.returncode != 0 and "refusing to write audio to a terminal" in proc.stderr


# --------------------------------------------------------------------------- path checks
def _refused(target, needle: str, kind=UsageError) -> str:
    with pytest.raises(kind) as info:
        check_output_path(target)
    message = str(info.value)
    assert needle in message and "\n" not in message, message
    return message


def test_path_is_a_directory(tmp_path):
    (tmp_path / "out.wav").mkdir()
    _refused(tmp_path / "out.wav", "is a directory")


def test_parent_is_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    before = folder_listing(tmp_path)
    _refused(tmp_path / "f" / "x.wav", f"'{tmp_path / 'f'}' is a file, not a folder")
    # A missing folder that cannot be created because a file is in the way.
    _refused(tmp_path / "f" / "a" / "b" / "x.flac",
             f"'{tmp_path / 'f'}' in its path is a file, not a folder")
    assert folder_listing(tmp_path) == before


def test_missing_folders_are_created(tmp_path):
    out = tmp_path / "new" / "deeper" / "x.wav"
    check_output_path(out)
    assert out.parent.is_dir() and folder_listing(out.parent) == []


def test_read_only_file_system(tmpfs):
    ro = tmpfs(ro=True)
    _refused(ro / "x.wav", "is on a read-only file system")
    _refused(ro / "sub" / "x.wav", "cannot create the folder")


def test_immutable_folder(tmp_path, immutable):
    folder = tmp_path / "locked"
    folder.mkdir()
    immutable(folder)
    _refused(folder / "x.wav", "is not permitted")


def test_folder_without_write_permission(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("running as root, where mode 0o555 does not stop writes (the read-only "
                    "mount and immutable-folder tests cover refusal)")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        _refused(folder / "x.wav", "no permission to write in")
    finally:
        folder.chmod(0o755)


def test_existing_output_that_cannot_be_replaced(tmp_path, immutable):
    out = tmp_path / "x.wav"
    out.write_bytes(b"keep me")
    if os.geteuid() == 0:
        immutable(out)
    else:
        out.chmod(0o444)
    _refused(out, "the existing file is read-only or immutable")
    assert out.read_bytes() == b"keep me"
    fifo = tmp_path / "p.wav"
    os.mkfifo(fifo)
    _refused(fifo, "exists and is not a regular file")


def test_full_disk_is_found_up_front(tmpfs):
    full = tmpfs(size="64k")
    with open(full / "filler", "wb", buffering=0) as fh:
        with pytest.raises(OSError) as info:
            while True:
                fh.write(bytes(4096))
    assert info.value.errno == errno.ENOSPC
    before = folder_listing(full)
    _refused(full / "x.wav", f"disk full: cannot write '{full / 'x.wav'}'", AudioError)
    assert folder_listing(full) == before


def test_old_name_in_clip_accepts_paths_and_specs(tmp_path):
    from neuralsynth.audio.clip import OUTPUT_SUFFIXES
    from neuralsynth.audio.clip import check_output_path as old

    assert OUTPUT_SUFFIXES == (".wav", ".flac", ".ogg")
    old(tmp_path / "a.wav")
    old(str(tmp_path / "a.ogg"))
    old(output_spec(tmp_path / "a.flac", bit_depth="24"))
    with pytest.raises(UsageError, match="must end in .wav"):
        old(tmp_path / "a.mp3")


# --------------------------------------------------------------------------- failures
@pytest.mark.parametrize("container", ["wav", "flac", "ogg"])
def test_disk_full_while_writing(tmpfs, container):
    full = tmpfs(size="32k")
    out = full / f"x.{container}"
    out.write_bytes(b"old output")
    before = folder_listing(full)
    spec = output_spec(out, sample_rate=48000,
                       bit_depth="float" if container == "wav" else None if
                       container == "ogg" else "24")
    rng = np.random.default_rng(0)
    with pytest.raises(AudioError) as info:           # noise: nothing compresses it
        _write(spec, (0.5 * rng.standard_normal(6 * 16000)).astype(np.float32))
    assert str(info.value) == f"disk full: cannot write '{out}'"
    assert folder_listing(full) == before and out.read_bytes() == b"old output"


def test_disk_full_simulated(tmp_path, monkeypatch):
    # The same path without a mount: the file's writes fail with ENOSPC after 10 kB.
    out = tmp_path / "x.flac"
    w = AudioFileWriter(output_spec(out), source_rate=16000)
    real = w._sink.raw
    budget = [10_000]

    class Filling:
        def write(self, data):
            if budget[0] < len(data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            budget[0] -= len(data)
            return real.write(data)

        def __getattr__(self, name):
            return getattr(real, name)

    w._sink.raw = Filling()
    rng = np.random.default_rng(0)
    with pytest.raises(AudioError, match=r"^disk full: cannot write '.*x\.flac'$"):
        for _ in range(10):
            w.write((0.5 * rng.standard_normal(16000)).astype(np.float32))
        w.close()
    real.close()
    assert folder_listing(tmp_path) == []


def test_a_failed_write_never_clobbers_the_output(tmp_path):
    out = tmp_path / "x.wav"
    out.write_bytes(b"previous render")
    with pytest.raises(RuntimeError):
        with AudioFileWriter(output_spec(out)) as w:
            w.write(sine(440, 0.5, 16000, 0.5))
            raise RuntimeError("render crashed")
    assert out.read_bytes() == b"previous render"
    assert folder_listing(tmp_path) == ["x.wav"]
    # Aborted explicitly: the same.
    w = AudioFileWriter(output_spec(out))
    w.write(sine(440, 0.5, 16000, 0.5))
    w.abort()
    assert out.read_bytes() == b"previous render" and folder_listing(tmp_path) == ["x.wav"]
    # A successful write replaces it atomically, and keeps a symlink a symlink.
    link = tmp_path / "link.wav"
    link.symlink_to(out)
    with AudioFileWriter(output_spec(link)) as w:
        w.write(sine(440, 0.5, 16000, 0.5))
    assert link.is_symlink() and sf.info(str(out)).frames == 8000


def test_errors_are_neuralsynth_errors():
    # The CLI prints these as one line; anything else would be a traceback.
    assert issubclass(AudioError, NeuralsynthError) and issubclass(UsageError,
                                                                   NeuralsynthError)
