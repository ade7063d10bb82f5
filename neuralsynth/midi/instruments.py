"""Instrument names: the paper's ten, the 128 General MIDI programs, and short aliases.

Canonical names are snake_case. The ten instruments of the Mel2Mel paper have their own
names (``grand_piano``, ...); every General MIDI program has its standard name in
snake_case (``acoustic_grand_piano`` ... ``gunshot``). Aliases (``piano``, ``organ``,
...) are shorthands for a paper instrument; when resolving against the instruments a
model knows, an alias or name also matches a known name with the same GM program, so
``piano`` finds ``grand_piano`` in a 10-instrument model and ``acoustic_grand_piano`` in
one trained on GM names.
"""

from __future__ import annotations

from typing import Iterable

from neuralsynth.errors import TimbreError, did_you_mean

# The 10 instruments of the paper with the GM program FluidSynth renders them with.
PAPER_PROGRAMS: dict[str, int] = {
    "grand_piano": 0,
    "electric_piano": 4,
    "vibraphone": 11,
    "church_organ": 19,
    "acoustic_guitar": 24,
    "pizzicato_strings": 45,
    "orchestral_harp": 46,
    "string_ensemble": 48,
    "trumpet": 56,
    "synth_lead": 80,
}
PAPER_INSTRUMENTS: list[str] = list(PAPER_PROGRAMS)

# General MIDI level 1 program names, index = program number.
GM_PROGRAMS: list[str] = [
    # 0-7 piano
    "acoustic_grand_piano", "bright_acoustic_piano", "electric_grand_piano",
    "honky_tonk_piano", "electric_piano_1", "electric_piano_2", "harpsichord", "clavinet",
    # 8-15 chromatic percussion
    "celesta", "glockenspiel", "music_box", "vibraphone", "marimba", "xylophone",
    "tubular_bells", "dulcimer",
    # 16-23 organ
    "drawbar_organ", "percussive_organ", "rock_organ", "church_organ", "reed_organ",
    "accordion", "harmonica", "tango_accordion",
    # 24-31 guitar
    "acoustic_guitar_nylon", "acoustic_guitar_steel", "electric_guitar_jazz",
    "electric_guitar_clean", "electric_guitar_muted", "overdriven_guitar",
    "distortion_guitar", "guitar_harmonics",
    # 32-39 bass
    "acoustic_bass", "electric_bass_finger", "electric_bass_pick", "fretless_bass",
    "slap_bass_1", "slap_bass_2", "synth_bass_1", "synth_bass_2",
    # 40-47 strings
    "violin", "viola", "cello", "contrabass", "tremolo_strings", "pizzicato_strings",
    "orchestral_harp", "timpani",
    # 48-55 ensemble
    "string_ensemble_1", "string_ensemble_2", "synth_strings_1", "synth_strings_2",
    "choir_aahs", "voice_oohs", "synth_choir", "orchestra_hit",
    # 56-63 brass
    "trumpet", "trombone", "tuba", "muted_trumpet", "french_horn", "brass_section",
    "synth_brass_1", "synth_brass_2",
    # 64-71 reed
    "soprano_sax", "alto_sax", "tenor_sax", "baritone_sax", "oboe", "english_horn",
    "bassoon", "clarinet",
    # 72-79 pipe
    "piccolo", "flute", "recorder", "pan_flute", "blown_bottle", "shakuhachi", "whistle",
    "ocarina",
    # 80-87 synth lead
    "lead_1_square", "lead_2_sawtooth", "lead_3_calliope", "lead_4_chiff",
    "lead_5_charang", "lead_6_voice", "lead_7_fifths", "lead_8_bass_lead",
    # 88-95 synth pad
    "pad_1_new_age", "pad_2_warm", "pad_3_polysynth", "pad_4_choir", "pad_5_bowed",
    "pad_6_metallic", "pad_7_halo", "pad_8_sweep",
    # 96-103 synth effects
    "fx_1_rain", "fx_2_soundtrack", "fx_3_crystal", "fx_4_atmosphere", "fx_5_brightness",
    "fx_6_goblins", "fx_7_echoes", "fx_8_sci_fi",
    # 104-111 ethnic
    "sitar", "banjo", "shamisen", "koto", "kalimba", "bagpipe", "fiddle", "shanai",
    # 112-119 percussive
    "tinkle_bell", "agogo", "steel_drums", "woodblock", "taiko_drum", "melodic_tom",
    "synth_drum", "reverse_cymbal",
    # 120-127 sound effects
    "guitar_fret_noise", "breath_noise", "seashore", "bird_tweet", "telephone_ring",
    "helicopter", "applause", "gunshot",
]
assert len(GM_PROGRAMS) == 128 and len(set(GM_PROGRAMS)) == 128

