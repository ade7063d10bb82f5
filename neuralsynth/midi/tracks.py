"""The tracks of a MIDI file: what each holds, so a render can give each its own timbre.

A *track* here is one entry of pretty_midi's ``PrettyMIDI.instruments`` (one program on
one channel of one file track), and its ``index`` is the position in that list: exactly
what :func:`neuralsynth.midi.read.load_notes` selects with ``tracks=``. A file track
that changes program or plays on several channels therefore shows up as several tracks.
"""

from __future__ import annotations

import dataclasses

from neuralsynth.midi.instruments import GM_PROGRAMS
from neuralsynth.midi.read import MidiSource, instrument_channels, read_midi

#: ``program_name`` of a drum track: its program number picks a drum kit, not a GM
#: instrument, so a GM name would mislead.
DRUMS_NAME = "drums"
_PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def note_name(key: int) -> str:
    """Scientific pitch name of MIDI key ``key``: 60 → ``C4``, 21 → ``A0``, 61 → ``C#4``.
    """
    octave, pitch_class = divmod(int(key), 12)
    return f"{_PITCH_CLASSES[pitch_class]}{octave - 1}"


@dataclasses.dataclass(frozen=True)
class TrackInfo:
    """One track of a MIDI file.

    ``index``: position in ``PrettyMIDI.instruments``; ``name``: the file track's name
    ("" if none); ``program``: GM program 0-127 (a drum kit number for drums);
    ``program_name``: its GM name in snake_case (``"drums"`` for a drum track);
    ``channel``: MIDI channel 0-15 (9 is the GM drum channel), None if unknown;
    ``n_notes``: number of notes; ``lowest``/``highest``: MIDI keys, None without notes;
    ``is_drum``; ``start``/``end``: first note-on and last note-off in seconds, None
    without notes.
    """

    index: int
    name: str
    program: int
    program_name: str
    channel: int | None
    n_notes: int
    lowest: int | None
    highest: int | None
    is_drum: bool
    start: float | None = None
    end: float | None = None

    @property
    def has_notes(self) -> bool:
        return self.n_notes > 0

    @property
    def pitch_range(self) -> str:
        """``C2–G5`` (an en dash), a single name for one key, ``""`` without notes."""
        if self.lowest is None or self.highest is None:
            return ""
        if self.lowest == self.highest:
            return note_name(self.lowest)
        return f"{note_name(self.lowest)}–{note_name(self.highest)}"

    def label(self) -> str:
        """How messages name the track: ``track 3 'Bass'`` (``track 3`` if unnamed)."""
        return f"track {self.index} '{self.name}'" if self.name else f"track {self.index}"

    def as_dict(self) -> dict:
        """A JSON-ready dict of every field plus ``pitch_range``."""
        return {**dataclasses.asdict(self), "pitch_range": self.pitch_range}


def _program_name(program: int, is_drum: bool) -> str:
    if is_drum:
        return DRUMS_NAME
    # a PrettyMIDI built in code may hold any int; a file's programs are 0-127
    return GM_PROGRAMS[program] if 0 <= program < len(GM_PROGRAMS) else f"program_{program}"


def list_tracks(source: MidiSource) -> list[TrackInfo]:
    """Every track of ``source`` (a path, MIDI bytes or a ``PrettyMIDI``), in index order.

    Raises :class:`~neuralsynth.errors.MidiError` (one line) for a file that cannot be
    read, as :func:`~neuralsynth.midi.read.read_midi` does.
    """
    pm = read_midi(source)
    channels = instrument_channels(source, pm)
    out = []
    for index, (inst, channel) in enumerate(zip(pm.instruments, channels)):
        keys = [int(n.pitch) for n in inst.notes]
        program = int(inst.program)
        name = " ".join(str(inst.name or "").split())   # no newlines or tabs in a listing
        out.append(TrackInfo(
            index=index, name=name, program=program,
            program_name=_program_name(program, bool(inst.is_drum)),
            channel=channel, n_notes=len(keys),
            lowest=min(keys) if keys else None, highest=max(keys) if keys else None,
            is_drum=bool(inst.is_drum),
            start=min(float(n.start) for n in inst.notes) if keys else None,
            end=max(float(n.end) for n in inst.notes) if keys else None))
    return out


__all__ = ["DRUMS_NAME", "TrackInfo", "list_tracks", "note_name"]
