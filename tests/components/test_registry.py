"""Registry: lazy discovery, loading, building, did-you-mean, provider clashes.

Third-party distributions are simulated with real ``*.dist-info`` folders (METADATA +
entry_points.txt) in a temporary directory put on ``sys.path``: importlib.metadata finds
them exactly as it finds an installed wheel. Tests use their own entry-point group, so
the toolkit's real registries are not disturbed.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from neuralsynth.components import plugins
from neuralsynth.components.registry import Registry
from neuralsynth.errors import PluginError, RecipeError
from neuralsynth.model.encoders.base import Encoder


def make_dist(root: Path, name: str, version: str, entry_points: dict[str, dict[str, str]],
              modules: dict[str, str] | None = None) -> Path:
    """Write a fake installed distribution (dist-info + modules) under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    sections = []
    for group, eps in entry_points.items():
        sections.append(f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()))
    (info / "entry_points.txt").write_text("\n".join(sections))
    for mod, source in (modules or {}).items():
        (root / f"{mod}.py").write_text(textwrap.dedent(source))
    return root


WIDGET_SOURCE = """
    import dataclasses
    import numpy as np
    from neuralsynth.components.params import param
    from neuralsynth.model.encoders.base import Encoder

    class Widget(Encoder):
        '''Test widget: notes -> zeros [n_frames, size].'''

        @dataclasses.dataclass
        class Config:
            size: int = param(4, "output width")
            loud: bool = param(False, "unused flag")

        @property
        def output_dim(self):
            return self.config.size

        def encode(self, notes, n_frames):
            return np.zeros((n_frames, self.config.size), np.float32)

    class NotAnEncoder:
        class Config:
            pass
"""


@pytest.fixture
def fake_env(tmp_path, monkeypatch):
    """A unique entry-point group and module prefix; cleans sys.modules and the ledger."""
    tag = uuid.uuid4().hex[:8]
    group = f"neuralsynth_test_{tag}.widgets"
    monkeypatch.setattr(plugins, "_FAILURES", {})
    before = set(sys.modules)

    def add_dist(dirname: str, dist: str, version: str, eps: dict[str, str],
                 modules: dict[str, str] | None = None) -> None:
        root = make_dist(tmp_path / dirname, dist, version, {group: eps}, modules)
        monkeypatch.syspath_prepend(str(root))

    yield tag, group, add_dist
    for name in set(sys.modules) - before:
        if tag in name:
            del sys.modules[name]


def test_names_imports_nothing_and_get_imports_on_demand(fake_env):
    tag, group, add_dist = fake_env
    mod = f"widgets_{tag}"
    add_dist("d1", "fake-widgets", "1.2.3", {"widget": f"{mod}:Widget"}, {mod: WIDGET_SOURCE})
    reg = Registry("widget", base=Encoder, group=group)
    assert reg.names() == ["widget"]
    assert reg.provider("widget") == ("fake-widgets", "1.2.3")
    assert mod not in sys.modules            # listing did not import the provider
    cls = reg.get("widget")
    assert mod in sys.modules
    assert cls.__name__ == "Widget" and issubclass(cls, Encoder)