# Short names for the paper instruments (none of them is a GM name).
ALIASES: dict[str, str] = {
    "piano": "grand_piano",
    "grand": "grand_piano",
    "epiano": "electric_piano",
    "e_piano": "electric_piano",
    "rhodes": "electric_piano",
    "vibes": "vibraphone",
    "vibe": "vibraphone",
    "organ": "church_organ",
    "guitar": "acoustic_guitar",
    "nylon_guitar": "acoustic_guitar",
    "pizzicato": "pizzicato_strings",
    "pizz": "pizzicato_strings",
    "harp": "orchestral_harp",
    "strings": "string_ensemble",
    "ensemble": "string_ensemble",
    "lead": "synth_lead",
    "synth": "synth_lead",
    "square_lead": "synth_lead",
}

_GM_INDEX = {name: i for i, name in enumerate(GM_PROGRAMS)}

# The 28 GM programs left out of the 100-instrument space (group ``gm100``), with why.
# What stays: 15 of the 16 GM families, every one of the paper's ten programs.
GM100_EXCLUDED: dict[int, str] = {
    **{p: "sound effect, not a pitched instrument" for p in range(120, 128)},
    115: "unpitched percussion", 116: "unpitched percussion", 117: "unpitched percussion",
    118: "unpitched percussion", 119: "unpitched percussion (a reversed cymbal swell)",
    113: "two-tone bell: the pitch follows the key only loosely",
    96: "noise texture (rain) whose sound does not follow the notes",
    97: "slow pad whose sound evolves for seconds regardless of the notes",
    101: "evolving texture (goblins) that does not follow the notes",
    102: "echo effect: repeats that outlast and blur the notes",
    103: "evolving texture (sci-fi) that does not follow the notes",
    55: "one-shot orchestra hit that ignores note length",
    31: "guitar harmonics sound an octave or more above the written key",
    23: "near duplicate of accordion (21) in General MIDI SoundFonts",
    34: "near duplicate of electric bass (finger) (33)",
    37: "near duplicate of slap bass 1 (36)",
    39: "near duplicate of synth bass 1 (38)",
    49: "near duplicate of string ensemble 1 (48), slower attack",
    51: "near duplicate of synth strings 1 (50)",
    63: "near duplicate of synth brass 1 (62)",
}
#: The 100 GM programs of the 100-instrument timbre space, in program order.
GM100_PROGRAMS: list[int] = [p for p in range(128) if p not in GM100_EXCLUDED]
assert len(GM100_PROGRAMS) == 100


def _normalise(name: str) -> str:
    """``'Grand Piano'``, ``'grand-piano'`` → ``'grand_piano'``."""
    return "_".join(name.strip().lower().replace("-", " ").replace("_", " ").split())


def _program(canonical: str) -> int | None:
    if canonical in PAPER_PROGRAMS:
        return PAPER_PROGRAMS[canonical]
    return _GM_INDEX.get(canonical)


def program_of(name: str) -> int:
    """GM program 0..127 of an instrument name, alias or GM name."""
    return _program(resolve_instrument(name))  # type: ignore[return-value]


def _candidates(key: str) -> list[str]:
    """Names ``key`` may stand for, best first: itself, its alias target, same program."""
    out: list[str] = [key]
    target = ALIASES.get(key)
    if target is not None:
        out.append(target)
    program = _program(out[-1])
    if program is not None:
        out += [n for n, p in PAPER_PROGRAMS.items() if p == program]
        out.append(GM_PROGRAMS[program])
    return list(dict.fromkeys(out))


