"""``--track SELECTOR=TIMBRE`` rules: parsing, matching, precedence, every error."""

from __future__ import annotations

import pytest

from neuralsynth.errors import UsageError
from neuralsynth.midi.track_rules import assign_timbres, match_rule, parse_track_rule
from neuralsynth.midi.tracks import TrackInfo


def track(index: int, name: str, program: int, n_notes: int = 10, *,
          drum: bool = False) -> TrackInfo:
    return TrackInfo(index=index, name=name, program=program,
                     program_name="drums" if drum else f"p{program}",
                     channel=9 if drum else index, n_notes=n_notes,
                     lowest=40 if n_notes else None, highest=70 if n_notes else None,
                     is_drum=drum)


# An arrangement: two pianos, a bass, two brass, a sax, drums named like a pitched
# track, and a track without notes.
TRACKS = [
    track(0, "Piano", 0),
    track(1, "Lead Sax", 65),
    track(2, "Bass", 33),
    track(3, "Trumpet 1", 56),
    track(4, "Trumpet 2", 56),
    track(5, "Drums", 0, 300, drum=True),
    track(6, "Piano", 1),
    track(7, "Bass", 0, 40, drum=True),          # shares its name with track 2
    track(8, "Empty", 48, 0),
    track(9, "a=b", 19),
    track(10, "7", 24),
]


def rule_error(text: str) -> str:
    with pytest.raises(UsageError) as err:
        assign_timbres([text], TRACKS)
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"--track '{text}': ")
    return message


# -- parsing and selecting ----------------------------------------------------------
def test_index_selector():
    rule = parse_track_rule("3=trumpet")
    assert rule.selector.index == 3 and rule.timbre == "trumpet"
    assert match_rule(rule, TRACKS) == (3,)


def test_name_selector_is_case_insensitive_exact_and_skips_drums():
    assert match_rule(parse_track_rule("piano=organ"), TRACKS) == (0, 6)
    assert match_rule(parse_track_rule("PIANO=organ"), TRACKS) == (0, 6)
    assert match_rule(parse_track_rule("lead  sax=trumpet"), TRACKS) == (1,)
    # "Bass" names a pitched track and a drum track: only the pitched one is selected
    assert match_rule(parse_track_rule("bass=pizz"), TRACKS) == (2,)
    with pytest.raises(UsageError, match="no track is named 'trumpet'"):
        match_rule(parse_track_rule("trumpet=organ"), TRACKS)   # not a prefix match


def test_quoted_names():
    rule = parse_track_rule('"Lead Sax"=trumpet:0.6,organ:0.4')
    assert rule.selector.name == "lead sax" and rule.timbre == "trumpet:0.6,organ:0.4"
    assert match_rule(parse_track_rule('"a=b"=organ'), TRACKS) == (9,)
    # digits in quotes are a name, not an index
    assert match_rule(parse_track_rule('"7"=guitar'), TRACKS) == (10,)
    # unquoted, 7 is track index 7 (a drum track here), not the track named "7"
    with pytest.raises(UsageError, match="track 7 is a drum track"):
        match_rule(parse_track_rule("7=guitar"), TRACKS)


def test_program_selectors():
    assert match_rule(parse_track_rule("program:56=trumpet"), TRACKS) == (3, 4)
    assert match_rule(parse_track_rule("program:56-71=trumpet"), TRACKS) == (1, 3, 4)
    assert match_rule(parse_track_rule("PROGRAM: 0 - 1 =piano"), TRACKS) == (0, 6)
    # program 0 is also the drum kits' program; drums are left out
    assert match_rule(parse_track_rule("program:0=piano"), TRACKS) == (0,)
    assert parse_track_rule("program:0-127=piano").selector.programs == (0, 127)


