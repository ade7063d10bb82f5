"""Options every ``neuralsynth`` command spells the same way.

Each helper is a decorator, placed under ``@click.command`` like ``@click.option``:

``@set_option``
    ``--set KEY=VALUE`` (repeatable): a recipe override, value parsed as YAML. The
    command receives ``overrides: tuple[str, ...]`` in command-line order.
``@deprecated_override_option``
    The old ``-o KEY=VALUE`` and ``--override KEY=VALUE`` spellings of ``--set`` (hidden
    from --help), ``-o`` only on commands without an output (everywhere else ``-o`` is
    the output: there use ``@deprecated_override_option(short=False)``). Use it together
    with ``@set_option``, in either order. Their values are put before the ``--set``
    ones in ``overrides``, and using them prints ``warning: -o key=value is deprecated;
    use --set key=value`` on stderr (unless ``-q``).
``@verbosity_options``
    ``-q/--quiet`` and ``-v/--verbose``, given to the command as one ``verbosity: int``:
    :data:`QUIET` (0: print nothing but errors; no progress bars, no warnings),
    :data:`NORMAL` (1) or :data:`VERBOSE` (2: also the resolved inputs and settings,
    timings, per-stage detail). Both flags at once is a one-line usage error. Print
    through :func:`say`, which knows the levels.
``@device_option(default="auto", help=...)``
    ``--device`` taking ``auto``, ``cpu``, ``cuda`` or ``cuda:N``; the text is checked
    while the command line is parsed (:class:`DeviceType`) and arrives lower-cased
    (``None`` when ``default=None``). Whether that GPU exists is checked by
    :func:`neuralsynth.device.resolve_device` when the command runs.

``refuse_override_as_output(flag, value)``
    For a command whose ``-o`` used to be an override and is now an output (``train``):
    ``-o train.steps=10`` is refused with a hint to use ``--set``.

A bad value raises :class:`~neuralsynth.errors.UsageError`, which the ``neuralsynth``
group prints as one ``error: ...`` line (exit code 2), before the command does any work.

This module imports no torch (only the torch-free ``neuralsynth.device`` and
``neuralsynth.errors``), so ``neuralsynth <command> --help`` stays fast.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Callable, TypeVar

import click

from neuralsynth.device import DEVICE_FORMS, normalize_device
from neuralsynth.errors import UsageError

F = TypeVar("F", bound=Callable[..., Any])

QUIET, NORMAL, VERBOSE = 0, 1, 2

DEPRECATED_O_WARNING = "warning: -o key=value is deprecated; use --set key=value"
DEPRECATED_OVERRIDE_WARNING = ("warning: --override key=value is deprecated; "
                               "use --set key=value")

# A recipe key path followed by '=': what an override looks like (and an output never
# does in practice, which lets an output's -o catch an old override left in a script).
_OVERRIDE_TEXT = re.compile(r"[A-Za-z_][\w-]*(\.[\w-]+)*=")


def say(verbosity: int, message: str, *, level: int = NORMAL, err: bool = False) -> None:
    """Print ``message`` when ``verbosity`` is at least ``level`` (:data:`NORMAL` for
    results, :data:`VERBOSE` for detail); on stderr with ``err=True``."""
    if verbosity >= level:
        click.echo(message, err=err)


def _check_overrides(flag: str, values: tuple[str, ...]) -> tuple[str, ...]:
    for text in values:
        key, sep, _ = text.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{flag} '{text}' must look like KEY=VALUE, "
                             f"e.g. {flag} train.steps=500")
    return values


def _set_callback(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]):
    return _check_overrides("--set", values)


def _old_o_callback(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]):
    return _check_overrides("-o", values)


def _old_long_callback(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]):
    return _check_overrides("--override", values)


def set_option(f: F) -> F:
    """Add ``--set KEY=VALUE`` (repeatable), passed to the command as ``overrides``."""
    return click.option(
        "--set", "overrides", multiple=True, metavar="KEY=VALUE", callback=_set_callback,
        help="Change a recipe value, e.g. --set train.steps=500 "
             "--set data.instruments=[piano,organ] (repeatable; the value is YAML).")(f)


def deprecated_override_option(f: F | None = None, *, short: bool = True) -> Any:
    """Add the old ``-o KEY=VALUE`` and ``--override KEY=VALUE`` (hidden, deprecated
    spellings of ``--set``), merged into ``overrides``.

    ``short=False`` (``@deprecated_override_option(short=False)``) keeps only
    ``--override``: for commands whose ``-o`` is an output.
    """
    if f is None:
        return functools.partial(deprecated_override_option, short=short)

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        old = tuple(kwargs.pop("deprecated_short_overrides", ()))
        old_long = tuple(kwargs.pop("deprecated_long_overrides", ()))
        if old or old_long:
            # Either order of decoration: verbosity_options may not have run yet.
            quiet = kwargs.get("verbosity", NORMAL) == QUIET or kwargs.get("quiet", False)
            if old and not quiet:
                click.echo(DEPRECATED_O_WARNING, err=True)
            if old_long and not quiet:
                click.echo(DEPRECATED_OVERRIDE_WARNING, err=True)
            kwargs["overrides"] = old + old_long + tuple(kwargs.get("overrides", ()))
        return f(*args, **kwargs)

    wrapper = click.option(
        "--override", "deprecated_long_overrides", multiple=True, metavar="KEY=VALUE",
        callback=_old_long_callback, hidden=True,
        help="Deprecated spelling of --set KEY=VALUE.")(wrapper)
    if short:
        wrapper = click.option(
            "-o", "deprecated_short_overrides", multiple=True, metavar="KEY=VALUE",
            callback=_old_o_callback, hidden=True,
            help="Deprecated spelling of --set KEY=VALUE.")(wrapper)
    return wrapper


def verbosity_options(f: F) -> F:
    """Add ``-q/--quiet`` and ``-v/--verbose``, passed to the command as ``verbosity``."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        quiet = kwargs.pop("quiet", False)
        verbose = kwargs.pop("verbose", False)
        if quiet and verbose:
            raise UsageError("-q/--quiet and -v/--verbose cannot be used together")
        kwargs["verbosity"] = QUIET if quiet else VERBOSE if verbose else NORMAL
        return f(*args, **kwargs)

    wrapper = click.option("-v", "--verbose", "verbose", is_flag=True,
                           help="Also print the resolved inputs and settings, timings "
                                "and per-stage detail.")(wrapper)
    wrapper = click.option("-q", "--quiet", "quiet", is_flag=True,
                           help="Print nothing but errors (no progress bars, no "
                                "warnings).")(wrapper)
    return wrapper  # type: ignore[return-value]


