"""``--track SELECTOR=TIMBRE`` rules: which tracks of a MIDI file get which timbre.

    --track 3=trumpet                        track index 3 (see `neuralsynth tracks`)
    --track bass=pizzicato_strings           the track(s) named "bass", any case
    --track 'Lead Sax=trumpet:0.6,organ:0.4' a name with spaces (quote it for the shell)
    --track '"a=b"=organ'                    a name holding '=' (or digits): in quotes
    --track program:33=pizz                  every track on GM program 33 (0-based)
    --track 'program:56-63=trumpet'          programs 56 to 63 (the brass family)

A rule is split at its first ``=`` (a TIMBRE may itself hold ``=``-free mixes, morphs
with ``@`` and ``xy:`` coordinates; it is kept as text here and parsed by the timbre
layer). A selector of digits is a track index; ``program:`` selects GM programs 0-127;
anything else is a track name, matched case-insensitively and exactly (a name between
double quotes is always a name). Selectors never pick drum tracks: a name or program
range that also matches drums leaves them out; one that matches only drums is an error.
When two rules match the same track, **the later rule wins**, so a broad rule followed
by a narrow one reads naturally: ``--track program:0-127=piano --track bass=pizz``.

Every error is one line that quotes the rule (:class:`~neuralsynth.errors.UsageError`).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Sequence

from neuralsynth.errors import UsageError, did_you_mean
from neuralsynth.midi.tracks import TrackInfo

#: Prefix of a GM program selector.
PROGRAM_PREFIX = "program:"
RULE_HELP = ("SELECTOR=TIMBRE, where SELECTOR is a track index ('3'), a track name "
             "('bass') or GM programs ('program:33', 'program:56-63')")
_RANGE = re.compile(r"(\d+)(?:\s*-\s*(\d+))?")


@dataclasses.dataclass(frozen=True)
class TrackSelector:
    """What a rule's left side picks: a track ``index``, a track ``name`` (stored
    case-folded) or the GM programs ``programs = (first, last)``, inclusive.
    Exactly one is set; ``text`` is the selector as written."""

    text: str
    index: int | None = None
    name: str | None = None
    programs: tuple[int, int] | None = None

    def describe(self) -> str:
        """``track 3``, ``name 'bass'``, ``program 33`` or ``programs 56-63``."""
        if self.index is not None:
            return f"track {self.index}"
        if self.name is not None:
            return f"name '{self.name}'"
        first, last = self.programs  # type: ignore[misc]
        return f"program {first}" if first == last else f"programs {first}-{last}"


@dataclasses.dataclass(frozen=True)
class TrackRule:
    """One parsed ``--track`` rule: ``text`` as given, its ``selector`` and ``timbre``
    (the right side, stripped, still unparsed)."""

    text: str
    selector: TrackSelector
    timbre: str

    def error(self, message: str) -> UsageError:
        """A one-line error about this rule: ``--track 'TEXT': message``."""
        return UsageError(f"--track '{self.text}': {message}")


def _split(text: str) -> tuple[str, str, bool]:
    """``(selector, timbre, quoted)``: at the first ``=``, or after a quoted name."""
    body = text.strip()
    if body.startswith('"'):
        close = body.find('"', 1)
        if close > 0:
            rest = body[close + 1:].lstrip()
            if not rest.startswith("="):
                raise UsageError(f"--track '{text}': expected '=' after the quoted name "
                                 f"{body[:close + 1]}; write {RULE_HELP}")
            return body[1:close], rest[1:], True
    selector, sep, timbre = body.partition("=")
    if not sep:
        raise UsageError(f"--track '{text}': no '='; write {RULE_HELP}, "
                         f"e.g. --track bass=pizzicato_strings")
    return selector, timbre, False


def _program_range(rule_text: str, body: str) -> tuple[int, int]:
    match = _RANGE.fullmatch(body.strip())
    if not match:
        raise UsageError(f"--track '{rule_text}': bad program selector "
                         f"'{PROGRAM_PREFIX}{body}'; write {PROGRAM_PREFIX}N or "
                         f"{PROGRAM_PREFIX}A-B with GM program numbers 0-127")
    first = int(match.group(1))
    last = int(match.group(2)) if match.group(2) is not None else first
    if not 0 <= first <= last <= 127:
        raise UsageError(f"--track '{rule_text}': bad program range "
                         f"'{PROGRAM_PREFIX}{body.strip()}'; GM programs are 0-127 and the "
                         f"first must not exceed the last")
    return first, last


def parse_track_rule(text: str) -> TrackRule:
    """Parse one ``SELECTOR=TIMBRE`` rule (syntax only; see :func:`match_rule`).

    Raises :class:`UsageError` for a rule without ``=``, with an empty side, or with a
    malformed or out-of-range ``program:`` selector.
    """
    if not isinstance(text, str):
        raise UsageError(f"--track rule must be text, got {type(text).__name__}")
    selector_text, timbre_text, quoted = _split(text)
    selector_text, timbre = selector_text.strip(), timbre_text.strip()
    if not selector_text:
        raise UsageError(f"--track '{text}': nothing before '='; write {RULE_HELP}")
    if not timbre:
        raise UsageError(f"--track '{text}': no timbre after '='; give one like 'piano', "
                         f"'piano:0.3,organ:0.7' or 'piano@0s,organ@8s'")
    if quoted:
        selector = TrackSelector(text=selector_text, name=_fold(selector_text))
    elif selector_text.isdigit():
        selector = TrackSelector(text=selector_text, index=int(selector_text))
    elif selector_text.lower().startswith(PROGRAM_PREFIX):
        programs = _program_range(text, selector_text[len(PROGRAM_PREFIX):])
        selector = TrackSelector(text=selector_text, programs=programs)
    else:
        selector = TrackSelector(text=selector_text, name=_fold(selector_text))
    return TrackRule(text=text, selector=selector, timbre=timbre)


def _fold(name: str) -> str:
    """Names compare case-insensitively, with runs of spaces counted as one."""
    return " ".join(name.split()).casefold()


def match_rule(rule: TrackRule, tracks: Sequence[TrackInfo]) -> tuple[int, ...]:
    """Indices of the pitched tracks ``rule`` selects among ``tracks`` (all of a file).

    Raises :class:`UsageError` for an index the file lacks (saying how many tracks it
    has), an unknown name (with a did-you-mean), a selector that matches no track, one
    that matches only drum tracks, and one that matches only tracks without notes.
    """
    sel = rule.selector
    if sel.index is not None:
        if sel.index >= len(tracks):
            have = (f"{len(tracks)} tracks, 0-{len(tracks) - 1}" if len(tracks) > 1
                    else "1 track, 0" if tracks else "no tracks")
            raise rule.error(f"there is no track {sel.index}; the file has {have} "
                             f"(see `neuralsynth tracks`)")
        hits = [t for t in tracks if t.index == sel.index]
    elif sel.name is not None:
        hits = [t for t in tracks if _fold(t.name) == sel.name]
        if not hits:
            names = list(dict.fromkeys(t.name for t in tracks if t.name and not t.is_drum))
            # compared folded, so the suggestion is in lower case (and works as typed)
            close = did_you_mean(sel.name, [_fold(n) for n in names])
            listing = ", ".join(f"'{n}'" for n in names) or "none"
            raise rule.error(f"no track is named '{sel.text}'{close}; track names: "
                             f"{listing}")
    else:
        first, last = sel.programs  # type: ignore[misc]
        hits = [t for t in tracks if first <= t.program <= last and not t.is_drum]
        if not hits:
            on = sorted({t.program for t in tracks if not t.is_drum})
            raise rule.error(f"no pitched track is on {sel.describe()}; the file's "
                             f"programs: {', '.join(map(str, on)) or 'none'}")
    pitched = [t for t in hits if not t.is_drum]
    if not pitched:
        what = "is a drum track" if sel.index is not None else "matches only drum tracks"
        raise rule.error(f"{sel.describe()} {what}; drums are not rendered (only pitched "
                         f"tracks take a timbre)")
    playing = [t.index for t in pitched if t.has_notes]
    if not playing:
        raise rule.error(f"{sel.describe()} has no notes, so the rule would change nothing")
    return tuple(playing)


def assign_timbres(rules: Sequence[str | TrackRule],
                   tracks: Sequence[TrackInfo]) -> dict[int, TrackRule]:
    """Which rule decides each track's timbre: ``{track index: rule}``.

    Rules are applied in order and **a later rule overrides an earlier one** on the
    tracks both select. Every rule's syntax is checked, then each is matched in order:
    the first mistake raises, and it does so before anything is rendered.
    """
    parsed = [r if isinstance(r, TrackRule) else parse_track_rule(r) for r in rules]
    out: dict[int, TrackRule] = {}
    for rule in parsed:
        for index in match_rule(rule, tracks):
            out[index] = rule
    return out


__all__ = ["PROGRAM_PREFIX", "RULE_HELP", "TrackRule", "TrackSelector", "assign_timbres",
           "match_rule", "parse_track_rule"]
