"""``neuralsynth check RECIPE``: validate a recipe without building or training anything."""

from __future__ import annotations

import time

import click

from neuralsynth.cli.options import (
    VERBOSE,
    deprecated_override_option,
    say,
    set_option,
    verbosity_options,
)


def recipe_details(recipe, overrides: tuple[str, ...]) -> list[str]:
    """What ``-v`` shows of a loaded recipe: its file, the overrides applied and every
    resolved value (defaults filled in), as YAML lines."""
    from pathlib import Path

    import yaml

    source = Path(recipe.source).resolve() if recipe.source else "(built from a dict)"
    lines = [f"recipe file: {source}"]
    lines += [f"override: {o}" for o in overrides] or ["overrides: none"]
    lines.append("resolved recipe:")
    text = yaml.safe_dump(recipe.to_dict(), sort_keys=False, default_flow_style=False)
    lines += ["  " + line for line in text.splitlines()]
    return lines


@click.command(short_help="Validate a recipe without building anything.",
               context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("recipe", type=click.Path(dir_okay=True, path_type=str))
@set_option
@deprecated_override_option
@verbosity_options
def check(recipe: str, overrides: tuple[str, ...], verbosity: int) -> None:
    """Validate RECIPE (a file, or a bundled recipe's name: see `neuralsynth recipes`):
    YAML syntax, extends, overrides, component names and parameters.

    Every problem is listed as file:line: key: message; exit code 2 when there are any.
    Components are looked up in their registries (their modules are imported to read
    their Config) but no model is built and no data is read. With -v: the recipe file
    found, the overrides and every resolved value; with -q: only the exit code (and
    the problems).

    \b
    Examples:
      neuralsynth check recipes/mel2mel_10inst.yaml
      neuralsynth check mel2mel_10inst                    # the bundled recipe, by name
      neuralsynth check recipes/mel2mel_small_cpu.yaml --set model.sequence.hidden_size=32
    """
    # Imported here so `neuralsynth --help` does not pay for the component registries.
    from neuralsynth.recipe.load import load_recipe

    start = time.perf_counter()
    loaded = load_recipe(recipe, overrides)
    if verbosity >= VERBOSE:
        say(verbosity, "\n".join(recipe_details(loaded, overrides)))
        say(verbosity, f"checked in {time.perf_counter() - start:.2f} s")
    say(verbosity, f"ok: {recipe} ({loaded.summary()})")
