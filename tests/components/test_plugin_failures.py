"""A third-party plugin that raises on import must not take the toolkit down.

Each test runs the real ``neuralsynth`` executable in a subprocess with ``PYTHONPATH``
pointing at a temporary directory that holds a broken distribution (a dist-info whose
entry point module raises), as a user would see it after ``pip install``-ing it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.components.test_registry import make_dist

REPO = Path(__file__).resolve().parents[2]
_SCRIPT = Path(sys.executable).with_name("neuralsynth")
NEURALSYNTH = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m",
                                                       "neuralsynth.cli.main"]


@pytest.fixture(scope="module")
def broken_plugin_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("broken_plugin")
    return make_dist(root, "nsbroken", "0.3",
                     {"neuralsynth.vocoders": {"broken_voc": "nsbroken_mod:Voc"}},
                     {"nsbroken_mod": "raise RuntimeError('kaboom from nsbroken')\n"})


def run_cli(args: list[str], plugin_dir: Path, **env_extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "NEURALSYNTH_RAISE_PLUGIN_ERRORS"}
    env["PYTHONPATH"] = os.pathsep.join([str(plugin_dir), env.get("PYTHONPATH", "")]).rstrip(
        os.pathsep)
    env.update(env_extra)
    return subprocess.run(NEURALSYNTH + args, capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=180)


def test_components_lists_broken_plugin_under_failures(broken_plugin_dir):
    proc = run_cli(["components"], broken_plugin_dir)
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(warnings) == 1, proc.stderr
    assert warnings[0].startswith("warning: ")
    assert "broken_voc" in warnings[0] and "nsbroken" in warnings[0]
    assert "kaboom from nsbroken" in warnings[0]
    assert "Traceback" not in proc.stderr
    out = proc.stdout
    assert "broken_voc  [nsbroken 0.3]  (failed to load, see below)" in out
    failures = out.split("failed to load:\n", 1)[1]
    assert "vocoder 'broken_voc' from 'nsbroken': RuntimeError: kaboom from nsbroken" in failures
    # The healthy built-ins are still listed.
    assert "griffin_lim  [neuralsynth" in out and "pianoroll  [neuralsynth" in out


def test_raise_plugin_errors_exits_nonzero_with_the_original_exception(broken_plugin_dir):
    proc = run_cli(["components"], broken_plugin_dir, NEURALSYNTH_RAISE_PLUGIN_ERRORS="1")
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr
    assert "RuntimeError: kaboom from nsbroken" in proc.stderr


def test_broken_plugin_of_an_unused_kind_is_never_imported(broken_plugin_dir):
    # Listing encoders and checking a recipe that names griffin_lim never touch it.
    proc = run_cli(["components", "encoder"], broken_plugin_dir,
                   NEURALSYNTH_RAISE_PLUGIN_ERRORS="1")
    assert proc.returncode == 0, proc.stderr
    assert "pianoroll" in proc.stdout and "broken_voc" not in proc.stdout
    proc = run_cli(["check", "recipes/mel2mel_10inst.yaml"], broken_plugin_dir,
                   NEURALSYNTH_RAISE_PLUGIN_ERRORS="1")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok: recipes/mel2mel_10inst.yaml")


def test_recipe_naming_the_broken_plugin_is_a_recipe_error(broken_plugin_dir, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("recipe: 1\nextends: " + str(REPO / "recipes/mel2mel_10inst.yaml")
                      + "\nvocoder: {name: broken_voc}\n")
    proc = run_cli(["check", str(recipe)], broken_plugin_dir)
    assert proc.returncode == 2
    assert f"{recipe}:3: vocoder.name: vocoder 'broken_voc' from 'nsbroken' could not be " \
           "imported: RuntimeError: kaboom from nsbroken" in proc.stderr
