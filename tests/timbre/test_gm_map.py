"""The General MIDI → timbre table behind ``--gm``, restricted to a model's instruments."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from neuralsynth.errors import TimbreError
from neuralsynth.midi.instruments import (
    GM_PROGRAMS,
    PAPER_INSTRUMENTS,
    PAPER_PROGRAMS,
    expand_instruments,
)
from neuralsynth.timbre.gm_map import GM_TABLE, gm_markdown, gm_reason, gm_timbre, main
from neuralsynth.timbre.spec import parse_timbre

DOC = Path(__file__).resolve().parents[2] / "docs" / "tracks.md"


def mix(program: int) -> dict[str, float]:
    return dict(GM_TABLE[program].mix)


def test_every_program_has_a_normalised_mix_of_paper_instruments_and_a_reason():
    assert [e.program for e in GM_TABLE] == list(range(128))
    assert [e.name for e in GM_TABLE] == GM_PROGRAMS
    for e in GM_TABLE:
        weights = dict(e.mix)
        assert set(weights) <= set(PAPER_INSTRUMENTS), e
        assert all(w > 0 for w in weights.values()), e
        assert sum(weights.values()) == pytest.approx(1.0), e
        assert e.reason and "\n" not in e.reason
    assert len({e.family for e in GM_TABLE}) == 16
    assert [GM_TABLE[8 * f].family for f in (0, 7, 15)] == ["piano", "brass", "sound effects"]


def test_every_spec_parses_for_the_paper_model():
    for e in GM_TABLE:
        timbre = parse_timbre(gm_timbre(e.program, PAPER_INSTRUMENTS), PAPER_INSTRUMENTS, 2)
        assert timbre.mix() == pytest.approx(dict(e.mix), abs=1e-3)


def test_paper_instruments_map_to_themselves():
    for name, program in PAPER_PROGRAMS.items():
        assert mix(program) == {name: 1.0}
        assert gm_timbre(program, PAPER_INSTRUMENTS) == name


@pytest.mark.parametrize("programs, expected", [
    ((4, 5), {"electric_piano": 1.0}),
    ((6,), {"acoustic_guitar": 0.5, "orchestral_harp": 0.5}),       # harpsichord
    ((52, 53, 54), {"string_ensemble": 0.5, "church_organ": 0.5}),   # choirs
])
def test_named_exceptions(programs, expected):
    for program in programs:
        assert mix(program) == expected


def test_families_use_the_instruments_that_fit():
    for program in range(32, 40):                     # basses: plucked low strings
        assert "pizzicato_strings" in mix(program)
        assert set(mix(program)) <= {"pizzicato_strings", "acoustic_guitar", "synth_lead"}
    for program in range(64, 80):                     # reeds and pipes
        assert set(mix(program)) <= {"trumpet", "church_organ", "synth_lead"}
        assert len(mix(program)) >= 2
    for program in range(88, 96):                     # pads
        assert "string_ensemble" in mix(program)
    assert set(mix(88)) == {"string_ensemble", "synth_lead"}
    assert all(mix(p) == {"trumpet": 1.0} for p in range(56, 62))


def test_restricted_to_the_model_and_renormalised():
    # reed (64): trumpet 0.5 + synth_lead 0.5; a model without the lead keeps the trumpet
    assert gm_timbre(64, ["grand_piano", "trumpet"]) == "trumpet"
    # pipe (73): church_organ 0.6 + synth_lead 0.4 -> both present
    assert gm_timbre(73, ["church_organ", "synth_lead"]) == "church_organ:0.6,synth_lead:0.4"
    # double reeds: synth_lead 0.4, church_organ 0.3, trumpet 0.3; drop the organ
    assert gm_timbre(68, ["trumpet", "synth_lead"]) == "synth_lead:0.571,trumpet:0.429"
    spec = gm_timbre(68, ["trumpet", "synth_lead"])
    assert parse_timbre(spec, ["trumpet", "synth_lead"], 2).mix() == pytest.approx(
        {"synth_lead": 4 / 7, "trumpet": 3 / 7}, abs=1e-3)


def test_none_when_the_model_has_none_of_the_instruments():
    assert gm_timbre(6, ["grand_piano", "church_organ"]) is None         # harpsichord
    assert gm_timbre(56, ["grand_piano"]) is None                        # trumpet
    assert gm_timbre(0, ["church_organ"]) is None


def test_models_with_general_midi_names():
    gm_all = expand_instruments(["gm"])
    for program in (1, 33, 68, 110, 127):             # the program itself, exactly
        assert gm_timbre(program, gm_all) == GM_PROGRAMS[program]
    first100 = expand_instruments(["gm:0-99"])
    # beyond the model's programs: the table, in the model's names
    assert gm_timbre(110, first100) == "string_ensemble_1"               # fiddle
    assert gm_timbre(105, first100) == "acoustic_guitar_nylon"           # banjo
    assert gm_timbre(109, first100) == "church_organ:0.5,lead_1_square:0.5"
    assert gm_timbre(33, first100) == "electric_bass_finger"


def test_aliases_in_the_model_resolve_by_program():
    # a model naming the paper's piano by its GM name still gets the piano mixes
    assert gm_timbre(2, ["acoustic_grand_piano", "electric_piano"]) == \
        "acoustic_grand_piano:0.7,electric_piano:0.3"


@pytest.mark.parametrize("bad", [-1, 128, 3.0, True, "5"])
def test_bad_programs(bad):
    with pytest.raises(TimbreError, match="GM program must be an int 0-127"):
        gm_timbre(bad, PAPER_INSTRUMENTS)
    with pytest.raises(TimbreError):
        gm_reason(bad)


def test_reasons():
    assert "plucked" in gm_reason(6)
    assert gm_reason(40) == gm_reason(43)             # the family's reason


def test_markdown_table_in_the_docs_is_the_generated_one():
    text = DOC.read_text(encoding="utf-8")
    match = re.search(r"<!-- gm-table:start[^\n]*-->\n(.*?)<!-- gm-table:end -->", text,
                      re.S)
    assert match, "docs/tracks.md lost its gm-table markers"
    assert match.group(1) == gm_markdown(), \
        "regenerate with: python -m neuralsynth.timbre.gm_map --markdown"


def test_markdown_rows():
    rows = gm_markdown().splitlines()
    assert len(rows) == 2 + 128
    assert rows[2 + 6] == ("| 6 | harpsichord | piano | acoustic_guitar 50%, orchestral_harp "
                           "50% | harpsichord: plucked, not hammered, strings (guitar and "
                           "harp) |")


def test_module_main(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 128 and out[56].split() == ["56", "trumpet", "trumpet"]
    assert main(["--markdown"]) == 0
    assert capsys.readouterr().out == gm_markdown()
    assert main(["--html"]) == 2
    assert "usage:" in capsys.readouterr().err
