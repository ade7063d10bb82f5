"""Session-wide fixtures: small MIDI files, a small rendered dataset, a trained checkpoint.

The chain is built once per test session (a few seconds on 2 cores):

- ``small_midis``: 4 random 3-second MIDI files (one uses the sustain pedal)
- ``small_dataset``: those files rendered by ``data synth`` (in-process, FluidSynth with
  MuseScore_General_Lite.sf3) as grand_piano and church_organ; 3 train + 1 val piece
- ``trained_checkpoint``: ``recipes/mel2mel_small_cpu.yaml`` shrunk to a few dozen steps
  of a tiny model, trained on ``small_dataset``; the path of its ``best.pt``

Dataset fixtures are skipped (not failed) where FluidSynth or the SoundFont is missing.
"""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path
from typing import Callable, Iterator

import pytest

from tests.midi_factory import random_melody, write_midi

REPO = Path(__file__).resolve().parent.parent
SMALL_RECIPE = REPO / "recipes" / "mel2mel_small_cpu.yaml"
LITE_SOUNDFONT = Path("/usr/share/sounds/sf3/MuseScore_General_Lite.sf3")
SMALL_INSTRUMENTS = ["grand_piano", "church_organ"]

#: Recipe overrides that make the small CPU recipe train in seconds (used by
#: ``trained_checkpoint`` and by tests that train their own short runs).
TINY_TRAIN = [
    "model.sequence.hidden_size=16",
    "train.batch_size=8",
    "train.segment_samples=8192",     # 64 frames
    "train.lr=0.01",
    "train.lr_halve_every=0",
    "train.device=cpu",
]


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Run torch on one thread for the whole session: the test models are tiny, and two
    OpenMP threads spinning against each other (or against other processes on a 2-core
    machine) made them several times slower, up to 100x under load."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def synth_skip_reason() -> str | None:
    """Why dataset synthesis cannot run here, or None when it can."""
    from neuralsynth.data.fluid import fluidsynth_available

    reason = fluidsynth_available()
    if reason is not None:
        return reason
    if not LITE_SOUNDFONT.is_file():
        return f"SoundFont {LITE_SOUNDFONT} is not installed"
    return None


def rendered_dataset(midis: list[Path], out: Path, instruments=SMALL_INSTRUMENTS, *,
                     val_fraction: float = 0.25) -> Path:
    """``midis`` rendered by FluidSynth (small font, one worker) into the dataset ``out``.

    Skips the calling test when FluidSynth or the font is missing; fails when any item
    or MIDI file could not be rendered.
    """
    reason = synth_skip_reason()
    if reason is not None:
        pytest.skip(f"dataset synthesis unavailable: {reason}")
    from neuralsynth.data.synth import synthesize_dataset

    report = synthesize_dataset(midis, list(instruments), out, soundfont=LITE_SOUNDFONT,
                                val_fraction=val_fraction, workers=1, seed=0, progress=False)
    assert not report.failed and not report.bad_midi, report
    return out


def tiny_recipe(dataset: Path, out: Path, *extra: str):
    """The small CPU recipe on ``dataset`` with :data:`TINY_TRAIN` and ``extra`` overrides."""
    from neuralsynth.recipe.load import load_recipe

    return load_recipe(SMALL_RECIPE, [f"data.dataset={dataset}", f"train.out={out}",
                                      *TINY_TRAIN, *extra])


@pytest.fixture(scope="session")
def small_midis(tmp_path_factory) -> list[Path]:
    """Four short, reproducible random MIDI files (3 s, two voices)."""
    root = tmp_path_factory.mktemp("midis")
    paths = []
    for i in range(4):
        sustain = [(0.5, 1.6)] if i == 0 else None
        paths.append(write_midi(root / f"piece{i}.mid",
                                random_melody(100 + i, seconds=3.0, polyphony=2),
                                sustain=sustain))
    return paths


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory, small_midis) -> Path:
    """``small_midis`` rendered as grand_piano and church_organ: 3 train + 1 val piece."""
    return rendered_dataset(small_midis, tmp_path_factory.mktemp("small_dataset"))


@pytest.fixture(scope="session")
def trained_checkpoint(tmp_path_factory, small_dataset) -> Path:
    """``best.pt`` of a 40-step run of a tiny small-CPU recipe on ``small_dataset``."""
    from neuralsynth.training.loop import train

    run = tmp_path_factory.mktemp("trained") / "run"
    recipe = tiny_recipe(small_dataset, run, "train.steps=40", "train.val_every=10",
                         "train.checkpoint_every=20")
    result = train(recipe, progress=False)
    assert result.best_checkpoint.is_file()
    return result.best_checkpoint


@pytest.fixture(scope="session")
def untrained_ckpt(tmp_path_factory) -> Path:
    """A real Mel2Mel checkpoint with random weights (grand_piano, church_organ, trumpet):
    enough for render and CLI tests that need no training."""
    from tests.model_factory import make_checkpoint

    return make_checkpoint(tmp_path_factory.mktemp("untrained") / "model.pt")


# -- small real file systems (tmpfs mounts) that are full or read-only, so write failures
# are the kernel's own, not simulated. Mounting needs root (CAP_SYS_ADMIN); where it is
# refused the tests that need a mount are skipped with the reason.
def _sh(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=30)


@pytest.fixture
def tmpfs(tmp_path) -> Iterator[Callable[..., Path]]:
    """``tmpfs(size="64k", ro=False) -> Path``: a fresh tmpfs mounted under tmp_path,
    unmounted after the test; skips the test when mounting is not allowed here."""
    mounted: list[Path] = []

    def mount(size: str = "64k", ro: bool = False) -> Path:
        where = tmp_path / f"mnt{len(mounted)}"
        where.mkdir()
        opts = f"size={size}" + (",ro" if ro else "")
        proc = _sh("mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where))
        if proc.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.strip() or 'mount failed'})")
        mounted.append(where)
        return where

    yield mount
    for where in reversed(mounted):
        _sh("umount", "-l", str(where))


@pytest.fixture
def immutable() -> Iterator[Callable[[Path], Path]]:
    """``immutable(path) -> path``: ``chattr +i`` (undone after the test); skips where the
    file system or the user cannot set the flag."""
    flagged: list[Path] = []

    def flag(path: Path) -> Path:
        proc = _sh("chattr", "+i", str(path))
        if proc.returncode != 0:
            pytest.skip(f"chattr +i does not work here ({proc.stderr.strip()})")
        flagged.append(path)
        return path

    yield flag
    for path in flagged:
        with contextlib.suppress(Exception):
            _sh("chattr", "-i", str(path))
