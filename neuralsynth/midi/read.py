"""MIDI file → :class:`~neuralsynth.midi.notes.Notes`: the one MIDI reader, with
one-line errors for bad files.

Drum tracks are left out (the model renders pitched instruments only). With
``sustain=True`` the sustain pedal (CC64) lengthens notes the way the synthesiser that
rendered the training audio (FluidSynth) does; see ``docs/midi.md`` for why.
"""

from __future__ import annotations

import bisect
import io
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Collection, Union

import numpy as np

from neuralsynth.errors import MidiError
from neuralsynth.midi import quiet_imports
from neuralsynth.midi.notes import Notes

if TYPE_CHECKING:  # pretty_midi is imported when a file is read
    import pretty_midi

SUSTAIN_CC = 64
PEDAL_DOWN = 64          # CC64 values >= 64 mean "pedal down" (General MIDI)


def pedal_intervals(control_changes, end_time: float) -> list[tuple[float, float]]:
    """``(down, up)`` times of the sustain pedal from a track's control changes.

    Events are taken in file order at equal times; a pedal still down at the end of the
    file is treated as lifted at ``end_time``.
    """
    events = sorted((cc for cc in control_changes if cc.number == SUSTAIN_CC),
                    key=lambda cc: cc.time)
    intervals: list[tuple[float, float]] = []
    down_at: float | None = None
    for cc in events:
        if cc.value >= PEDAL_DOWN and down_at is None:
            down_at = float(cc.time)
        elif cc.value < PEDAL_DOWN and down_at is not None:
            intervals.append((down_at, float(cc.time)))
            down_at = None
    if down_at is not None:
        intervals.append((down_at, max(float(end_time), down_at)))
    return intervals


def apply_sustain(start: np.ndarray, end: np.ndarray, pitch: np.ndarray,
                  intervals: list[tuple[float, float]]) -> np.ndarray:
    """Note ends after the pedal: float64 ``[N]`` for notes ``[N]`` of one instrument.

    A note released while the pedal is down (``down <= end < up``) keeps sounding until
    the pedal is lifted or the same key is struck again, whichever comes first. A note is
    never shortened.
    """
    new_end = np.array(end, dtype=np.float64, copy=True)
    if not intervals or len(start) == 0:
        return new_end
    downs = [d for d, _ in intervals]
    onsets: dict[int, list[float]] = {}
    for s, p in zip(start.tolist(), pitch.tolist()):
        onsets.setdefault(int(p), []).append(float(s))
    for key in onsets:
        onsets[key].sort()
    for i in range(len(start)):
        j = bisect.bisect_right(downs, float(end[i])) - 1
        if j < 0 or not float(end[i]) < intervals[j][1]:
            continue                                   # released with the pedal up
        release = intervals[j][1]
        same_key = onsets[int(pitch[i])]
        k = bisect.bisect_right(same_key, float(start[i]))
        if k < len(same_key):
            release = min(release, same_key[k])        # re-struck key cuts the old note
        new_end[i] = max(new_end[i], release)
    return new_end


#: What :func:`read_midi` and :func:`load_notes` accept: a path, the bytes of a file, or
#: a parsed ``pretty_midi.PrettyMIDI``.
MidiSource = Union[str, os.PathLike, bytes, bytearray, "pretty_midi.PrettyMIDI"]


def describe_source(source: MidiSource) -> str:
    """How errors name ``source``: its path, or ``<MIDI bytes>`` / ``<PrettyMIDI>``."""
    if isinstance(source, (bytes, bytearray)):
        return "<MIDI bytes>"
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return "<PrettyMIDI>"


