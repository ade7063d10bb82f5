"""The package layout (DESIGN §2): few top-level modules, no import cycles, no module
importing a higher stage, one home for each shared decision, tests mirroring the package."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "neuralsynth"
TESTS = Path(__file__).resolve().parent

#: Stages from the bottom up: a module may import its own stage and those below it.
LAYERS = [
    {"version", "errors", "fileio"},
    {"device", "checkpoint", "assets"},
    {"audio"}, {"midi"}, {"timbre"}, {"components"},
    {"model", "losses", "vocoders"},
    {"recipe"}, {"data"}, {"training"}, {"inference"}, {"evaluation"}, {"serve"}, {"cli"},
    {"plugin", "__main__", ""},           # the public faces: neuralsynth, .plugin, python -m
]


def _modules() -> dict[str, Path]:
    out = {}
    for p in PKG.rglob("*.py"):
        parts = list(p.relative_to(PKG.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(name: str, path: Path, mods: dict[str, Path]) -> set[str]:
    """Modules of the package that ``name`` imports anywhere (function bodies included);
    ``if TYPE_CHECKING:`` blocks never run and are left out."""
    tree = ast.parse(path.read_text())
    skip = {id(n) for t in ast.walk(tree) if _is_type_checking(t) for n in ast.walk(t)}
    base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                mod = ".".join(base[:len(base) - node.level + 1] + [node.module or ""]).rstrip(".")
            else:
                mod = node.module or ""
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in mods else mod
                       for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in mods:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {m: _imports(m, p, mods) for m, p in mods.items()}


def _layer(module: str) -> int:
    parts = module.split(".")
    key = parts[1] if len(parts) > 1 else ""
    return next(i for i, layer in enumerate(LAYERS) if key in layer)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_at_most_eight_top_level_modules():
    top = sorted(p.name for p in PKG.glob("*.py"))
    assert len(top) <= 8, top


def test_no_import_cycles():
    assert _cycles(_graph()) == []


def test_the_cycle_check_finds_a_cycle():
    # The check above could pass vacuously; a planted two-module cycle is found.
    graph = _graph()
    graph["neuralsynth.errors"] = graph["neuralsynth.errors"] | {"neuralsynth.fileio"}
    graph["neuralsynth.fileio"] = graph["neuralsynth.fileio"] | {"neuralsynth.errors"}
    assert ["neuralsynth.errors", "neuralsynth.fileio"] in _cycles(graph)


def test_every_module_belongs_to_a_stage():
    for module in _modules():
        _layer(module)        # StopIteration names a module outside every stage


def test_nothing_low_imports_something_high():
    upward = [f"{m} -> {d}" for m, deps in _graph().items() for d in deps
              if _layer(d) > _layer(m)]
    assert upward == []


def test_no_private_names_imported_across_modules():
    offenders = []
    for module, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("neuralsynth"):
                offenders += [f"{module}: {node.module}.{a.name}" for a in node.names
                              if a.name.startswith("_") and not a.name.startswith("__")]
    assert offenders == []


def _assignments(name: str) -> list[str]:
    """Modules that assign the module-level constant ``name``."""
    where = []
    for module, path in _modules().items():
        for node in ast.parse(path.read_text()).body:
            targets = node.targets if isinstance(node, ast.Assign) else \
                [node.target] if isinstance(node, ast.AnnAssign) else []
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                where.append(module)
    return where


def test_one_home_for_each_shared_decision():
    assert _assignments("DEFAULT_VOCODER") == ["neuralsynth.vocoders.select"]
    for constant in ("SAMPLE_RATE", "HOP_LENGTH", "N_FFT", "N_MELS"):
        assert _assignments(constant) == ["neuralsynth.audio.constants"], constant
    assert _assignments("TASKS") == ["neuralsynth.recipe.sections"]
    # One MIDI reader: only midi/read.py parses files into pretty_midi.PrettyMIDI objects
    # (a PrettyMIDI(...) call with a positional argument; writers build empty ones).
    readers = [m for m, p in _modules().items() for node in ast.walk(ast.parse(p.read_text()))
               if isinstance(node, ast.Call) and node.args
               and ast.unparse(node.func).endswith("PrettyMIDI")]
    assert readers == ["neuralsynth.midi.read"], readers


def test_light_modules_do_not_import_torch():
    code = ("import sys; import neuralsynth, neuralsynth.audio.constants, "
            "neuralsynth.recipe.sections, neuralsynth.recipe.load, neuralsynth.midi.read, "
            "neuralsynth.assets, neuralsynth.cli.main, neuralsynth.inference.load; "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_tests_mirror_the_package():
    stages = {p.name for p in PKG.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    folders = {p.name for p in TESTS.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders - stages == {"cuda"}, folders - stages
    for folder in folders:
        assert list((TESTS / folder).glob("test_*.py")), folder
