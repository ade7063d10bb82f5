"""Which timbre each track of a MIDI file is rendered with, decided before any rendering.

For every pitched track with notes, in order of precedence:

1. the last ``--track SELECTOR=TIMBRE`` rule that selects it
   (:mod:`neuralsynth.midi.track_rules`);
2. with ``--gm``, the General MIDI table's timbre for its program, restricted to the
   model's instruments (:func:`neuralsynth.timbre.gm_map.gm_timbre`), unless the model
   has none of that entry's instruments;
3. the default timbre (``--timbre``, else the model's default).

Tracks that end up with the same timbre text form one :class:`TrackGroup`, rendered
together (one pass through the model and the vocoder with the notes of all its
tracks); the groups' audio is then mixed and loudness-normalised once. Drum tracks are
never rendered and are counted in :attr:`TrackPlan.drum_notes_skipped`. Only the MIDI
file is read here, so every mistake in the rules is reported before a long render.
"""

from __future__ import annotations

import dataclasses
from typing import Literal, Sequence

from neuralsynth.errors import MidiError, TimbreError, UsageError
from neuralsynth.inference.load import default_timbre as model_default
from neuralsynth.midi.read import MidiSource, describe_source
from neuralsynth.midi.track_rules import TrackRule, assign_timbres
from neuralsynth.midi.tracks import TrackInfo, list_tracks
from neuralsynth.timbre.gm_map import gm_timbre
from neuralsynth.timbre.spec import parse_timbre

Origin = Literal["rule", "gm", "default"]
#: Precedence of the reasons, strongest first (a group reports its strongest).
ORIGINS: tuple[str, ...] = ("rule", "gm", "default")


@dataclasses.dataclass(frozen=True)
class TrackGroup:
    """Tracks rendered together with one ``timbre`` (spec text, parsed by the timbre
    layer): ``tracks`` are indices into ``PrettyMIDI.instruments``, ascending, to pass
    as ``load_notes(..., tracks=group.tracks)``. ``origin`` is why the group has this
    timbre, the strongest reason among its tracks (rule > gm > default)."""

    timbre: str
    tracks: tuple[int, ...]
    origin: Origin


@dataclasses.dataclass(frozen=True)
class TrackAssignment:
    """The decision for one track: ``timbre`` None means it is not rendered (a drum
    track, or no notes); ``origin`` is ``rule``/``gm``/``default``, or ``skipped``;
    ``why`` says it in words for the report."""

    track: int
    timbre: str | None
    origin: str
    why: str


@dataclasses.dataclass
class TrackPlan:
    """What a multi-track render does: ``groups`` in order of their first track,
    ``tracks`` (every track of the file, :class:`~neuralsynth.midi.tracks.TrackInfo`),
    ``assignments`` (one per track, same order), ``drum_notes_skipped`` (notes on drum
    tracks, not rendered)."""

    groups: list[TrackGroup]
    tracks: list[TrackInfo]
    assignments: list[TrackAssignment]
    drum_notes_skipped: int

    def timbre_of(self, index: int) -> str | None:
        """The timbre track ``index`` is rendered with (None: not rendered)."""
        return self.assignments[index].timbre

    def report_lines(self) -> list[str]:
        """One aligned line per track, as ``neuralsynth render`` prints them::

            track 0  Piano  acoustic_grand_piano (0)  212 notes -> grand_piano (gm: ...)
            track 4  Drums  drums                     310 notes -> skipped (310 drum notes)
        """
        if not self.tracks:
            return []
        names = [t.name or "-" for t in self.tracks]
        programs = [t.program_name if t.is_drum else f"{t.program_name} ({t.program})"
                    for t in self.tracks]
        w_index = max(len(str(t.index)) for t in self.tracks)
        w_name = max(len(n) for n in names)
        w_program = max(len(p) for p in programs)
        w_notes = max(len(str(t.n_notes)) for t in self.tracks)
        lines = []
        for t, name, program, a in zip(self.tracks, names, programs, self.assignments):
            unit = "note " if t.n_notes == 1 else "notes"
            if a.timbre is None:
                outcome = f"skipped ({a.why})"
            else:
                outcome = f"{a.timbre} ({a.why})"
            lines.append(f"track {t.index:>{w_index}}  {name:<{w_name}}  "
                         f"{program:<{w_program}}  {t.n_notes:>{w_notes}} {unit} -> "
                         f"{outcome}")
        return lines


