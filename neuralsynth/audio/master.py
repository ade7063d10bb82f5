"""Mastering a render: loudness normalisation, a peak ceiling, the file, in bounded memory.

    pass 1  feed(block) ─► NaN check ─► spool (raw float32 on disk) + loudness meter + peak
    pass 2  finish()    ─► spool ─► × gain ─► [limiter] ─► output meter ─► AudioFileWriter
            gain = target - measured loudness; the limiter runs only when gain · peak
            would pass the ceiling, and then, because limiting lowers the loudness a
            little, dry runs (gain, limiter, meter; no encoding) first raise the gain
            by the shortfall until the output is within 0.02 LU of the target

Both passes work on blocks (pass 2 on 1 s blocks), so memory does not grow with the
length of the piece; the spool is an anonymous temporary file next to the output, gone
whatever happens. :func:`normalize` is pass 2 for samples already in memory, with the
same meter, gain, limiter and blocks, so ``Audio.normalized().write()`` and the CLI
write the same bytes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import tempfile
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from neuralsynth.audio.limiter import PeakLimiter
from neuralsynth.audio.loudness import ABSOLUTE_GATE_LUFS, LoudnessMeter
from neuralsynth.audio.output import (
    AudioFileWriter,
    OutputSpec,
    check_output_path,
    os_problem,
)
from neuralsynth.errors import AudioError, UsageError

#: The loudness renders are normalised to by default (LUFS): the level most streaming
#: services play music at, loud enough for laptop speakers with room for peaks.
DEFAULT_LOUDNESS = -16.0
#: The default peak ceiling (dBFS): 1 dB of headroom for resampling and lossy codecs.
DEFAULT_CEILING_DB = -1.0
#: Below this sample peak (-100 dBFS) a render counts as silent.
SILENCE_PEAK = 1e-5


def _db(x: float) -> float:
    return 20.0 * math.log10(x) if x > 0 else -math.inf


@dataclasses.dataclass(frozen=True)
class MasterReport:
    """What mastering did. Levels are measured at the source rate, before resampling:
    ``input_loudness`` and ``output_loudness`` in LUFS, ``gain_db`` the gain applied,
    ``limited`` whether the limiter reduced any sample (by at most ``max_reduction_db``),
    ``input_peak_dbfs`` and ``peak_dbfs`` the sample peaks before and after. ``n_frames``
    frames were written at ``sample_rate`` to ``path`` (None: stdout or memory)."""

    input_loudness: float
    gain_db: float
    limited: bool
    max_reduction_db: float
    output_loudness: float
    input_peak_dbfs: float
    peak_dbfs: float
    n_frames: int
    sample_rate: int
    path: Path | None

    def describe(self) -> str:
        """One line, e.g. ``-27.4 LUFS -> -16.0 LUFS (+11.4 dB), peak -1.0 dBFS``."""
        limited = f", limited by up to {self.max_reduction_db:.1f} dB" if self.limited else ""
        return (f"{self.input_loudness:.1f} LUFS -> {self.output_loudness:.1f} LUFS "
                f"({self.gain_db:+.1f} dB), peak {self.peak_dbfs:.1f} dBFS{limited}")


def _check_levels(loudness: float | None, ceiling_db: float) -> None:
    if loudness is not None and not (isinstance(loudness, (int, float))
                                     and not isinstance(loudness, bool)
                                     and ABSOLUTE_GATE_LUFS < loudness <= 0.0):
        raise UsageError(f"loudness must be a level in LUFS between -70 and 0 (or off), "
                         f"got {loudness!r}")
    if not (isinstance(ceiling_db, (int, float)) and not isinstance(ceiling_db, bool)
            and -20.0 <= ceiling_db <= 0.0):
        raise UsageError(f"peak ceiling must be between -20 and 0 dBFS, got {ceiling_db!r}")


@dataclasses.dataclass(frozen=True)
class _Plan:
    gain: float            # linear
    gain_db: float
    ceiling: float         # linear
    limit: bool


def _plan(measured: float, peak: float, loudness: float | None,
          ceiling_db: float) -> _Plan:
    """The gain and whether to limit, from pass 1's measurements; a silent signal is an
    error (normalising it would only amplify noise, and writing it helps nobody)."""
    if peak < SILENCE_PEAK or measured == -math.inf:
        raise AudioError(f"the render is silent (peak {_db(peak):.1f} dBFS, loudness "
                         f"{measured:.1f} LUFS); nothing was written")
    gain_db = 0.0 if loudness is None else float(loudness) - measured
    gain = 10.0 ** (gain_db / 20.0)
    ceiling = 10.0 ** (ceiling_db / 20.0)
    return _Plan(gain, gain_db, ceiling, peak * gain > ceiling)


# When limiting pulls the output below the target, the gain is raised by the shortfall
# and the output measured again, until within this many LU or after this many tries.
_SETTLE_LU = 0.02
_SETTLE_TRIES = 4


def _settle(plan: _Plan, loudness: float | None, sample_rate: int,
            blocks: Callable[[], Iterable[np.ndarray]]) -> _Plan:
    """The plan whose limited output meets ``loudness``: dry runs of pass 2 (gain,
    limiter and meter only; nothing encoded) over ``blocks()``. Each try adds the
    shortfall in LU to the gain; the limiter takes back less than that, so the tries
    approach the target from below."""
    if loudness is None or not plan.limit:
        return plan
    for _ in range(_SETTLE_TRIES):
        stage = _Pass2(plan, sample_rate)
        for block in blocks():
            stage.process(block)
        stage.flush()
        short = float(loudness) - stage.meter.integrated()
        if abs(short) <= _SETTLE_LU:
            break
        gain_db = plan.gain_db + short
        plan = dataclasses.replace(plan, gain=10.0 ** (gain_db / 20.0), gain_db=gain_db)
    return plan


class _Pass2:
    """Gain, limiter when planned, and the output's meter and peak: one block at a time
    (float32 ``[n]`` in, float32 ``[m]`` out; the limiter's delay comes out in flush)."""

    def __init__(self, plan: _Plan, sample_rate: int):
        self.plan = plan
        self.limiter = PeakLimiter(plan.ceiling, sample_rate) if plan.limit else None
        self.meter = LoudnessMeter(sample_rate)
        self.peak = 0.0
        self.frames = 0

    def _out(self, y: np.ndarray) -> np.ndarray:
        if y.shape[0]:
            self.meter.add(y)
            self.peak = max(self.peak, float(np.max(np.abs(y))))
            self.frames += int(y.shape[0])
        return y

    def process(self, block: np.ndarray) -> np.ndarray:
        y = block.astype(np.float64) * self.plan.gain
        if self.limiter is not None:
            return self._out(self.limiter.process(y))
        return self._out(y.astype(np.float32))

    def flush(self) -> np.ndarray:
        if self.limiter is None:
            return np.zeros(0, dtype=np.float32)
        return self._out(self.limiter.flush())

    def report(self, measured: float, input_peak: float, n_frames: int, sample_rate: int,
               path: Path | None) -> MasterReport:
        lim = self.limiter
        return MasterReport(
            input_loudness=measured, gain_db=self.plan.gain_db,
            limited=bool(lim is not None and lim.limited),
            max_reduction_db=lim.max_reduction_db if lim is not None else 0.0,
            output_loudness=self.meter.integrated(), input_peak_dbfs=_db(input_peak),
            peak_dbfs=_db(self.peak), n_frames=n_frames, sample_rate=sample_rate,
            path=path)


def _blocks(samples: np.ndarray, size: int) -> Iterator[np.ndarray]:
    for start in range(0, samples.shape[0], size):
        yield samples[start:start + size]


def _as_block(block: np.ndarray) -> np.ndarray:
    x = np.asarray(block)
    if x.ndim != 1 or not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"expected a mono float block [n], got {x.dtype} {x.shape}")
    return np.ascontiguousarray(x, dtype=np.float32)


