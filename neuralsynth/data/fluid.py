"""Playing one piece's events on one General MIDI program with in-process FluidSynth.

Events are fed at sample-accurate times and audio is pulled between them through
pyfluidsynth, so nothing depends on a real-time clock or an audio driver.
"""

from __future__ import annotations

import ctypes
import math
import os
from pathlib import Path
from typing import Iterable

import numpy as np

from neuralsynth.errors import DataError
from neuralsynth.midi import quiet_imports
from neuralsynth.midi.events import CONTROL, MELODIC_CHANNELS, NOTE_OFF, NOTE_ON, MidiEvents

#: FluidSynth's native rate for the SoundFonts we use; resampled to 16 kHz afterwards.
SYNTH_RATE = 44100
#: FluidSynth's master gain (its default); the dataset's makeup gain is applied on top in float.
SYNTH_GAIN = 0.2
#: Seconds rendered after the last note-off so release tails are not cut.
RELEASE_TAIL = 1.0
#: FluidSynth's internal block size (FLUID_BUFSIZE, fixed at 64 in FluidSynth 1.x and 2.x).
BLOCK = 64
# Longest span pulled in one call, so a long silence does not need one giant request.
_MAX_PULL = 1 << 16
# The conditioning chord (see FluidRenderer._condition): held 0.3 s, rung out 1.5 s.
_CHORD_ON = 13230
_CHORD_TAIL = 1.5
_FLUID_WARN = 2                  # FluidSynth's log level for warnings


def fluidsynth_available() -> str | None:
    """``None`` when pyfluidsynth and the FluidSynth library load, else the reason."""
    try:
        quiet_imports.fluidsynth()
    except (ImportError, OSError) as exc:
        return f"FluidSynth is not available ({type(exc).__name__}: {exc})"
    return None


