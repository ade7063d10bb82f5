"""The shared options of neuralsynth/cli/options.py, on a small command run through the
real ``neuralsynth`` group class (which turns user errors into one ``error:`` line)."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from neuralsynth.cli.main import LazyGroup
from neuralsynth.cli.options import (
    DEPRECATED_O_WARNING,
    DEPRECATED_OVERRIDE_WARNING,
    deprecated_override_option,
    device_option,
    looks_like_override,
    refuse_override_as_output,
    say,
    set_option,
    verbosity_options,
)
from neuralsynth.device import normalize_device
from neuralsynth.errors import UsageError


def make_group() -> click.Group:
    """A group with one command using every shared option; it echoes what it received."""
    group = LazyGroup("t")

    @group.command("probe")
    @set_option
    @deprecated_override_option
    @verbosity_options
    @device_option()
    def probe(overrides: tuple[str, ...], verbosity: int, device: str) -> None:
        click.echo(f"overrides={list(overrides)} verbosity={verbosity} device={device}")
        say(verbosity, "normal line")
        say(verbosity, "detail line", level=2)

    @group.command("nodefault")
    @device_option(default=None, help="Where to train.")
    def nodefault(device: str | None) -> None:
        click.echo(f"device={device}")

    return group


def run(*args: str):
    return CliRunner().invoke(make_group(), list(args))


def one_error_line(result, code: int = 2) -> str:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert result.stdout == ""
    return lines[0]


def test_set_is_repeatable_and_keeps_order():
    result = run("probe", "--set", "a.b=1", "--set", "c=[x,y]")
    assert result.exit_code == 0, result.output
    assert "overrides=['a.b=1', 'c=[x,y]']" in result.stdout
    assert result.stderr == ""


def test_set_rejects_text_without_equals():
    line = one_error_line(run("probe", "--set", "train.steps"))
    assert "--set 'train.steps' must look like KEY=VALUE" in line


@pytest.mark.parametrize("flag,warning", [("-o", DEPRECATED_O_WARNING),
                                          ("--override", DEPRECATED_OVERRIDE_WARNING)])
def test_old_override_spelling_still_works_with_a_warning(flag, warning):
    result = run("probe", flag, "a=1", "--set", "b=2")
    assert result.exit_code == 0, result.output
    assert "overrides=['a=1', 'b=2']" in result.stdout
    assert result.stderr.splitlines() == [warning]
    quiet = run("probe", "-q", flag, "a=1")
    assert quiet.exit_code == 0 and quiet.stderr == ""
    assert "overrides=['a=1']" in quiet.stdout


def test_old_override_hidden_from_help():
    result = run("probe", "--help")
    assert "--set KEY=VALUE" in result.stdout
    assert "-o" not in result.stdout.replace("--", "")  # no short -o advertised
    assert "--override" not in result.stdout


def test_short_o_can_be_left_out():
    group = LazyGroup("t")

    @group.command("out")
    @click.option("-o", "--output", "output")
    @set_option
    @deprecated_override_option(short=False)
    def out(output, overrides):
        click.echo(f"{output} {list(overrides)}")

    result = CliRunner().invoke(group, ["out", "-o", "x.wav", "--override", "k=v"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "x.wav ['k=v']\n"
    assert result.stderr.splitlines() == [DEPRECATED_OVERRIDE_WARNING]


@pytest.mark.parametrize("args,verbosity", [((), 1), (("-q",), 0), (("--quiet",), 0),
                                            (("-v",), 2), (("--verbose",), 2)])
def test_verbosity_levels(args, verbosity):
    result = run("probe", *args)
    assert result.exit_code == 0, result.output
    assert f"verbosity={verbosity}" in result.stdout
    assert ("normal line" in result.stdout) == (verbosity >= 1)
    assert ("detail line" in result.stdout) == (verbosity >= 2)


def test_quiet_and_verbose_together_is_a_usage_error():
    line = one_error_line(run("probe", "-q", "-v"))
    assert line == "error: -q/--quiet and -v/--verbose cannot be used together"


@pytest.mark.parametrize("text,expected", [("auto", "auto"), ("cpu", "cpu"),
                                           ("cuda", "cuda"), ("cuda:0", "cuda:0"),
                                           ("CUDA:3", "cuda:3"), (" cuda:01 ", "cuda:1")])
def test_device_accepts_every_documented_form(text, expected):
    result = run("probe", "--device", text)
    assert result.exit_code == 0, result.output
    assert f"device={expected}" in result.stdout
    assert normalize_device(text) == expected


@pytest.mark.parametrize("text", ["gpu", "cuda:", "cuda:x", "cuda1", "mps", "cpu:0", ""])
def test_device_rejects_anything_else_in_one_line(text):
    line = one_error_line(run("probe", "--device", text))
    assert line.startswith(f"error: --device '{text}': unknown device; use auto, cpu, "
                           f"cuda or cuda:N")


def test_device_default_and_none_default():
    assert "device=auto" in run("probe").stdout
    assert run("nodefault").stdout == "device=None\n"
    assert run("nodefault", "--device", "cuda:2").stdout == "device=cuda:2\n"
    assert "[default: auto]" in run("probe", "--help").stdout


def test_override_text_is_refused_as_an_output():
    assert looks_like_override("train.steps=10")
    assert not looks_like_override("runs/x=1")
    assert not looks_like_override("./a=b")
    with pytest.raises(UsageError, match="use --set train.steps=10"):
        refuse_override_as_output("-o/--out", "train.steps=10")
    refuse_override_as_output("-o/--out", "runs/longer")


def test_resolve_device_refuses_a_gpu_that_is_not_there():
    import torch

    from neuralsynth.device import resolve_device

    assert resolve_device("CPU").type == "cpu"
    missing = f"cuda:{torch.cuda.device_count()}"      # one past the last GPU (or none)
    with pytest.raises(UsageError) as info:
        resolve_device(missing)
    assert f"'{missing}'" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(UsageError, match="unknown device 'gpu'"):
        resolve_device("gpu")
