"""``neuralsynth recipes``: the recipes bundled with the package, by name."""

from __future__ import annotations

import click


@click.command(short_help="List the bundled recipes (usable by name in train and check).",
               context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--paths", is_flag=True, help="Show each recipe's file path too.")
def recipes(paths: bool) -> None:
    """List the recipes shipped with neuralsynth: name and what it trains.

    A bundled recipe can be named without a path wherever a recipe is expected; a path
    still works, and a file of that name in the current directory wins.

    \b
    Examples:
      neuralsynth recipes
      neuralsynth check mel2mel_10inst
      neuralsynth train mel2mel_small_cpu -o data.dataset=data/small
      neuralsynth train ablations/proposed
    """
    from neuralsynth.assets import recipe_paths
    from neuralsynth.errors import NeuralsynthError, UsageError
    from neuralsynth.recipe.load import load_recipe

    found = recipe_paths()
    if not found:
        raise UsageError("no bundled recipes are installed")
    width = max(len(name) for name in found)
    for name, path in found.items():
        try:
            what = load_recipe(path).summary()
        except NeuralsynthError as exc:   # e.g. a recipe naming a plugin not installed
            what = f"(does not validate here: {str(exc).splitlines()[0]})"
        line = f"  {name:<{width}}  {what}"
        click.echo(f"{line}\n  {'':<{width}}  {path}" if paths else line)
