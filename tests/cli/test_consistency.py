"""Every ``neuralsynth`` command spells the shared options the same way.

Walks the real command group (entry points of the ``neuralsynth.commands`` group, and the
subcommands of groups such as ``data``) with click's introspection and checks each leaf
command: -q/--quiet and -v/--verbose exist and are wired (both at once is the shared
one-line usage error), a --device takes ``cuda:N`` through the shared type, ``-o`` is
only ever an output (or the hidden, deprecated override spelling on a command that has
no output), and recipe overrides are taken with --set.
"""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from neuralsynth.cli.main import cli
from neuralsynth.cli.options import DeviceType
from neuralsynth.errors import NeuralsynthError

#: Commands of the package itself; the walk must at least find these (so a broken
#: discovery cannot make every check pass by finding nothing).
CORE = {"check", "components", "data", "eval", "examples", "export", "info", "recipes",
        "render", "train"}


def walk(group: click.Group, ctx: click.Context, prefix: tuple[str, ...] = ()):
    """``(path, command)`` for every leaf command under ``group``."""
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        assert cmd is not None, f"{' '.join(prefix + (name,))}: listed but not loadable"
        if isinstance(cmd, click.Group):
            sub_ctx = click.Context(cmd, info_name=name, parent=ctx)
            yield from walk(cmd, sub_ctx, prefix + (name,))
        else:
            yield prefix + (name,), cmd


def all_commands() -> list[tuple[tuple[str, ...], click.Command]]:
    ctx = click.Context(cli, info_name="neuralsynth")
    return list(walk(cli, ctx))


COMMANDS = all_commands()
IDS = [" ".join(path) for path, _ in COMMANDS]


def options(cmd: click.Command) -> list[click.Option]:
    return [p for p in cmd.params if isinstance(p, click.Option)]


def by_flag(cmd: click.Command, flag: str) -> click.Option | None:
    for p in options(cmd):
        if flag in p.opts or flag in p.secondary_opts:
            return p
    return None


def is_output(p: click.Option) -> bool:
    """An option naming something the command writes: --out/--output, not a hidden
    alias, and its help does not talk about overrides."""
    long_names = [o for o in p.opts if o.startswith("--")]
    help_text = (p.help or "").lower()
    return (any(o in ("--out", "--output") for o in long_names) and not p.hidden
            and "override" not in help_text and "recipe value" not in help_text)


def takes_overrides(cmd: click.Command) -> bool:
    """A command that reads a recipe, or has any parameter that is a recipe override."""
    if any(isinstance(p, click.Argument) and p.name == "recipe" for p in cmd.params):
        return True
    for p in options(cmd):
        text = f"{p.name} {p.help or ''}".lower()
        if "override" in text or "recipe value" in text:
            return True
    return False


def test_the_walk_finds_every_core_command():
    top = {path[0] for path, _ in COMMANDS}
    assert CORE <= top, CORE - top
    assert ("data", "synth") in [path for path, _ in COMMANDS]


@pytest.mark.parametrize("path,cmd", COMMANDS, ids=IDS)
def test_quiet_and_verbose_exist(path, cmd):
    quiet, verbose = by_flag(cmd, "-q"), by_flag(cmd, "-v")
    assert quiet is not None and "--quiet" in quiet.opts and quiet.is_flag, \
        f"{' '.join(path)}: no -q/--quiet flag"
    assert verbose is not None and "--verbose" in verbose.opts and verbose.is_flag, \
        f"{' '.join(path)}: no -v/--verbose flag"


def dummy_required_args(cmd: click.Command) -> list[str]:
    """Placeholder values for every required argument and option: with ``-q -v`` the
    command must stop at the verbosity check before it looks at any of them."""
    args: list[str] = []
    for p in cmd.params:
        if not p.required:
            continue
        if isinstance(p, click.Option):
            args += [p.opts[0], "x"]
        else:
            args.append("x")
    return args


@pytest.mark.parametrize("path,cmd", COMMANDS, ids=IDS)
def test_quiet_with_verbose_is_the_shared_usage_error(path, cmd):
    result = CliRunner().invoke(cli, [*path, *dummy_required_args(cmd), "-q", "-v"])
    assert result.exit_code == 2, (path, result.output)
    assert result.stderr.strip().splitlines() == [
        "error: -q/--quiet and -v/--verbose cannot be used together"], result.output


WITH_DEVICE = [(path, cmd) for path, cmd in COMMANDS if by_flag(cmd, "--device")]


def test_the_walk_finds_the_device_commands():
    assert {("train",), ("eval",)} <= {path for path, _ in WITH_DEVICE}


@pytest.mark.parametrize("path,cmd", WITH_DEVICE, ids=[" ".join(p) for p, _ in WITH_DEVICE])
def test_device_takes_cuda_n_through_the_shared_type(path, cmd):
    device = by_flag(cmd, "--device")
    assert isinstance(device.type, DeviceType), \
        f"{' '.join(path)}: --device is {device.type!r}, not the shared DeviceType"
    ctx = click.Context(cmd)
    for text in ("auto", "cpu", "cuda", "cuda:0", "cuda:3"):
        assert device.type_cast_value(ctx, text) == text
    with pytest.raises((NeuralsynthError, click.BadParameter)):
        device.type_cast_value(ctx, "gpu")


@pytest.mark.parametrize("path,cmd", COMMANDS, ids=IDS)
def test_o_is_only_an_output(path, cmd):
    name = " ".join(path)
    short_o = [p for p in options(cmd) if "-o" in p.opts or "-o" in p.secondary_opts]
    assert len(short_o) <= 1, f"{name}: -o declared twice"
    outputs = [p for p in options(cmd) if is_output(p)]
    for p in short_o:
        if is_output(p):
            continue
        # The only other -o allowed: the hidden, deprecated override on a command that
        # has no output, next to --set.
        assert p.hidden and p.name == "deprecated_short_overrides", \
            f"{name}: -o is '{p.name}' ({p.help}), not an output"
        assert not outputs, f"{name}: has an output ({outputs[0].opts}) but -o is an override"
        assert by_flag(cmd, "--set") is not None, f"{name}: deprecated -o without --set"


@pytest.mark.parametrize("path,cmd", COMMANDS, ids=IDS)
def test_overrides_are_taken_with_set(path, cmd):
    name = " ".join(path)
    for p in options(cmd):
        text = f"{p.name} {p.help or ''}".lower()
        if ("override" in text or "recipe value" in text) and not p.hidden:
            assert p.opts == ["--set"], f"{name}: override option spelled {p.opts}"
    if takes_overrides(cmd):
        set_opt = by_flag(cmd, "--set")
        assert set_opt is not None, f"{name}: takes recipe overrides but has no --set"
        assert set_opt.multiple and set_opt.name == "overrides", \
            f"{name}: --set must be repeatable and fill 'overrides'"