def _default(default_timbre: str | None, instruments: Sequence[str]) -> str:
    if default_timbre is not None and default_timbre.strip():
        return default_timbre.strip()
    if not instruments:
        raise UsageError("the model lists no instruments, so there is no default timbre")
    return model_default(list(instruments))


def _check_timbre(spec: str, rule: TrackRule | None, instruments: Sequence[str],
                  embedding_dim: int) -> None:
    """Parse ``spec`` now, so a bad timbre fails before rendering, naming its source."""
    try:
        parse_timbre(spec, list(instruments), embedding_dim)
    except TimbreError as exc:
        if rule is not None:
            raise rule.error(str(exc)) from None
        raise TimbreError(f"default timbre (for tracks no rule or --gm decides): {exc}") \
            from None


def plan_tracks(source: MidiSource, rules: Sequence[str | TrackRule] = (), *, gm: bool,
                default_timbre: str | None, instruments: Sequence[str],
                embedding_dim: int | None = None) -> TrackPlan:
    """Decide every track's timbre for ``source`` (a path, MIDI bytes or a PrettyMIDI).

    ``rules``: ``--track`` rules, later ones winning; ``gm``: use the General MIDI table
    for tracks no rule selects; ``default_timbre``: for the rest (None: ``piano`` if the
    model has one, else its first instrument); ``instruments``: the model's instrument
    names. With ``embedding_dim`` (the model's timbre-space size) every timbre is also
    parsed, so an unknown instrument in a rule is reported here, naming the rule.

    Raises :class:`~neuralsynth.errors.MidiError` for an unreadable file or one without
    pitched notes, and :class:`~neuralsynth.errors.UsageError` for a bad rule.
    """
    tracks = list_tracks(source)
    by_rule = assign_timbres(rules, tracks)
    fallback = _default(default_timbre, instruments)

    assignments: list[TrackAssignment] = []
    for t in tracks:
        if t.is_drum:
            n = t.n_notes
            assignments.append(TrackAssignment(
                t.index, None, "skipped", f"{n} drum note{'s' if n != 1 else ''}"))
        elif not t.has_notes:
            assignments.append(TrackAssignment(t.index, None, "skipped", "no notes"))
        elif t.index in by_rule:
            rule = by_rule[t.index]
            assignments.append(TrackAssignment(t.index, rule.timbre, "rule",
                                               f"--track '{rule.text}'"))
        elif gm and (spec := gm_timbre(t.program, instruments)) is not None:
            assignments.append(TrackAssignment(t.index, spec, "gm",
                                               f"--gm, program {t.program}"))
        elif gm:
            assignments.append(TrackAssignment(
                t.index, fallback, "default",
                f"default timbre; --gm: the model has no instrument for program "
                f"{t.program}"))
        else:
            assignments.append(TrackAssignment(t.index, fallback, "default",
                                               "default timbre"))

    if not any(a.timbre is not None for a in assignments):
        has_drums = any(t.is_drum and t.has_notes for t in tracks)
        why = "only drum notes" if has_drums else "no notes"
        raise MidiError(f"{describe_source(source)}: nothing to play ({why}; pitched notes "
                        f"are needed)")

    if embedding_dim is not None:
        checked: set[str] = set()
        for a in assignments:
            if a.timbre is not None and a.timbre not in checked:
                _check_timbre(a.timbre, by_rule.get(a.track) if a.origin == "rule"
                              else None, instruments, embedding_dim)
                checked.add(a.timbre)

    grouped: dict[str, list[TrackAssignment]] = {}
    for a in assignments:
        if a.timbre is not None:
            grouped.setdefault(a.timbre, []).append(a)
    groups = [TrackGroup(timbre=timbre, tracks=tuple(a.track for a in members),
                         origin=min((a.origin for a in members),
                                    key=ORIGINS.index))  # type: ignore[arg-type]
              for timbre, members in grouped.items()]
    drums = sum(t.n_notes for t in tracks if t.is_drum)
    return TrackPlan(groups=groups, tracks=tracks, assignments=assignments,
                     drum_notes_skipped=drums)


__all__ = ["ORIGINS", "TrackAssignment", "TrackGroup", "TrackPlan", "plan_tracks"]