def _first_bad(x: np.ndarray) -> int:
    return int(np.flatnonzero(~np.isfinite(x))[0])


def normalize(samples: np.ndarray, sample_rate: int, loudness: float | None = DEFAULT_LOUDNESS,
              ceiling_db: float = DEFAULT_CEILING_DB) -> tuple[np.ndarray, MasterReport]:
    """Mono float ``samples [n]`` brought to ``loudness`` LUFS (None: left as they are)
    with sample peaks at most ``ceiling_db`` dBFS: float32 ``[n]`` and a report.

    Exactly the samples :class:`Master` encodes for the same input (before resampling).
    Raises :class:`AudioError` for NaN/inf or silent input.
    """
    _check_levels(loudness, ceiling_db)
    x = _as_block(samples)
    if not np.all(np.isfinite(x)):
        raise AudioError(f"the audio has NaN or infinite samples (first at "
                         f"{_first_bad(x) / sample_rate:.3f} s)")
    meter = LoudnessMeter(sample_rate)
    meter.add(x)
    peak = float(np.max(np.abs(x))) if x.shape[0] else 0.0
    measured = meter.integrated()
    plan = _plan(measured, peak, loudness, ceiling_db)
    plan = _settle(plan, loudness, sample_rate, lambda: _blocks(x, int(sample_rate)))
    stage = _Pass2(plan, sample_rate)
    parts = [stage.process(b) for b in _blocks(x, int(sample_rate))] + [stage.flush()]
    out = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    return out, stage.report(measured, peak, int(out.shape[0]), int(sample_rate), None)