class DeviceType(click.ParamType):
    """A ``--device`` value: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``, lower-cased."""

    name = "device"

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "auto|cpu|cuda|cuda:N"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        try:
            if not str(value).strip():          # the library reads "" as auto; a flag not
                raise UsageError("empty")       # given a value is a mistake
            return normalize_device(str(value))
        except UsageError:
            flag = param.opts[0] if param is not None and param.opts else "--device"
            raise UsageError(f"{flag} '{value}': unknown device; use {DEVICE_FORMS}") \
                from None


DEVICE = DeviceType()


def device_option(default: str | None = "auto",
                  help: str = "Where to run the model (auto = cuda when available).",
                  ) -> Callable[[F], F]:
    """``--device`` with the shared :class:`DeviceType`; ``default=None`` lets the
    command tell "not given" apart (e.g. to fall back on a recipe's setting)."""
    return click.option("--device", "device", type=DEVICE, default=default,
                        show_default=default is not None, help=help)


def looks_like_override(value: str) -> bool:
    """True for text like ``train.steps=500``: an old ``-o`` override given to a command
    whose ``-o`` is now an output."""
    return bool(_OVERRIDE_TEXT.match(value))


def refuse_override_as_output(flag: str, value: Any) -> None:
    """One-line :class:`UsageError` when an output option got ``KEY=VALUE`` text, which
    is almost surely an old ``-o`` override (a name with '=' can still be given as
    ``./a=b``)."""
    if value is not None and looks_like_override(str(value)):
        raise UsageError(f"{flag} is the output now, not a recipe override: use "
                         f"--set {value} (or write ./{value} for a path with '=')")
