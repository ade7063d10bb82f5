"""neuralsynth.plugin is the one surface plugins use, and it holds what they need."""

from __future__ import annotations

import ast
from pathlib import Path

import neuralsynth.plugin as plugin

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"


def _neuralsynth_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "neuralsynth":
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] == "neuralsynth"]
    return found


def _offenders(root: Path) -> list[str]:
    return [f"{p.relative_to(root)}: {m}" for p in sorted(root.rglob("*.py"))
            for m in _neuralsynth_imports(p) if m != "neuralsynth.plugin"]


def test_example_plugins_import_only_the_plugin_module():
    files = list(PLUGINS.rglob("*.py"))
    assert files and any(_neuralsynth_imports(p) for p in files)   # the check has teeth
    assert _offenders(PLUGINS) == []


def test_the_check_flags_an_internal_import(tmp_path):
    (tmp_path / "bad.py").write_text("from neuralsynth.vocoders.base import Vocoder\n"
                                     "from neuralsynth.plugin import param\n")
    assert _offenders(tmp_path) == ["bad.py: neuralsynth.vocoders.base"]


def test_every_exported_name_exists_and_is_what_it_says():
    for name in plugin.__all__:
        assert hasattr(plugin, name), name
    from neuralsynth.errors import NeuralsynthError

    assert issubclass(plugin.UsageError, NeuralsynthError)
    assert plugin.SAMPLE_RATE == 16000 and plugin.HOP_LENGTH == 128 and plugin.N_MELS == 80
    assert plugin.VOCODERS.base is plugin.Vocoder and plugin.ENCODERS.base is plugin.Encoder
    assert "wavenet" in plugin.VOCODERS.names()
    # The trainer declaration points at a real TrainerBase subclass.
    from neuralsynth.training.tasks import vocoder_trainer

    assert issubclass(vocoder_trainer("wavenet"), plugin.TrainerBase)