def _round_block(sample: int) -> int:
    return int((sample + BLOCK // 2) // BLOCK) * BLOCK


def _ceil_block(n: int) -> int:
    return -(-n // BLOCK) * BLOCK


class FluidRenderer:
    """A FluidSynth instance with one SoundFont loaded, reused for many renders.

    ``render(events, program)`` → float32 mono ``[N]`` at ``sample_rate`` (44.1 kHz).
    Loading a SoundFont takes seconds (SF3 samples are decoded on load), so each worker
    process keeps one.
    """

    def __init__(self, soundfont: str | os.PathLike, sample_rate: int = SYNTH_RATE):
        reason = fluidsynth_available()
        if reason is not None:
            raise DataError(reason)
        fluidsynth = quiet_imports.fluidsynth()

        self.sample_rate = int(sample_rate)
        self.soundfont = Path(soundfont)
        # Reverb and chorus are off: the dataset should hold the instruments' dry sound
        # (room effects would be a second, uncontrolled "timbre").
        # Dynamic sample loading decodes only the presets actually played (an SF3
        # font takes seconds to decode in full) and keeps them for later renders.
        self._synth = fluidsynth.Synth(gain=SYNTH_GAIN, samplerate=self.sample_rate,
                                       channels=16, **{"synth.reverb.active": 0,
                                                       "synth.chorus.active": 0,
                                                       "synth.dynamic-sample-loading": 1})
        self._sfid = self._synth.sfload(os.fspath(self.soundfont))
        if self._sfid < 0:
            self._synth.delete()
            raise DataError(f"FluidSynth cannot load SoundFont '{self.soundfont}'")
        # pyfluidsynth only exposes 16-bit output; the float writer avoids quantising
        # quiet release tails and cannot clip.
        proto = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int,
                                 ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                                 ctypes.c_void_p, ctypes.c_int, ctypes.c_int)
        self._write_float = proto(("fluid_synth_write_float", fluidsynth._fl))
        self._fl = fluidsynth._fl
        keys = range(21, 109)                    # every key: see _condition
        self._chord = MidiEvents(events=[(0, NOTE_ON, 0, k, 100) for k in keys]
                                 + [(_CHORD_ON, NOTE_OFF, 0, k, 0) for k in keys],
                                 n_channels=1, end=_CHORD_ON / self.sample_rate)

    def preload(self, programs: Iterable[int]) -> None:
        """Decode the samples of ``programs`` now (dynamic loading would do it on first use),
        so render timings measure synthesis only."""
        for program in programs:
            self._synth.program_select(0, self._sfid, 0, int(program))
        self._synth.system_reset()

    def close(self) -> None:
        if self._synth is not None:
            self._synth.delete()
            self._synth = None

    def __del__(self) -> None:  # pragma: no cover - interpreter shutdown order varies
        try:
            self.close()
        except Exception:
            pass

    def _pull(self, left: np.ndarray, right: np.ndarray, start: int, stop: int) -> None:
        for pos in range(start, stop, _MAX_PULL):
            n = min(stop - pos, _MAX_PULL)
            rc = self._write_float(self._synth.synth, n, left.ctypes.data, pos, 1,
                                   right.ctypes.data, pos, 1)
            if rc != 0:
                raise DataError("FluidSynth failed to render audio")

    def _condition(self, program: int) -> None:
        """Play every key of ``program`` at once and let it ring out, discarding the sound.

        FluidSynth's voices keep a little state from the note they played last (a
        fresh instance's first render differs from later ones by up to -35 dB, and a
        render after a short note differs again), so a render would depend on what the
        process rendered before it: on the worker, the order, the shard. After this
        chord every voice has last played the same thing, so each render depends on
        its own notes only (tested: sharded and unsharded datasets are bit-identical).
        The chord asks for more voices than the synth has, on purpose; FluidSynth's
        warning about each refused one is muted meanwhile.
        """
        self._fl.fluid_set_log_function(_FLUID_WARN, None, None)
        try:
            self._play(self._chord, program, _CHORD_TAIL)
        finally:
            self._fl.fluid_set_log_function(_FLUID_WARN, self._fl.fluid_default_log_function,
                                            None)

    def render(self, events: MidiEvents, program: int, tail: float = RELEASE_TAIL) -> np.ndarray:
        """Play ``events`` on GM ``program`` (bank 0); float32 mono ``[N]``."""
        self._condition(program)
        return self._play(events, program, tail)

    def _play(self, events: MidiEvents, program: int, tail: float) -> np.ndarray:
        synth = self._synth
        synth.system_reset()                      # no voices or controllers left over
        for ch in MELODIC_CHANNELS[:events.n_channels]:
            if synth.program_select(ch, self._sfid, 0, int(program)) != 0:
                raise DataError(f"SoundFont '{self.soundfont.name}' has no preset for GM "
                                f"program {program} (bank 0)")
        # FluidSynth computes audio in blocks of BLOCK samples and applies an event at
        # the start of the next block it computes. Event times are therefore placed on
        # that grid here (nearest boundary, at most BLOCK/2 samples = 0.73 ms off, far
        # below the 8 ms frame hop) and every pull is a whole number of blocks, so an
        # event lands exactly where we put it and a render never depends on the one
        # before it.
        total = _ceil_block(int(math.ceil((events.end + tail) * self.sample_rate)))
        left = np.zeros(total, dtype=np.float32)
        right = np.zeros(total, dtype=np.float32)
        pos = 0
        for sample, kind, ch, a, b in events.events:
            sample = min(_round_block(sample), total)
            if sample > pos:
                self._pull(left, right, pos, sample)
                pos = sample
            if kind == NOTE_ON:
                synth.noteon(ch, a, b)
            elif kind == CONTROL:
                synth.cc(ch, a, b)
            else:
                synth.noteoff(ch, a)
        self._pull(left, right, pos, total)
        synth.system_reset()
        return (0.5 * (left + right)).astype(np.float32)
