"""The wheel: it carries the recipes, LICENSE, bundled model and examples, states its
license as an SPDX expression, and building it prints no license deprecation."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("wheel")
    # Build from a copy: setuptools writes build/ and *.egg-info next to pyproject.toml.
    src = out / "src"
    shutil.copytree(REPO, src, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "runs", "data", "out", "build", "*.egg-info", "__pycache__",
        ".pytest_cache"))
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                           "--no-build-isolation", "--no-index", "-v", "-w", str(out / "dist"),
                           str(src)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    wheels = list((out / "dist").glob("neuralsynth-*.whl"))
    assert len(wheels) == 1
    return wheels[0], proc.stdout + proc.stderr


def test_wheel_carries_the_assets(wheel):
    names = set(zipfile.ZipFile(wheel[0]).namelist())
    for needed in ("neuralsynth/assets/models/default.pt",
                   "neuralsynth/assets/examples/etude_1.mid",
                   "neuralsynth/assets/recipes/mel2mel_10inst.yaml",
                   "neuralsynth/assets/recipes/wavenet_vocoder.yaml",
                   "neuralsynth/assets/recipes/ablations/proposed.yaml",
                   "neuralsynth/plugin.py", "neuralsynth/py.typed"):
        assert needed in names, needed
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), sorted(names)[:5]
    repo_recipes = {p.relative_to(REPO / "recipes").as_posix()
                    for p in (REPO / "recipes").rglob("*.yaml")}
    assert {f"neuralsynth/assets/recipes/{r}" for r in repo_recipes} <= names


def test_wheel_metadata_has_the_spdx_license_and_extras(wheel):
    zf = zipfile.ZipFile(wheel[0])
    meta_name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
    meta = Parser().parsestr(zf.read(meta_name).decode())
    assert meta["License-Expression"] == "MIT"
    assert meta["License"] is None                      # the deprecated field is gone
    assert set(meta.get_all("Provides-Extra")) >= {"data", "eval", "dev"}
    requires = meta.get_all("Requires-Dist")
    assert not any(r.startswith(("pyfluidsynth", "matplotlib", "music21")) and "extra" not in r
                   for r in requires), requires
    assert any(u.startswith("Repository, ") for u in meta.get_all("Project-URL"))
    assert any("Sound Synthesis" in c for c in meta.get_all("Classifier"))


def test_building_prints_no_license_deprecation(wheel):
    log = wheel[1]
    assert "running bdist_wheel" in log or "Building wheel" in log   # the log is the build's
    assert "project.license` as a TOML table is deprecated" not in log
    assert "License classifiers are deprecated" not in log
