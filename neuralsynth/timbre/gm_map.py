"""General MIDI program → timbre: what ``--gm`` gives each track.

Every GM program 0-127 maps to one of the paper's ten instruments or a mix of them,
chosen by GM family (16 families of 8 programs) with exceptions where a program sounds
unlike its family. The weights are judgements about which instruments' envelopes and
spectra come closest (a plucked or struck attack, a sustained tone, reediness,
brightness); they are starting points a ``--track`` rule can override. The reasons are
in the table itself (``python -m neuralsynth.timbre.gm_map`` prints it;
``--markdown`` writes the table of ``docs/tracks.md``).

:func:`gm_timbre` restricts an entry to the instruments a model has: a model that knows
the program itself (a model trained on GM names, or the paper instrument rendered with
that program) gets it exactly; otherwise the table's mix, with the instruments the model
lacks left out and the rest renormalised; None when none is left, so the caller falls
back to its default timbre.
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Sequence

from neuralsynth.errors import TimbreError
from neuralsynth.midi.instruments import GM_PROGRAMS, PAPER_INSTRUMENTS, resolve_instrument

#: A mix: ``{paper instrument: weight}``; the weights of each entry sum to 1.
Mix = dict[str, float]

# (family name, the family's mix, why): GM family f covers programs 8f .. 8f+7.
_FAMILIES: list[tuple[str, Mix, str]] = [
    ("piano", {"grand_piano": 1.0},
     "acoustic pianos: the paper's grand piano"),
    ("chromatic percussion", {"vibraphone": 1.0},
     "struck, ringing bars and bells: the paper's vibraphone"),
    ("organ", {"church_organ": 1.0},
     "steady, sustained organs: the paper's church organ"),
    ("guitar", {"acoustic_guitar": 1.0},
     "plucked guitars: the paper's acoustic guitar"),
    ("bass", {"pizzicato_strings": 0.6, "acoustic_guitar": 0.4},
     "plucked low strings: a double bass's pizzicato with a guitar's pluck"),
    ("strings", {"string_ensemble": 1.0},
     "bowed strings: the paper's string ensemble (it has no solo strings)"),
    ("ensemble", {"string_ensemble": 1.0},
     "string ensembles: the paper's string ensemble"),
    ("brass", {"trumpet": 1.0},
     "brass: the paper's trumpet"),
    ("reed", {"trumpet": 0.5, "synth_lead": 0.5},
     "saxophones: a wind instrument's attack (trumpet) with a reedy, buzzy spectrum "
     "(synth lead)"),
    ("pipe", {"church_organ": 0.6, "synth_lead": 0.4},
     "flutes and pipes: pure sustained tones like an organ's flue pipes, with a lead's "
     "breathy edge"),
    ("synth lead", {"synth_lead": 1.0},
     "synth leads: the paper's synth lead (GM 80)"),
    ("synth pad", {"string_ensemble": 0.5, "synth_lead": 0.5},
     "pads: the slow swell of strings with a synthetic tone"),
    ("synth effects", {"string_ensemble": 0.4, "synth_lead": 0.4, "vibraphone": 0.2},
     "effect textures: pad-like (strings, lead) with a bell-like shimmer (vibraphone)"),
    ("ethnic", {"acoustic_guitar": 1.0},
     "mostly plucked folk strings (sitar, banjo, shamisen): the acoustic guitar"),
    ("percussive", {"vibraphone": 0.5, "pizzicato_strings": 0.5},
     "pitched percussion: struck resonance (vibraphone) with a short attack (pizzicato)"),
    ("sound effects", {"grand_piano": 1.0},
     "no instrument is near a noise effect; the piano at least plays its notes clearly"),
]

# Programs that sound unlike their family: (programs, mix, why).
_EXCEPTIONS: list[tuple[tuple[int, ...], Mix, str]] = [
    ((2,), {"grand_piano": 0.7, "electric_piano": 0.3},
     "an electric grand: piano strings with pickups, some electric piano"),
    ((4, 5), {"electric_piano": 1.0},
     "electric pianos: the paper's electric piano (GM 4)"),
    ((6,), {"acoustic_guitar": 0.5, "orchestral_harp": 0.5},
     "harpsichord: plucked, not hammered, strings (guitar and harp)"),
    ((7,), {"electric_piano": 0.5, "acoustic_guitar": 0.5},
     "clavinet: an amplified keyboard with a short, plucked-sounding decay"),
    ((12, 13), {"vibraphone": 0.6, "pizzicato_strings": 0.4},
     "wooden bars (marimba, xylophone) die away faster than the vibraphone's metal"),
    ((15,), {"acoustic_guitar": 0.5, "orchestral_harp": 0.5},
     "dulcimer: struck strings that ring like plucked ones (guitar and harp)"),
    ((21, 23), {"church_organ": 0.7, "synth_lead": 0.3},
     "accordions: free reeds, an organ's sustain with a reedy edge"),
    ((22,), {"synth_lead": 0.5, "church_organ": 0.5},
     "harmonica: a melodic free reed, reedy lead over an organ's sustain"),
    ((29, 30), {"synth_lead": 0.6, "acoustic_guitar": 0.4},
     "overdriven and distorted guitars sustain with dense harmonics, like a synth lead"),
    ((31,), {"acoustic_guitar": 0.5, "vibraphone": 0.5},
     "guitar harmonics: bell-like plucked tones"),
    ((32,), {"pizzicato_strings": 1.0},
     "acoustic bass: a plucked double bass, the paper's pizzicato strings"),
    ((38, 39), {"synth_lead": 0.5, "pizzicato_strings": 0.5},
     "synth basses: a synthetic tone with a plucked bass envelope"),
    ((45,), {"pizzicato_strings": 1.0},
     "pizzicato strings: the paper's pizzicato strings (GM 45)"),
    ((46,), {"orchestral_harp": 1.0},
     "orchestral harp: the paper's harp (GM 46)"),
    ((47,), {"pizzicato_strings": 0.5, "grand_piano": 0.5},
     "timpani: pitched drums, short low attacks (pizzicato and piano)"),
    ((50, 51), {"string_ensemble": 0.7, "synth_lead": 0.3},
     "synth strings: strings with a synthetic tone"),
    ((52, 53, 54), {"string_ensemble": 0.5, "church_organ": 0.5},
     "choirs and voices: smooth sustained tones, strings and organ"),
    ((55,), {"string_ensemble": 0.5, "trumpet": 0.5},
     "orchestra hit: strings and brass struck together"),
    ((62, 63), {"trumpet": 0.6, "synth_lead": 0.4},
     "synth brass: brass with a synthetic tone"),
    ((68, 69, 70), {"synth_lead": 0.4, "church_organ": 0.3, "trumpet": 0.3},
     "double reeds (oboe, English horn, bassoon): reedy but softer than saxophones"),
    ((71,), {"synth_lead": 0.6, "church_organ": 0.4},
     "clarinet: odd harmonics like a square lead, softened by the organ"),
    ((91,), {"string_ensemble": 0.5, "church_organ": 0.5},
     "choir pad: voices, as for choirs"),
    ((98,), {"vibraphone": 0.6, "synth_lead": 0.4},
     "crystal: a bell-like synthetic tone"),
    ((107,), {"orchestral_harp": 0.5, "acoustic_guitar": 0.5},
     "koto: a plucked zither, between harp and guitar"),
    ((108,), {"vibraphone": 0.6, "orchestral_harp": 0.4},
     "kalimba: plucked metal tines, bell-like"),
    ((109,), {"church_organ": 0.5, "synth_lead": 0.5},
     "bagpipe: droning reeds, organ sustain with a reedy edge"),
    ((110,), {"string_ensemble": 1.0},
     "fiddle: a bowed violin, the paper's strings"),
    ((111,), {"trumpet": 0.5, "synth_lead": 0.5},
     "shanai: a double reed, as for the reed family"),
    ((112, 114), {"vibraphone": 1.0},
     "tinkle bell and steel drums: metallic and ringing, the vibraphone"),
]


@dataclasses.dataclass(frozen=True)
class GmEntry:
    """The ``--gm`` timbre of one GM program: ``mix`` is ``((instrument, weight), ...)``
    over the paper's instruments, weights summing to 1; ``reason`` says why."""

    program: int
    name: str
    family: str
    mix: tuple[tuple[str, float], ...]
    reason: str

    def spec(self) -> str:
        """The timbre spec text, e.g. ``church_organ:0.6,synth_lead:0.4``."""
        return format_mix(dict(self.mix))