class Master:
    """Two-pass mastering of a mono float32 signal fed block by block at ``source_rate``.

    ``feed(block [n])`` (pass 1) checks for NaN/inf at once, spools the block to a
    temporary file and measures it; ``finish() -> MasterReport`` (pass 2) applies the
    gain that brings it to ``loudness`` LUFS (None: no gain), limits peaks above
    ``ceiling_db`` dBFS (raising the gain to make up for what limiting takes), resamples
    and encodes to ``spec`` and commits the file atomically. A silent signal is an
    error and writes nothing. ``abort()`` drops everything; ``with Master(...) as m:``
    aborts on an exception (and when left without ``finish()``). The output path is
    checked on construction.
    """

    def __init__(self, spec: OutputSpec, *, loudness: float | None = DEFAULT_LOUDNESS,
                 ceiling_db: float = DEFAULT_CEILING_DB, source_rate: int = 16000):
        _check_levels(loudness, ceiling_db)
        if isinstance(source_rate, bool) or not isinstance(source_rate, (int, np.integer)) \
                or source_rate <= 0:
            raise ValueError(f"source_rate must be a positive integer, got {source_rate!r}")
        check_output_path(spec)
        self.spec = spec
        self.loudness = loudness
        self.ceiling_db = float(ceiling_db)
        self.source_rate = int(source_rate)
        self._meter = LoudnessMeter(self.source_rate)
        self._peak = 0.0
        self._frames = 0
        self._open = True
        # Spooled next to the output (its disk is the one known to take the file's size),
        # or in the system's temporary folder for stdout. Anonymous: nothing to clean up.
        self._spool_dir = Path(tempfile.gettempdir()) if spec.path is None \
            else Path(os.path.realpath(spec.path)).parent
        try:
            self._spool = tempfile.TemporaryFile(dir=self._spool_dir,
                                                 prefix=".neuralsynth-spool-")
        except OSError as exc:
            raise os_problem(exc, f"'{spec.display}'", self._spool_dir) from None

    @property
    def frames(self) -> int:
        """Frames fed so far (at ``source_rate``)."""
        return self._frames

    def feed(self, block: np.ndarray) -> None:
        """Pass 1: the next samples, float ``[n]`` at ``source_rate``."""
        if not self._open:
            raise RuntimeError("this Master is finished or aborted")
        x = _as_block(block)
        if not np.all(np.isfinite(x)):
            at = (self._frames + _first_bad(x)) / self.source_rate
            self.abort()
            raise AudioError(f"the render has NaN or infinite samples (first at {at:.3f} s)")
        if x.shape[0] == 0:
            return
        try:
            self._spool.write(memoryview(x).cast("B"))
        except OSError as exc:
            self.abort()
            raise self._spool_problem(exc) from None
        self._meter.add(x)
        self._peak = max(self._peak, float(np.max(np.abs(x))))
        self._frames += int(x.shape[0])

    def _spool_problem(self, exc: OSError):
        return os_problem(exc, f"'{self.spec.display}'", self._spool_dir)

    def _spooled(self) -> Iterator[np.ndarray]:
        """Pass 2's input: the spool read back in 1 s blocks."""
        try:
            self._spool.flush()
            self._spool.seek(0)
        except OSError as exc:
            raise self._spool_problem(exc) from None
        size = self.source_rate
        left = self._frames
        while left:
            block = np.empty(min(size, left), dtype=np.float32)
            view = memoryview(block).cast("B")
            got = 0
            while got < len(view):
                n = self._spool.readinto(view[got:])
                if not n:
                    raise AudioError("the temporary spool of the render was truncated")
                got += n
            left -= block.shape[0]
            yield block

    def finish(self) -> MasterReport:
        """Pass 2: normalise, limit, encode and commit; returns what was done."""
        if not self._open:
            raise RuntimeError("this Master is finished or aborted")
        try:
            measured = self._meter.integrated()
            plan = _plan(measured, self._peak, self.loudness, self.ceiling_db)
            plan = _settle(plan, self.loudness, self.source_rate, self._spooled)
            writer = AudioFileWriter(self.spec, source_rate=self.source_rate,
                                     n_frames=self._frames if self.spec.path is None else None)
            with writer:
                stage = _Pass2(plan, self.source_rate)
                for block in self._spooled():
                    writer.write(stage.process(block))
                writer.write(stage.flush())
            return stage.report(measured, self._peak, writer.frames_out,
                                self.spec.sample_rate, self.spec.path)
        finally:
            self.abort()

    def abort(self) -> None:
        """Drop the spool; nothing is written (an existing output stays as it was)."""
        self._open = False
        with contextlib.suppress(OSError):
            self._spool.close()

    def __enter__(self) -> Master:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.abort()


__all__ = ["DEFAULT_CEILING_DB", "DEFAULT_LOUDNESS", "Master", "MasterReport",
           "SILENCE_PEAK", "normalize"]
