"""The ``neuralsynth`` command group.

Subcommands are entry points in the ``neuralsynth.commands`` group, loaded only when
named (so ``neuralsynth --help`` does not import torch), which also lets plugins add
commands. User errors (:class:`~neuralsynth.errors.NeuralsynthError`) become one line on
stderr and the error's exit code, never a traceback.
"""

from __future__ import annotations

import os
import sys

import click

from neuralsynth.components import plugins
from neuralsynth.version import __version__


class LazyGroup(click.Group):
    """A click group whose commands come from entry points, imported on first use."""

    def _entries(self) -> dict[str, plugins.EntryPointInfo]:
        return {info.name: info for info in plugins.discover("neuralsynth.commands")}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self._entries()))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        cmd = super().get_command(ctx, name)
        if cmd is not None:
            return cmd
        info = self._entries().get(name)
        if info is None:
            return None
        loaded = plugins.load(info)
        return loaded if isinstance(loaded, click.Command) else None

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.exceptions.Exit:
            raise
        except click.ClickException:
            raise
        except KeyboardInterrupt:
            if os.environ.get("RANK", "0") == "0":    # under torchrun, rank 0 says it
                click.echo("interrupted", err=True)
            sys.exit(130)
        except Exception as exc:
            from neuralsynth.errors import NeuralsynthError

            if isinstance(exc, NeuralsynthError):
                if not exc.silent:
                    click.echo(f"error: {exc}", err=True)
                sys.exit(exc.exit_code)
            raise


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="neuralsynth")
def cli() -> None:
    """neuralsynth: render MIDI with a learned, continuous timbre space (Mel2Mel).

    \b
    Examples:
      neuralsynth render in.mid --timbre piano:0.3,organ:0.7 -o out.wav
      neuralsynth train recipes/mel2mel_small_cpu.yaml
      neuralsynth check recipes/mel2mel_10inst.yaml
      neuralsynth components vocoder
    """


def main() -> None:
    plugins.install_warning_format()
    cli(prog_name="neuralsynth")


if __name__ == "__main__":
    main()
