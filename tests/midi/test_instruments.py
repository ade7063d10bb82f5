"""Instrument names, GM programs, aliases and resolution (neuralsynth.midi.instruments)."""

from __future__ import annotations

import re

import pretty_midi
import pytest

from neuralsynth.errors import TimbreError, UsageError
from neuralsynth.midi.instruments import (
    ALIASES,
    GM_PROGRAMS,
    PAPER_INSTRUMENTS,
    program_of,
    resolve_instrument,
)

PAPER = {"grand_piano": 0, "electric_piano": 4, "vibraphone": 11, "church_organ": 19,
         "acoustic_guitar": 24, "pizzicato_strings": 45, "orchestral_harp": 46,
         "string_ensemble": 48, "trumpet": 56, "synth_lead": 80}


def test_paper_instruments_and_programs():
    assert PAPER_INSTRUMENTS == list(PAPER)
    for name, program in PAPER.items():
        assert program_of(name) == program


def test_gm_names_match_pretty_midi():
    def snake(s: str) -> str:
        return "_".join(re.sub(r"[^a-z0-9]+", " ", s.lower()).split())

    assert len(GM_PROGRAMS) == 128
    assert GM_PROGRAMS == [snake(n) for n in pretty_midi.INSTRUMENT_MAP]
    assert GM_PROGRAMS[0] == "acoustic_grand_piano" and GM_PROGRAMS[-1] == "gunshot"
    for i, name in enumerate(GM_PROGRAMS):
        assert program_of(name) == i
        assert resolve_instrument(name) == name


def test_aliases_point_at_paper_instruments_and_clash_with_nothing():
    for short in ("piano", "epiano", "vibes", "organ", "guitar", "pizzicato", "harp",
                  "strings", "lead"):
        assert ALIASES[short] in PAPER_INSTRUMENTS
        assert resolve_instrument(short) == ALIASES[short]
    assert not set(ALIASES) & (set(GM_PROGRAMS) | set(PAPER_INSTRUMENTS))
    assert resolve_instrument("piano") == "grand_piano"
    assert resolve_instrument("organ") == "church_organ"
    assert program_of("lead") == 80


def test_spelling_is_forgiven():
    assert resolve_instrument("Grand Piano") == "grand_piano"
    assert resolve_instrument(" electric-piano ") == "electric_piano"
    assert resolve_instrument("ACOUSTIC_GRAND_PIANO") == "acoustic_grand_piano"


def test_resolve_against_known_names():
    ten = list(PAPER)
    gm = ["acoustic_grand_piano", "church_organ", "violin"]
    assert resolve_instrument("piano", known=ten) == "grand_piano"
    assert resolve_instrument("piano", known=gm) == "acoustic_grand_piano"
    assert resolve_instrument("grand_piano", known=gm) == "acoustic_grand_piano"
    assert resolve_instrument("acoustic_grand_piano", known=ten) == "grand_piano"
    assert resolve_instrument("organ", known=gm) == "church_organ"
    assert resolve_instrument("violin", known=gm) == "violin"
    # with both spellings known, the name asked for wins
    both = ["grand_piano", "acoustic_grand_piano"]
    assert resolve_instrument("acoustic_grand_piano", known=both) == "acoustic_grand_piano"
    assert resolve_instrument("piano", known=both) == "grand_piano"
    # names outside our tables (a custom dataset) match verbatim
    assert resolve_instrument("MyTheremin", known=["MyTheremin"]) == "MyTheremin"


def test_unknown_name_suggests_and_lists():
    with pytest.raises(TimbreError) as exc:
        resolve_instrument("pianno")
    msg = str(exc.value)
    assert msg.startswith("unknown instrument 'pianno' (did you mean 'piano'?); known: ")
    assert "grand_piano" in msg and "\n" not in msg
    assert isinstance(exc.value, UsageError) and exc.value.exit_code == 2


def test_unknown_with_known_list():
    with pytest.raises(TimbreError) as exc:
        resolve_instrument("orgn", known=["grand_piano", "church_organ"])
    assert str(exc.value) == ("unknown instrument 'orgn' (did you mean 'organ'?); "
                              "known: grand_piano, church_organ")
    # a real instrument the model was not trained on
    with pytest.raises(TimbreError, match="not one this model knows; known: grand_piano$"):
        resolve_instrument("trumpet", known=["grand_piano"])
    with pytest.raises(TimbreError, match="did you mean 'trumpet'"):
        resolve_instrument("trumpt", known=["grand_piano", "trumpet"])


@pytest.mark.parametrize("bad", ["", "   ", None, 3])
def test_rejects_non_names(bad):
    with pytest.raises(TimbreError, match="non-empty string"):
        resolve_instrument(bad)


def test_program_of_unknown():
    with pytest.raises(TimbreError, match="unknown instrument 'kazoo'"):
        program_of("kazoo")


def test_groups_expand_for_datasets():
    from neuralsynth.midi.instruments import GM_PROGRAMS, PAPER_INSTRUMENTS, expand_instruments

    assert expand_instruments(["paper"]) == list(PAPER_INSTRUMENTS)
    assert expand_instruments(["gm"]) == list(GM_PROGRAMS)
    hundred = expand_instruments(["gm:0-99"])
    assert len(hundred) == 100 and hundred[0] == "acoustic_grand_piano"
    assert expand_instruments(["GM:5"]) == [GM_PROGRAMS[5]]
    # order kept, repeats dropped, aliases resolved
    assert expand_instruments(["organ", "piano", "church_organ"]) == ["church_organ",
                                                                       "grand_piano"]


@pytest.mark.parametrize("bad", ["gm:5-200", "gm:9-3", "gm:a-b", "gm:-1"])
def test_bad_groups_are_refused(bad):
    from neuralsynth.errors import TimbreError
    from neuralsynth.midi.instruments import expand_instruments

    with pytest.raises(TimbreError, match="instrument range"):
        expand_instruments([bad])


def test_gm100_is_documented_and_keeps_the_paper_instruments():
    from pathlib import Path

    from neuralsynth.midi.instruments import (
        GM100_EXCLUDED,
        GM100_PROGRAMS,
        PAPER_PROGRAMS,
        expand_instruments,
    )

    names = expand_instruments(["gm100"])
    assert len(names) == len(set(names)) == 100
    assert names == [GM_PROGRAMS[p] for p in GM100_PROGRAMS]
    assert set(GM100_PROGRAMS) | set(GM100_EXCLUDED) == set(range(128))
    assert set(PAPER_PROGRAMS.values()) <= set(GM100_PROGRAMS)
    # 15 of the 16 families keep at least one program (sound effects keep none).
    assert len({p // 8 for p in GM100_PROGRAMS}) == 15
    # Every left-out program is in docs/gm100.md with its reason, and the recipe lists
    # exactly the 100.
    root = Path(__file__).resolve().parents[2]
    doc = (root / "docs" / "gm100.md").read_text()
    for p, why in GM100_EXCLUDED.items():
        assert f"| {p} | {GM_PROGRAMS[p]} | {why} |" in doc
    from neuralsynth.recipe.load import load_recipe

    recipe = load_recipe(root / "recipes" / "mel2mel_100inst.yaml")
    assert list(recipe.data.instruments) == names
