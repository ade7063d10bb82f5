"""``neuralsynth components``: listing, kind filter, third-party providers, clashes."""

from __future__ import annotations

import importlib
import sys
import uuid

import pytest
from click.testing import CliRunner

from neuralsynth.cli.main import cli
from neuralsynth.components import plugins
from neuralsynth.components.params import describe
from neuralsynth.recipe.docs import first_line
from neuralsynth.recipe.sections import REGISTRIES
from tests.components.test_registry import make_dist

FAKE_VOCODER = """
    import dataclasses
    import numpy as np
    from neuralsynth.components.params import param
    from neuralsynth.vocoders.base import Vocoder

    class Silence(Vocoder):
        '''Mel -> silence of the right length (a test plugin).

        Second paragraph that the listing does not show.
        '''

        @dataclasses.dataclass
        class Config:
            level: float = param(0.0, "constant output value")

        def synthesize(self, mel):
            return np.full(len(mel) * self.hop_length, self.config.level, np.float32)
"""


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """Put fake distributions on sys.path for the real groups; undo everything after."""
    monkeypatch.setattr(plugins, "_FAILURES", {})
    monkeypatch.delenv("NEURALSYNTH_RAISE_PLUGIN_ERRORS", raising=False)
    added: list[str] = []
    tag = uuid.uuid4().hex[:8]

    def add(dist: str, version: str, eps: dict, modules: dict | None = None) -> str:
        root = make_dist(tmp_path / f"{dist}_{len(added)}", dist, version, eps, modules)
        sys.path.insert(0, str(root))
        added.append(str(root))
        importlib.invalidate_caches()
        for registry in REGISTRIES.values():
            registry.refresh()
        return tag

    yield add, tag
    for root in added:
        sys.path.remove(root)
    importlib.invalidate_caches()
    for registry in REGISTRIES.values():
        registry.refresh()
    for name in [m for m in sys.modules if tag in m]:
        del sys.modules[name]


def test_lists_every_builtin_with_provider_summary_and_fields():
    result = invoke("components")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "failed to load" not in out
    for kind, registry in REGISTRIES.items():
        assert f"{kind} ({registry.group}):" in out
        for name in registry.names():
            cls = registry.get(name)
            dist, version = registry.provider(name)
            assert f"  {name}  [{dist} {version}]  {first_line(cls)}" in out
            for field in describe(cls.Config):
                assert f"{field.name}  " in out and field.help in out
    assert "  pianoroll  [neuralsynth " in out
    bilstm = out.split("  bilstm  [", 1)[1]
    assert "hidden_size    int = 256  LSTM units per direction" in bilstm


def test_kind_filter_accepts_plural_and_rejects_unknown_kinds():
    result = invoke("components", "Vocoders")
    assert result.exit_code == 0
    assert result.stdout.startswith("vocoder (neuralsynth.vocoders):")
    assert "griffin_lim" in result.stdout and "pianoroll" not in result.stdout

    result = invoke("components", "vocder")
    assert result.exit_code == 2
    assert result.stderr.strip() == ("error: unknown component kind 'vocder' (did you mean "
                                     "'vocoder'?); kinds: encoder, conditioner, sequence, "
                                     "vocoder, loss")


def test_third_party_component_shows_its_distribution(installed):
    add, tag = installed
    add("nsfake-vocoders", "0.7", {"neuralsynth.vocoders": {"silence": f"silence_{tag}:Silence"}},
        {f"silence_{tag}": FAKE_VOCODER})
    result = invoke("components", "vocoder")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "  silence  [nsfake-vocoders 0.7]  Mel -> silence of the right length (a test " \
           "plugin)." in out
    assert "      level  float = 0.0  constant output value" in out
    assert "Second paragraph" not in out
    assert "griffin_lim  [neuralsynth" in out


def test_broken_third_party_component_is_listed_under_failures(installed):
    add, tag = installed
    add("nsbroken", "0.1", {"neuralsynth.losses": {"wobbly": f"wobbly_{tag}:Loss"}},
        {f"wobbly_{tag}": "raise ImportError('needs libwobble')\n"})
    with pytest.warns(plugins.PluginWarning, match="needs libwobble"):
        result = invoke("components", "loss")
    assert result.exit_code == 0
    listing, failures = result.stdout.split("failed to load:\n")
    assert "  wobbly  [nsbroken 0.1]  (failed to load, see below)" in listing
    assert "tanh_log_abs_mse  [neuralsynth" in listing
    assert "  loss 'wobbly' from 'nsbroken': ImportError: needs libwobble" in failures


def test_two_providers_of_a_builtin_name_is_an_error_naming_both(installed):
    add, tag = installed
    add("nsclash", "1.0", {"neuralsynth.vocoders": {"griffin_lim": f"gl_{tag}:GriffinLim"}})
    result = invoke("components")
    assert result.exit_code == 1
    assert "vocoder (neuralsynth.vocoders):\n  (cannot list: conflicting providers" in \
        result.stdout
    assert "pianoroll  [neuralsynth" in result.stdout      # other kinds still listed
    error = result.stderr.strip()
    assert error.startswith("error: vocoder 'griffin_lim' is provided by both")
    assert "'neuralsynth'" in error and "'nsclash'" in error