def read_midi(source: MidiSource):
    """Parse a MIDI file with pretty_midi; every failure becomes a one-line MidiError.

    The one reader of MIDI files in neuralsynth: rendering, dataset synthesis and the
    Python API all come through here. A ``PrettyMIDI`` object is returned as it is.
    """
    pretty_midi = quiet_imports.pretty_midi()

    if isinstance(source, pretty_midi.PrettyMIDI):
        return source
    if isinstance(source, (bytes, bytearray)):
        data, where = bytes(source), describe_source(source)
        if not data:
            raise MidiError(f"{where}: empty (0 bytes), not a MIDI file")
        head = data[:4]
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        where = os.fspath(path)
        if not path.exists():
            raise MidiError(f"{path}: no such MIDI file")
        if path.is_dir():
            raise MidiError(f"{path}: is a directory, not a MIDI file")
        if path.stat().st_size == 0:
            raise MidiError(f"{path}: empty file (0 bytes), not a MIDI file")
        try:
            with open(path, "rb") as fh:
                head = fh.read(4)
        except OSError as exc:
            raise MidiError(f"{path}: cannot read file ({exc.strerror or exc})") from None
        data = None
    else:
        raise MidiError(f"cannot read MIDI from a {type(source).__name__}; give a path, "
                        f"bytes or a pretty_midi.PrettyMIDI")
    if head != b"MThd":
        raise MidiError(f"{where}: not a MIDI file (no 'MThd' header)")

    try:
        with warnings.catch_warnings():
            # pretty_midi warns about tempo events on non-zero tracks; harmless here.
            warnings.simplefilter("ignore", RuntimeWarning)
            return pretty_midi.PrettyMIDI(io.BytesIO(data) if data is not None else where)
    except EOFError:
        raise MidiError(f"{where}: truncated MIDI file (data ends early)") from None
    except MemoryError:
        raise MidiError(f"{where}: corrupt MIDI file (implausible sizes)") from None
    except Exception as exc:  # mido/pretty_midi raise OSError, KeyError, ValueError, ...
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise MidiError(f"{where}: corrupt MIDI file ({reason})") from None


def _checked_selection(pm, tracks: Collection[int], where: str) -> set[int]:
    """The selected track indices, after checking each names a pitched track of ``pm``."""
    selected = set()
    n = len(pm.instruments)
    for index in tracks:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise MidiError(f"{where}: track {index!r} is not a track index (an int)")
        if not 0 <= index < n:
            have = f"tracks 0-{n - 1}" if n > 1 else "only track 0" if n else "no tracks"
            raise MidiError(f"{where}: there is no track {index} (the file has {have})")
        if pm.instruments[index].is_drum:
            raise MidiError(f"{where}: track {index} is a drum track; only pitched tracks "
                            f"can be rendered")
        selected.add(int(index))
    if not selected:
        raise MidiError(f"{where}: no tracks selected (an empty track selection)")
    return selected


def load_notes(source: MidiSource, *, sustain: bool = True,
               tracks: Collection[int] | None = None) -> Notes:
    """Pitched notes of a MIDI file, sorted by start time (then pitch).

    Drum tracks are excluded. With ``sustain`` (default) notes released while the
    sustain pedal is down last until the pedal is lifted or the key is struck again.
    ``source`` is a path, the bytes of a MIDI file, or a ``pretty_midi.PrettyMIDI``.
    ``tracks``: only these tracks, by index into ``PrettyMIDI.instruments`` (the
    ``index`` of :func:`neuralsynth.midi.tracks.list_tracks`); None means every pitched
    track. Raises :class:`MidiError` naming the file for missing, empty, non-MIDI,
    truncated or corrupt files, for files (or a selection) without pitched notes, and
    for a selection that is empty, names a track the file lacks or a drum track.
    """
    p = describe_source(source)
    pm = read_midi(source)
    try:
        end_time = float(pm.get_end_time())
    except Exception as exc:  # malformed timing data surfaces only here
        raise MidiError(f"{p}: corrupt MIDI file ({exc})") from None
    # Checked before any note is read, so a bad selection fails fast and says why.
    selected = None if tracks is None else _checked_selection(pm, tracks, p)

    starts, ends, pitches, vels, progs = [], [], [], [], []
    for index, inst in enumerate(pm.instruments):
        if selected is not None and index not in selected:
            continue
        if inst.is_drum or not inst.notes:
            continue
        s = np.array([n.start for n in inst.notes], dtype=np.float64)
        e = np.array([n.end for n in inst.notes], dtype=np.float64)
        k = np.array([n.pitch for n in inst.notes], dtype=np.int16)
        v = np.array([n.velocity for n in inst.notes], dtype=np.int16)
        e = np.maximum(e, s)
        if sustain:
            e = apply_sustain(s, e, k, pedal_intervals(inst.control_changes, end_time))
        starts.append(s)
        ends.append(e)
        pitches.append(k)
        vels.append(v)
        progs.append(np.full(len(s), inst.program, dtype=np.int16))

    if not starts and selected is not None:
        which = ", ".join(str(i) for i in sorted(selected))
        many = len(selected) > 1
        raise MidiError(f"{p}: nothing to play (selected track{'s' if many else ''} {which} "
                        f"ha{'ve' if many else 's'} no notes)")
    if not starts:
        has_drums = any(inst.is_drum and inst.notes for inst in pm.instruments)
        why = "only drum notes" if has_drums else "no notes"
        raise MidiError(f"{p}: nothing to play ({why}; pitched notes are needed)")
    start = np.concatenate(starts)
    end = np.concatenate(ends)
    pitch = np.concatenate(pitches)
    velocity = np.concatenate(vels)
    program = np.concatenate(progs)
    if not (np.all(np.isfinite(start)) and np.all(np.isfinite(end))):
        raise MidiError(f"{p}: corrupt MIDI file (non-finite note times)")
    order = np.lexsort((pitch, start))
    return Notes(start=start[order], end=end[order], pitch=pitch[order],
                 velocity=velocity[order], program=program[order])