def format_mix(mix: Mix) -> str:
    """A static timbre spec: ``{a: 1}`` → ``a``; ``{a: 0.6, b: 0.4}`` → ``a:0.6,b:0.4``.
    """
    if len(mix) == 1:
        return next(iter(mix))
    return ",".join(f"{name}:{round(w, 3):g}" for name, w in mix.items())


def _build_table() -> list[GmEntry]:
    overrides: dict[int, tuple[Mix, str]] = {}
    for programs, mix, reason in _EXCEPTIONS:
        for program in programs:
            assert program not in overrides, f"GM program {program} listed twice"
            overrides[program] = (mix, reason)
    table = []
    for program, name in enumerate(GM_PROGRAMS):
        family, mix, reason = _FAMILIES[program // 8]
        mix, reason = overrides.get(program, (mix, reason))
        assert set(mix) <= set(PAPER_INSTRUMENTS), mix
        assert abs(sum(mix.values()) - 1.0) < 1e-9, (program, mix)
        table.append(GmEntry(program=program, name=name, family=family,
                             mix=tuple(mix.items()), reason=reason))
    return table


#: The ``--gm`` table, index = GM program.
GM_TABLE: list[GmEntry] = _build_table()


def _check_program(program: int) -> int:
    if isinstance(program, bool) or not isinstance(program, int) or not 0 <= program <= 127:
        raise TimbreError(f"GM program must be an int 0-127, got {program!r}")
    return program


def _known(name: str, instruments: Sequence[str]) -> str | None:
    """The model's name for instrument ``name`` (same GM program counts), or None."""
    try:
        return resolve_instrument(name, known=list(instruments))
    except TimbreError:
        return None


def gm_timbre(program: int, instruments: Sequence[str]) -> str | None:
    """The ``--gm`` timbre spec of GM ``program`` for a model with ``instruments``.

    If the model knows the program itself (``trumpet`` for 56 in a paper model,
    ``electric_bass_finger`` for 33 in one trained on GM names) that one instrument.
    Otherwise :data:`GM_TABLE`'s mix, each paper instrument named as the model names it
    (``grand_piano`` may be ``acoustic_grand_piano``), those it lacks dropped and the
    rest renormalised; None when the model has none of them.
    """
    _check_program(program)
    exact = _known(GM_PROGRAMS[program], instruments)
    if exact is not None:
        return exact
    mix: Mix = {}
    for name, weight in GM_TABLE[program].mix:
        known = _known(name, instruments)
        if known is not None:
            mix[known] = mix.get(known, 0.0) + weight
    total = sum(mix.values())
    if not mix or total <= 0:
        return None
    return format_mix({name: w / total for name, w in mix.items()})


def gm_reason(program: int) -> str:
    """Why :data:`GM_TABLE` maps ``program`` as it does (one line)."""
    return GM_TABLE[_check_program(program)].reason


def gm_markdown() -> str:
    """The table of ``docs/tracks.md``: one row per program, ``|``-separated."""
    lines = ["| program | GM name | family | timbre (paper instruments) | why |",
             "|---:|---|---|---|---|"]
    for e in GM_TABLE:
        timbre = ", ".join(f"{n} {w:.0%}" for n, w in e.mix) if len(e.mix) > 1 else e.mix[0][0]
        lines.append(f"| {e.program} | {e.name} | {e.family} | {timbre} | {e.reason} |")
    return "\n".join(lines) + "\n"


def gm_text() -> str:
    """The table as aligned plain text."""
    width = max(len(e.name) for e in GM_TABLE)
    return "".join(f"{e.program:>3}  {e.name:<{width}}  {e.spec()}\n" for e in GM_TABLE)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m neuralsynth.timbre.gm_map [--markdown]``: print the table."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args not in ([], ["--markdown"]):
        print("usage: python -m neuralsynth.timbre.gm_map [--markdown]", file=sys.stderr)
        return 2
    sys.stdout.write(gm_markdown() if args else gm_text())
    return 0


__all__ = ["GM_TABLE", "GmEntry", "format_mix", "gm_markdown", "gm_reason", "gm_text",
           "gm_timbre"]

if __name__ == "__main__":
    sys.exit(main())
