"""Where and how rendered audio is written: the output spec, the path checks, the writer.

    output_spec("song.flac", sample_rate=48000, bit_depth="24")   # validated up front
    check_output_path(spec)          # every path problem, before any work, one line each
    with AudioFileWriter(spec, source_rate=16000) as w:            # streaming
        for block in blocks:         # float32 [n] at 16 kHz
            w.write(block)           # resampled (soxr, HQ), encoded (libsndfile)
    # leaving the block commits: the temporary file is renamed onto the output

A failed write removes its temporary file and never touches an existing output. ``-`` is
WAV on stdout; its header goes out first, so the writer needs the frame count up front.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import io
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from neuralsynth.errors import AudioError, NeuralsynthError, UsageError

#: File suffixes and the container each one means.
CONTAINERS = {".wav": "wav", ".flac": "flac", ".ogg": "ogg"}
#: Suffixes an output path may end in.
OUTPUT_SUFFIXES = tuple(CONTAINERS)
#: Sample rates an output may have (the renders are resampled from 16 kHz).
OUTPUT_SAMPLE_RATES = (16000, 22050, 44100, 48000)
#: Bit depths an output may have; Ogg Vorbis has none.
BIT_DEPTHS = ("16", "24", "float")

_DEPTHS_OF = {"wav": ("16", "24", "float"), "flac": ("16", "24"), "ogg": ()}
_FORMAT = {"wav": "WAV", "flac": "FLAC", "ogg": "OGG"}
_SUBTYPE = {"16": "PCM_16", "24": "PCM_24", "float": "FLOAT", None: "VORBIS"}
# The probe written by check_output_path: enough to hit a full disk, small enough to be free.
_PROBE_BYTES = 4096


@dataclasses.dataclass(frozen=True)
class OutputSpec:
    """A validated output: ``path`` (None: stdout), ``container`` ('wav', 'flac' or
    'ogg'), ``sample_rate`` (Hz, one of :data:`OUTPUT_SAMPLE_RATES`) and ``bit_depth``
    ('16', '24' or 'float'; None for ogg, which Vorbis encodes without one)."""

    path: Path | None
    container: str
    sample_rate: int
    bit_depth: str | None

    @property
    def subtype(self) -> str:
        """The libsndfile subtype: PCM_16, PCM_24, FLOAT or VORBIS."""
        return _SUBTYPE[self.bit_depth]

    @property
    def display(self) -> str:
        """The path as the user wrote it, or ``<stdout>``."""
        return "<stdout>" if self.path is None else str(self.path)

    def describe(self) -> str:
        """E.g. ``flac, 48000 Hz, 24-bit``."""
        depth = {"16": "16-bit", "24": "24-bit", "float": "32-bit float", None: "vorbis"}
        return f"{self.container}, {self.sample_rate} Hz, {depth[self.bit_depth]}"


def output_spec(path: str | os.PathLike, *, sample_rate: int = 16000,
                bit_depth: str | int | None = "16") -> OutputSpec:
    """Validate an output path and format; raises :class:`UsageError` (one line).

    ``path``: a file ending in .wav, .flac or .ogg (any case), or ``-`` for WAV on
    stdout. ``sample_rate``: one of :data:`OUTPUT_SAMPLE_RATES`. ``bit_depth``: '16',
    '24' or 'float' (float: wav only; flac: 16 or 24; ogg: none, so only the default).
    """
    text = os.fspath(path)
    if not isinstance(text, str):
        raise UsageError(f"output path must be text, got {type(text).__name__}")
    if not text:
        raise UsageError("output path is empty")
    target = None if text == "-" else Path(text)
    if target is None:
        container = "wav"
    else:
        container = CONTAINERS.get(target.suffix.lower())
        if container is None:
            raise UsageError(f"output '{text}' must end in {', '.join(OUTPUT_SUFFIXES[:-1])} "
                             f"or {OUTPUT_SUFFIXES[-1]} (or be '-' for WAV on stdout)")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) \
            or sample_rate not in OUTPUT_SAMPLE_RATES:
        raise UsageError(f"sample rate must be one of "
                         f"{', '.join(map(str, OUTPUT_SAMPLE_RATES))} Hz, got {sample_rate!r}")
    depth = None if bit_depth is None else str(bit_depth).strip().lower()
    if container == "ogg":
        if depth not in (None, "16"):
            raise UsageError(f"output '{text}': Ogg Vorbis has no bit depth; "
                             f"leave out the bit depth ({bit_depth!r})")
        depth = None
    elif depth is None:
        depth = "16"
    elif depth not in BIT_DEPTHS:
        raise UsageError(f"bit depth must be 16, 24 or float, got {bit_depth!r}")
    elif depth not in _DEPTHS_OF[container]:
        raise UsageError(f"output '{text}': {container} has no {depth} bit depth "
                         f"(use {' or '.join(_DEPTHS_OF[container])})")
    return OutputSpec(target, container, int(sample_rate), depth)


# --------------------------------------------------------------------------- path checks
def _reason(exc: OSError) -> str:
    return exc.strerror or os.strerror(exc.errno or 0) or type(exc).__name__


def os_problem(exc: OSError, out: str, folder: Path) -> NeuralsynthError:
    """The one-line error for an OS error met while writing ``out`` (already quoted) in
    ``folder``: a full disk is an :class:`AudioError`, the rest :class:`UsageError`."""
    code = exc.errno
    if code in (errno.ENOSPC, errno.EDQUOT):
        return AudioError(f"disk full: cannot write {out}")
    if code == errno.EROFS:
        return UsageError(f"cannot write {out}: '{folder}' is on a read-only file system")
    if code == errno.EACCES:
        return UsageError(f"cannot write {out}: no permission to write in '{folder}'")
    if code == errno.EPERM:
        return UsageError(f"cannot write {out}: writing in '{folder}' is not permitted "
                          f"(is it immutable?)")
    if code == errno.ENOTDIR:
        return UsageError(f"cannot write {out}: '{folder}' is not a folder")
    if code == errno.ENOENT:
        return UsageError(f"cannot write {out}: folder '{folder}' does not exist")
    return UsageError(f"cannot write {out}: {_reason(exc)}")


def _first_file_above(folder: Path) -> Path | None:
    """The nearest existing ancestor of ``folder`` (itself included) that is not a folder."""
    for p in (folder, *folder.parents):
        if p.exists() or p.is_symlink():
            return None if p.is_dir() else p
    return None


def _ensure_folder(folder: Path, out: str) -> None:
    """``mkdir -p`` the output's folder, or say in one line why it cannot be."""
    if folder.is_dir():
        return
    blocker = _first_file_above(folder)
    if blocker is not None:
        where = f"'{folder}' is" if blocker == folder else f"'{blocker}' in its path is"
        raise UsageError(f"cannot write {out}: {where} a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot write {out}: cannot create the folder '{folder}' "
                         f"({_reason(exc)})") from None