def count_drum_notes(source: MidiSource) -> int:
    """How many notes the drum tracks of ``source`` hold: what a render skips."""
    return sum(len(inst.notes) for inst in read_midi(source).instruments if inst.is_drum)


def _instrument_keys(midi_file) -> list[tuple[int, int, int]]:
    """``(program, channel, track)`` of each instrument pretty_midi makes from a
    ``mido.MidiFile``, in the order it makes them.

    pretty_midi keeps no channel, so this replays its rule: an instrument is created for
    a (program, channel, track) the first time a note of it ends (a note-off closing an
    earlier note-on of the same key and channel), the program being the channel's latest
    program change in that track (0 before any).
    """
    keys: dict[tuple[int, int, int], None] = {}
    for track_index, track in enumerate(midi_file.tracks):
        program = [0] * 16
        open_notes: dict[tuple[int, int], list[int]] = {}
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "program_change":
                program[msg.channel] = msg.program
            elif msg.type == "note_on" and msg.velocity > 0:
                open_notes.setdefault((msg.channel, msg.note), []).append(tick)
            elif msg.type in ("note_off", "note_on"):
                starts = open_notes.get((msg.channel, msg.note))
                if starts is None:
                    continue                      # a note-off without a note-on
                closed = [t for t in starts if t != tick]
                kept = [t for t in starts if t == tick]
                if closed:
                    keys.setdefault((program[msg.channel], msg.channel, track_index), None)
                if closed and kept:
                    open_notes[(msg.channel, msg.note)] = kept
                else:
                    del open_notes[(msg.channel, msg.note)]
    return list(keys)


def instrument_channels(source: MidiSource, pm=None) -> list[int | None]:
    """The MIDI channel (0-15) of each entry of ``read_midi(source).instruments``.

    Read from the file's events with mido, since pretty_midi does not keep channels.
    All None when that is unknown: ``source`` is a ``PrettyMIDI`` (no file events), or
    the file's instruments cannot be matched one-to-one (a pretty_midi whose rule
    differs). ``pm`` is the already parsed ``source``, to save parsing it again.
    """
    import mido
    pretty_midi = quiet_imports.pretty_midi()

    pm = read_midi(source) if pm is None else pm
    unknown: list[int | None] = [None] * len(pm.instruments)
    if isinstance(source, pretty_midi.PrettyMIDI):
        return unknown
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if isinstance(source, (bytes, bytearray)):
                midi_file = mido.MidiFile(file=io.BytesIO(bytes(source)), charset="latin1")
            else:
                midi_file = mido.MidiFile(os.fspath(source), charset="latin1")
    except Exception:  # read_midi parsed it already; a second failure means "unknown"
        return unknown
    keys = _instrument_keys(midi_file)
    # The replay must agree with pretty_midi on every instrument, or no channel is given.
    if len(keys) != len(pm.instruments) or any(
            inst.program != program or inst.is_drum != (channel == 9)
            for inst, (program, channel, _) in zip(pm.instruments, keys)):
        return unknown
    return [channel for _, channel, _ in keys]


__all__ = ["MidiSource", "load_notes", "read_midi", "apply_sustain", "pedal_intervals",
           "SUSTAIN_CC", "count_drum_notes", "instrument_channels"]