def resolve_instrument(name: str, known: Iterable[str] | None = None) -> str:
    """The canonical instrument ``name`` refers to.

    Accepts a canonical name, an alias or a GM program name (case, spaces and hyphens
    are forgiven). With ``known`` the answer is one of ``known``: an alias or name maps
    onto the known name with the same GM program (``'piano'`` → ``'grand_piano'`` or
    ``'acoustic_grand_piano'``). Raises :class:`TimbreError` with a did-you-mean.
    """
    if not isinstance(name, str) or not name.strip():
        raise TimbreError(f"instrument name must be a non-empty string, got {name!r}")
    key = _normalise(name)
    if known is None:
        if key in PAPER_PROGRAMS or key in _GM_INDEX:
            return key
        if key in ALIASES:
            return ALIASES[key]
        options = [*PAPER_INSTRUMENTS, *ALIASES, *GM_PROGRAMS]
        raise TimbreError(f"unknown instrument '{name}'{did_you_mean(key, options)}; known: "
                          f"{', '.join(PAPER_INSTRUMENTS)}, their aliases "
                          f"({', '.join(ALIASES)}) and the 128 General MIDI program names "
                          f"(acoustic_grand_piano ... gunshot)")

    known_list = list(known)
    if name in known_list:                 # custom names are matched verbatim first
        return name
    known_set = set(known_list)
    for cand in _candidates(key):
        if cand in known_set:
            return cand
    # Offer names the user could have meant: the known ones and aliases that reach them.
    reachable = [a for a in ALIASES if any(c in known_set for c in _candidates(a))]
    hint = did_you_mean(key, [*known_list, *reachable])
    listing = ", ".join(known_list) or "(none)"
    if _program(ALIASES.get(key, key)) is not None:
        raise TimbreError(f"instrument '{name}' is not one this model knows{hint}; "
                          f"known: {listing}")
    raise TimbreError(f"unknown instrument '{name}'{hint}; known: {listing}")


#: Names that stand for a set of instruments when building a dataset.
GROUPS = {"paper": "the 10 instruments of the paper",
          "gm": "all 128 General MIDI programs",
          "gm100": "the 100 GM programs of the 100-instrument space (docs/gm100.md)",
          "gm:A-B": "General MIDI programs A to B (0-based, inclusive), e.g. gm:0-99"}


def expand_instruments(names: Iterable[str]) -> list[str]:
    """Canonical names for ``names``, with groups expanded, in order and without repeats.

    Besides single names (see :func:`resolve_instrument`), ``paper`` is the paper's ten
    instruments, ``gm`` the 128 General MIDI programs, ``gm100`` the 100 of them in the
    100-instrument space and ``gm:0-99`` a range of them.
    """
    out: list[str] = []
    for name in names:
        # groups are matched before normalising, which would turn 'gm:0-99' into 'gm:0_99'
        key = name.strip().lower() if isinstance(name, str) else name
        if key == "paper":
            out += PAPER_INSTRUMENTS
        elif key == "gm":
            out += GM_PROGRAMS
        elif key == "gm100":
            out += [GM_PROGRAMS[p] for p in GM100_PROGRAMS]
        elif isinstance(key, str) and key.startswith("gm:"):
            lo_text, sep, hi_text = key[3:].partition("-")
            try:
                lo, hi = int(lo_text), int(hi_text if sep else lo_text)
            except ValueError:
                raise TimbreError(f"instrument range '{name}' must look like gm:0-99") from None
            if not 0 <= lo <= hi <= 127:
                raise TimbreError(f"instrument range '{name}' must satisfy "
                                  f"0 <= first <= last <= 127")
            out += GM_PROGRAMS[lo:hi + 1]
        else:
            out.append(resolve_instrument(name))
    return list(dict.fromkeys(out))


__all__ = ["PAPER_INSTRUMENTS", "PAPER_PROGRAMS", "GM_PROGRAMS", "GM100_PROGRAMS",
           "GM100_EXCLUDED", "ALIASES", "GROUPS",
           "resolve_instrument", "program_of", "expand_instruments"]