def _destination(path: Path) -> Path:
    """Where the bytes end up: the target of a symlink, so the link itself survives."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _temp_next_to(dest: Path, out: str) -> tuple[int, Path]:
    """Create the temporary file a write goes through, in ``dest``'s folder (the final
    rename must stay on one file system); errors mapped to one line."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=f".tmp{dest.suffix}",
                                   dir=dest.parent)
    except OSError as exc:
        raise os_problem(exc, out, dest.parent) from None
    # mkstemp makes the file private (0600); an output gets what a plain open() gives.
    os.fchmod(fd, 0o666 & ~_umask())
    return fd, Path(tmp)


def _check_stdout() -> None:
    stream = getattr(sys.stdout, "buffer", None)
    if stream is None:
        raise UsageError("cannot write audio to stdout: it is not a binary stream here")
    with contextlib.suppress(ValueError, OSError):
        if sys.stdout.isatty():
            raise UsageError("refusing to write audio to a terminal: redirect it "
                             "('-o - > out.wav') or pipe it ('-o - | ffplay -')")


def check_output_path(target: OutputSpec | str | os.PathLike) -> None:
    """Raise a one-line error for an output that cannot be written, before any work.

    ``target`` is an :class:`OutputSpec` or a path (checked with the default format).
    Finds: an unknown suffix; a path that is a folder or not a regular file; an
    existing output that is read-only or immutable; a parent that is a file or cannot be
    created (missing folders are created, like ``mkdir -p``); a folder that is not
    writable, on a read-only file system, or on a full disk. It really creates (and
    removes) a small file next to the output, so what it says holds for the write.
    """
    spec = target if isinstance(target, OutputSpec) else output_spec(target)
    if spec.path is None:
        _check_stdout()
        return
    path = spec.path
    out = f"'{path}'"
    try:                 # a folder on the way that cannot be searched raises EACCES here
        if path.is_dir():
            raise UsageError(f"output {out} is a directory")
        dest = _destination(path)
        if dest.exists():
            if not dest.is_file():
                raise UsageError(f"cannot write {out}: it exists and is not a regular file")
            if not os.access(dest, os.W_OK):
                raise UsageError(f"cannot write {out}: the existing file is read-only or "
                                 f"immutable")
        _ensure_folder(dest.parent, out)
    except OSError as exc:
        raise os_problem(exc, out, path.parent) from None
    fd, tmp = _temp_next_to(dest, out)
    try:
        with io.FileIO(fd, "w", closefd=True) as fh:
            fh.write(bytes(_PROBE_BYTES))
    except OSError as exc:
        raise os_problem(exc, out, dest.parent) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