def test_split_on_the_first_equals_and_timbre_kept_as_text():
    rule = parse_track_rule(" 2 = piano@0s,organ@8s ")
    assert (rule.selector.index, rule.timbre) == (2, "piano@0s,organ@8s")
    assert parse_track_rule("bass=xy:0.5,-1.2").timbre == "xy:0.5,-1.2"
    assert parse_track_rule("bass=a=b").timbre == "a=b"     # the timbre layer judges it


def test_later_rule_wins():
    plan = assign_timbres(["program:0-127=piano", "bass=pizz", "program:56=trumpet",
                           "3=organ"], TRACKS)
    timbres = {i: r.timbre for i, r in plan.items()}
    assert timbres == {0: "piano", 1: "piano", 2: "pizz", 3: "organ", 4: "trumpet",
                       6: "piano", 9: "piano", 10: "piano"}
    # and the other way round the broad rule overrides everything
    plan = assign_timbres(["bass=pizz", "program:0-127=piano"], TRACKS)
    assert plan[2].timbre == "piano"
    assert assign_timbres([], TRACKS) == {}


# -- errors, one line each, naming the rule ------------------------------------------
def test_no_equals():
    assert "no '='" in rule_error("bass")
    assert "e.g. --track bass=pizzicato_strings" in rule_error("bass")


def test_empty_sides():
    assert "nothing before '='" in rule_error("=piano")
    assert "nothing before '='" in rule_error('""=piano')
    assert "no timbre after '='" in rule_error("bass=")
    assert "no timbre after '='" in rule_error("bass=   ")


def test_quoted_name_without_equals():
    message = rule_error('"Lead Sax" trumpet')
    assert "expected '=' after the quoted name \"Lead Sax\"" in message


def test_index_out_of_range_says_how_many_tracks():
    message = rule_error("11=piano")
    assert message.endswith("there is no track 11; the file has 11 tracks, 0-10 "
                            "(see `neuralsynth tracks`)")
    with pytest.raises(UsageError, match=r"the file has 1 track, 0 "):
        assign_timbres(["1=piano"], TRACKS[:1])


def test_unknown_name_with_did_you_mean():
    message = rule_error("bas=pizz")
    assert "no track is named 'bas' (did you mean 'bass'?)" in message
    assert "track names: 'Piano', 'Lead Sax', 'Bass', 'Trumpet 1'" in message
    assert "'Drums'" not in message                   # drum names are not offered
    assert "did you mean" not in rule_error("zzz=pizz")


def test_selector_matching_no_track():
    message = rule_error("program:100-110=piano")
    assert "no pitched track is on programs 100-110" in message
    assert "the file's programs: 0, 1, 19, 24, 33, 48, 56, 65" in message
    assert "no pitched track is on program 57;" in rule_error("program:57=piano")


def test_selector_matching_only_drums():
    assert "track 5 is a drum track; drums are not rendered" in rule_error("5=piano")
    assert "name 'drums' matches only drum tracks" in rule_error("drums=piano")


def test_selector_matching_only_empty_tracks():
    assert "track 8 has no notes, so the rule would change nothing" in rule_error("8=organ")
    assert "name 'empty' has no notes" in rule_error("empty=organ")


@pytest.mark.parametrize("text, needle", [
    ("program:128=piano", "bad program range 'program:128'"),
    ("program:60-50=piano", "bad program range 'program:60-50'"),
    ("program:=piano", "bad program selector 'program:'"),
    ("program:x-y=piano", "bad program selector 'program:x-y'"),
    ("program:-3=piano", "bad program selector 'program:-3'"),
])
def test_bad_program_ranges(text, needle):
    assert needle in rule_error(text)


def test_syntax_of_every_rule_is_checked_before_matching_then_first_bad_match():
    with pytest.raises(UsageError, match=r"--track 'zzz': no '='"):
        assign_timbres(["bass=pizz", "nope=organ", "zzz"], TRACKS)
    with pytest.raises(UsageError, match=r"--track 'nope=organ': no track is named"):
        assign_timbres(["bass=pizz", "nope=organ", "99=organ"], TRACKS)
