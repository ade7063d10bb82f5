"""The synthesiser events of a MIDI file: pitched notes and sustain pedal, in order."""

from __future__ import annotations

import dataclasses
import os

from neuralsynth.midi.read import SUSTAIN_CC, read_midi

#: MIDI channel 10 (index 9) is the GM drum channel; pitched tracks avoid it.
MELODIC_CHANNELS = tuple(c for c in range(16) if c != 9)
# Event kinds, numbered in the order they are applied at one sample position: releases
# first (so a key released and struck again at the same instant sounds again), then
# pedal changes, then new notes.
NOTE_OFF, CONTROL, NOTE_ON = 0, 1, 2


@dataclasses.dataclass
class MidiEvents:
    """Timed synthesiser events of one piece.

    ``events`` are ``(sample, kind, channel, a, b)`` tuples sorted by time, then kind:
    ``NOTE_ON (key, velocity)``, ``NOTE_OFF (key, 0)`` or ``CONTROL (number, value)``.
    ``n_channels`` channels are used; ``end`` is the last note-off in seconds.
    """

    events: list[tuple[int, int, int, int, int]]
    n_channels: int
    end: float


def midi_events(path: str | os.PathLike, sample_rate: int) -> MidiEvents:
    """Note and sustain-pedal events of the pitched tracks of a MIDI file.

    Each pitched track keeps its own channel (so its pedal only affects its notes);
    drums, program changes, pitch bends and other controllers are dropped because the
    piano-roll input cannot represent them and the instrument is forced anyway.
    """
    pm = read_midi(path)
    events: list[tuple[int, int, int, int, int]] = []
    end = 0.0
    tracks = [inst for inst in pm.instruments if not inst.is_drum and inst.notes]
    for i, inst in enumerate(tracks):
        ch = MELODIC_CHANNELS[i % len(MELODIC_CHANNELS)]
        for note in inst.notes:
            on = int(round(note.start * sample_rate))
            # a zero-length note still gets one sample, so its note-off cannot sort
            # before its note-on and leave it hanging
            off = max(int(round(note.end * sample_rate)), on + 1)
            events.append((on, NOTE_ON, ch, int(note.pitch), int(note.velocity)))
            events.append((off, NOTE_OFF, ch, int(note.pitch), 0))
            end = max(end, float(note.end))
        for cc in inst.control_changes:
            if cc.number == SUSTAIN_CC:
                events.append((int(round(cc.time * sample_rate)), CONTROL, ch,
                               SUSTAIN_CC, int(cc.value)))
    events.sort()
    n_channels = min(len(tracks), len(MELODIC_CHANNELS))
    return MidiEvents(events, max(n_channels, 1), end)