def test_builtin_registries_list_names_without_importing_components():
    code = textwrap.dedent("""
        import sys
        from neuralsynth.recipe.sections import REGISTRIES
        names = {kind: reg.names() for kind, reg in REGISTRIES.items()}
        loaded = sorted(m for m in sys.modules
                        if m.startswith("neuralsynth.") and not m.endswith(".base")
                        and m.split(".")[1] in ("encoders", "conditioners", "sequences",
                                                "vocoders", "losses") and m.count(".") > 1)
        print(names["encoder"], names["conditioner"], names["sequence"], names["loss"])
        print("LOADED", loaded)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert "pianoroll" in out and "film" in out and "bilstm" in out
    assert "tanh_log_abs_mse" in out
    assert "LOADED []" in out


def test_build_passes_config_and_derived_sizes(fake_env):
    tag, group, add_dist = fake_env
    mod = f"widgets_{tag}"
    add_dist("d1", "fake-widgets", "1.0", {"widget": f"{mod}:Widget"}, {mod: WIDGET_SOURCE})
    reg = Registry("widget", base=Encoder, group=group)
    obj = reg.build({"name": "widget", "size": 7}, sample_rate=8000, hop_length=64)
    assert obj.config.size == 7 and obj.config.loud is False
    assert (obj.sample_rate, obj.hop_length) == (8000, 64)
    assert obj.encode(None, 3).shape == (3, 7)


def test_unknown_name_suggests_the_closest(fake_env):
    tag, group, add_dist = fake_env
    mod = f"widgets_{tag}"
    add_dist("d1", "fake-widgets", "1.0", {"widget": f"{mod}:Widget"}, {mod: WIDGET_SOURCE})
    reg = Registry("widget", base=Encoder, group=group)
    with pytest.raises(PluginError) as info:
        reg.get("widgit")
    assert "unknown widget 'widgit' (did you mean 'widget'?)" in str(info.value)
    assert "available: widget" in str(info.value)


def test_bad_parameters_are_recipe_errors_with_suggestion(fake_env):
    tag, group, add_dist = fake_env
    mod = f"widgets_{tag}"
    add_dist("d1", "fake-widgets", "1.0", {"widget": f"{mod}:Widget"}, {mod: WIDGET_SOURCE})
    reg = Registry("widget", base=Encoder, group=group)
    with pytest.raises(RecipeError) as info:
        reg.parse({"name": "widget", "sise": 3, "loud": "yes"})
    text = str(info.value)
    assert "did you mean 'size'" in text
    assert "widget.loud: expected bool" in text
    assert len(info.value.problems) == 2


def test_two_providers_of_one_name_is_an_error_naming_both(fake_env):
    tag, group, add_dist = fake_env
    add_dist("d1", "alpha-widgets", "1.0", {"widget": f"alpha_{tag}:Widget"})
    add_dist("d2", "beta-widgets", "2.0", {"widget": f"beta_{tag}:Widget"})
    reg = Registry("widget", base=Encoder, group=group)
    with pytest.raises(PluginError) as info:
        reg.names()
    text = str(info.value)
    assert "'widget'" in text
    assert "alpha-widgets" in text and "beta-widgets" in text


def test_same_distribution_visible_twice_is_not_a_clash(fake_env):
    tag, group, add_dist = fake_env
    mod = f"widgets_{tag}"
    add_dist("d1", "fake-widgets", "1.0", {"widget": f"{mod}:Widget"}, {mod: WIDGET_SOURCE})
    add_dist("d2", "fake-widgets", "1.0", {"widget": f"{mod}:Widget"})
    assert Registry("widget", base=Encoder, group=group).names() == ["widget"]


def test_refresh_sees_distributions_installed_later(fake_env):
    tag, group, add_dist = fake_env
    add_dist("d1", "first", "1.0", {"one": f"one_{tag}:Widget"})
    reg = Registry("widget", base=Encoder, group=group)
    assert reg.names() == ["one"]
    add_dist("d2", "second", "1.0", {"two": f"two_{tag}:Widget"})
    assert reg.names() == ["one"]            # the table is cached ...
    reg.refresh()
    assert reg.names() == ["one", "two"]     # ... until refreshed
    assert Registry("widget", base=Encoder, group=group).names() == ["one", "two"]


def test_class_of_the_wrong_kind_is_refused(fake_env):
    tag, group, add_dist = fake_env
    mod = f"widgets_{tag}"
    add_dist("d1", "odd-widgets", "1.0", {"odd": f"{mod}:NotAnEncoder"}, {mod: WIDGET_SOURCE})
    with pytest.raises(PluginError, match="not a subclass of Encoder"):
        Registry("widget", base=Encoder, group=group).get("odd")


def test_provider_that_fails_to_import_is_skipped_with_one_warning(fake_env, monkeypatch):
    tag, group, add_dist = fake_env
    monkeypatch.delenv("NEURALSYNTH_RAISE_PLUGIN_ERRORS", raising=False)
    mod = f"broken_{tag}"
    good = f"widgets_{tag}"
    add_dist("d1", "broken-widgets", "0.1", {"broken": f"{mod}:Widget", "good": f"{good}:Widget"},
             {mod: "raise RuntimeError('kaboom at import')\n", good: WIDGET_SOURCE})
    reg = Registry("widget", base=Encoder, group=group)
    with pytest.warns(plugins.PluginWarning, match="kaboom at import"):
        with pytest.raises(PluginError, match="could not be imported: RuntimeError: kaboom"):
            reg.get("broken")
    [failure] = plugins.failures(group)
    assert (failure.name, failure.distribution) == ("broken", "broken-widgets")
    assert list(reg.available()) == ["good"]   # the good one still works


def test_raise_plugin_errors_reraises_the_original_exception(fake_env, monkeypatch):
    tag, group, add_dist = fake_env
    monkeypatch.setenv("NEURALSYNTH_RAISE_PLUGIN_ERRORS", "1")
    mod = f"broken_{tag}"
    add_dist("d1", "broken-widgets", "0.1", {"broken": f"{mod}:Widget"},
             {mod: "raise RuntimeError('kaboom at import')\n"})
    with pytest.raises(RuntimeError, match="kaboom at import"):
        Registry("widget", base=Encoder, group=group).get("broken")
    assert plugins.failures(group) == []