# --------------------------------------------------------------------------- writing
class _Sink:
    """The temporary file as libsndfile sees it (through soundfile's virtual I/O).

    libsndfile reports any failed write as "System error."; writing through this object
    keeps the OSError itself (ENOSPC, EIO, ...) so the message can say what happened.
    Errors are recorded, not raised: an exception cannot cross libsndfile's C callbacks.
    """

    def __init__(self, fd: int):
        self.raw = io.FileIO(fd, "r+", closefd=True)
        self.error: OSError | None = None

    def write(self, data) -> int:
        if self.error is not None:
            return 0
        view = memoryview(data)
        done = 0
        try:
            while done < len(view):      # a short write (nearly full disk) is retried
                n = self.raw.write(view[done:])
                if not n:
                    raise OSError(errno.EIO, "the file took no more data")
                done += n
        except OSError as exc:
            self.error = exc
        return done

    def read(self, n: int = -1) -> bytes:
        return self.raw.read(n)

    def readinto(self, buf) -> int:
        return self.raw.readinto(buf)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.raw.seek(offset, whence)

    def tell(self) -> int:
        return self.raw.tell()


# libsndfile adds a PEAK chunk to float WAVs, stamped with the time of writing, so two
# writes of the same samples would differ; SFC_SET_ADD_PEAK_CHUNK turns it off. soundfile
# has no wrapper for that command, so it goes to libsndfile through soundfile's handle.
_SFC_SET_ADD_PEAK_CHUNK = 0x1050


def _without_peak_chunk(handle) -> None:
    try:
        from soundfile import _ffi, _snd
        _snd.sf_command(handle._file, _SFC_SET_ADD_PEAK_CHUNK, _ffi.NULL, _snd.SF_FALSE)
    except (ImportError, AttributeError):      # another soundfile: only the bytes differ
        pass


def output_frames(n_in: int, rate_in: int, rate_out: int) -> int:
    """Frames ``n_in`` frames make at ``rate_out``: ``n_in · rate_out / rate_in`` rounded
    half up, in exact integer arithmetic (the count soxr itself produces)."""
    return (2 * n_in * rate_out + rate_in) // (2 * rate_in)


class AudioFileWriter:
    """Streaming writer of mono float32 blocks at ``source_rate`` to ``spec``.

    ``write(block float32 [n])`` resamples to ``spec.sample_rate`` (soxr, HQ; the total
    is :func:`output_frames`), clips to [-1, 1] except for float WAV, and encodes;
    ``close()`` commits (renames the temporary file onto the output) and returns the
    path (None for stdout); ``abort()`` removes the temporary file. A context manager
    closes on success and aborts on an exception.

    For stdout (``spec.path is None``) the WAV header goes out first, so ``n_frames``,
    the number of ``source_rate`` frames that will be written, is required.
    """

    def __init__(self, spec: OutputSpec, *, source_rate: int = 16000,
                 n_frames: int | None = None):
        import soundfile as sf
        import soxr

        if isinstance(source_rate, bool) or not isinstance(source_rate, (int, np.integer)) \
                or source_rate <= 0:
            raise ValueError(f"source_rate must be a positive integer, got {source_rate!r}")
        self.spec = spec
        self.source_rate = int(source_rate)
        self.frames_in = 0
        self.frames_out = 0
        self._closed = False
        self._clip = spec.bit_depth != "float"
        self._resampler = None
        if self.source_rate != spec.sample_rate:
            self._resampler = soxr.ResampleStream(self.source_rate, spec.sample_rate, 1,
                                                  dtype="float32", quality="HQ")
        self._n_frames = None if n_frames is None else int(n_frames)
        self._tmp: Path | None = None
        self._sink: _Sink | None = None
        self._file = None
        self._stream = None
        if spec.path is None:
            if self._n_frames is None or self._n_frames < 0:
                raise ValueError("writing to stdout needs n_frames (the frame count) up front")
            self._open_stdout()
            return
        self._dest = _destination(spec.path)
        _ensure_folder(self._dest.parent, f"'{spec.path}'")
        fd, self._tmp = _temp_next_to(self._dest, f"'{spec.path}'")
        self._sink = _Sink(fd)
        try:
            self._file = sf.SoundFile(self._sink, "w", spec.sample_rate, 1,
                                      format=_FORMAT[spec.container], subtype=spec.subtype)
        except Exception as exc:        # libsndfile refusing a format is a bug, not input
            self.abort()
            raise self._failure(exc) from None
        if spec.container == "wav":
            _without_peak_chunk(self._file)

    # -- stdout ----------------------------------------------------------------------
    def _open_stdout(self) -> None:
        from neuralsynth.audio.wavheader import wav_header

        _check_stdout()
        self._stream = sys.stdout.buffer
        total = output_frames(self._n_frames, self.source_rate, self.spec.sample_rate)
        try:
            header = wav_header(total, self.spec.sample_rate, self.spec.bit_depth)
        except ValueError as exc:
            raise AudioError(f"cannot write audio to stdout: {exc}") from None
        self._send(header)

    def _send(self, data: bytes) -> None:
        try:
            self._stream.write(data)
        except BrokenPipeError:
            raise AudioError("cannot write audio to stdout: the reading end of the pipe "
                             "was closed") from None
        except OSError as exc:
            raise AudioError(f"cannot write audio to stdout ({_reason(exc)})") from None

    def _raw(self, y: np.ndarray) -> bytes:
        """Samples as the WAV data bytes, converted by libsndfile exactly as in a file."""
        import soundfile as sf

        if self.spec.bit_depth == "float":
            return y.astype("<f4").tobytes()
        buf = io.BytesIO()
        sf.write(buf, y, self.spec.sample_rate, format="RAW", subtype=self.spec.subtype,
                 endian="LITTLE")
        return buf.getvalue()

    # -- writing ---------------------------------------------------------------------
    def _failure(self, exc: BaseException) -> NeuralsynthError:
        recorded = self._sink.error if self._sink is not None else None
        if isinstance(exc, OSError):
            recorded = recorded or exc
        out = f"'{self.spec.display}'"
        if recorded is not None:
            return os_problem(recorded, out, self._dest.parent)
        reason = " ".join(str(exc).split()) or type(exc).__name__
        return AudioError(f"cannot write audio to {out} ({reason})")

    def _emit(self, y: np.ndarray) -> None:
        if y.shape[0] == 0:
            return
        if self._clip:
            y = np.clip(y, -1.0, 1.0)
        y = np.ascontiguousarray(y, dtype=np.float32)
        if self._stream is not None:
            self._send(self._raw(y))
        else:
            try:
                self._file.write(y)
            except Exception as exc:     # a failed write surfaces as an assertion too
                raise self._failure(exc) from None
            if self._sink.error is not None:
                raise self._failure(self._sink.error)
        self.frames_out += int(y.shape[0])

    def write(self, block: np.ndarray) -> None:
        """Append float ``[n]`` samples at ``source_rate``."""
        if self._closed:
            raise RuntimeError("the writer is closed")
        x = np.asarray(block)
        if x.ndim != 1 or not np.issubdtype(x.dtype, np.floating):
            raise ValueError(f"expected a float block [n], got {x.dtype} {x.shape}")
        x = np.ascontiguousarray(x, dtype=np.float32)
        if self._n_frames is not None and self.frames_in + x.shape[0] > self._n_frames:
            self.abort()
            raise ValueError(f"more than the announced {self._n_frames} frames written")
        self.frames_in += int(x.shape[0])
        try:
            if self._resampler is not None:
                x = self._resampler.resample_chunk(x, last=False)
            self._emit(x)
        except BaseException:
            self.abort()
            raise

    def close(self) -> Path | None:
        """Finish the stream and commit the file; returns its path (None: stdout)."""
        if self._closed:
            raise RuntimeError("the writer is closed")
        try:
            if self._n_frames is not None and self.frames_in != self._n_frames:
                raise ValueError(f"{self.frames_in} frames written, {self._n_frames} "
                                 f"announced")
            total = output_frames(self.frames_in, self.source_rate, self.spec.sample_rate)
            rest = np.zeros(0, dtype=np.float32)
            if self._resampler is not None:
                rest = self._resampler.resample_chunk(rest, last=True)
            missing = total - self.frames_out
            if missing < rest.shape[0]:
                if missing < 0:
                    raise RuntimeError(f"resampler produced {-missing} frames too many")
                rest = rest[:missing]
            elif missing > rest.shape[0]:
                rest = np.concatenate([rest, np.zeros(missing - rest.shape[0], np.float32)])
            self._emit(rest)
            if self._stream is not None:
                if (self.frames_out * 3) & 1 and self.spec.bit_depth == "24":
                    self._send(b"\0")             # RIFF chunks are padded to even sizes
                self._send_flush()
                self._closed = True
                return None
            try:
                self._file.close()
            except Exception as exc:
                raise self._failure(exc) from None
            if self._sink.error is not None:
                raise self._failure(self._sink.error)
            self._sink.raw.close()
            try:
                os.replace(self._tmp, self._dest)
            except OSError as exc:
                raise os_problem(exc, f"'{self.spec.display}'", self._dest.parent) from None
            self._closed = True
            return self.spec.path
        except BaseException:
            self.abort()
            raise

    def _send_flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise AudioError("cannot write audio to stdout: the reading end of the pipe "
                             "was closed") from None

    def abort(self) -> None:
        """Drop what was written: the temporary file goes, an existing output stays."""
        if self._closed:
            return
        self._closed = True
        if self._file is not None:
            with contextlib.suppress(Exception):
                self._file.close()
        if self._sink is not None:
            with contextlib.suppress(OSError):
                self._sink.raw.close()
        if self._tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                self._tmp.unlink()

    def __enter__(self) -> AudioFileWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            if not self._closed:
                self.close()
        else:
            self.abort()


__all__ = ["AudioFileWriter", "BIT_DEPTHS", "CONTAINERS", "OUTPUT_SAMPLE_RATES",
           "OUTPUT_SUFFIXES", "OutputSpec", "check_output_path", "os_problem",
           "output_frames", "output_spec"]
