"""``neuralsynth recipes``: the recipes bundled with the package, by name."""

from __future__ import annotations

import click

from neuralsynth.cli.options import QUIET, VERBOSE, say, verbosity_options


@click.command(short_help="List the bundled recipes (usable by name in train and check).",
               context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--paths", is_flag=True, help="Show each recipe's file path too.")
@verbosity_options
def recipes(paths: bool, verbosity: int) -> None:
    """List the recipes shipped with neuralsynth: name and what it trains.

    A bundled recipe can be named without a path wherever a recipe is expected; a path
    still works, and a file of that name in the current directory wins. With -v: the
    directory they come from and, per recipe, its path and where it trains to; with -q:
    nothing (exit code 2 when none are installed).

    \b
    Examples:
      neuralsynth recipes
      neuralsynth check mel2mel_10inst
      neuralsynth train mel2mel_small_cpu --set data.dataset=data/small
      neuralsynth train ablations/proposed
    """
    from neuralsynth.assets import asset_dir, recipe_paths
    from neuralsynth.errors import NeuralsynthError, UsageError
    from neuralsynth.recipe.load import load_recipe

    found = recipe_paths()
    if not found:
        raise UsageError("no bundled recipes are installed")
    if verbosity == QUIET:
        return
    say(verbosity, f"bundled recipes in {asset_dir('recipes')}:", level=VERBOSE)
    width = max(len(name) for name in found)
    for name, path in found.items():
        out = None
        try:
            loaded = load_recipe(path)
            what, out = loaded.summary(), loaded.train.out
        except NeuralsynthError as exc:   # e.g. a recipe naming a plugin not installed
            what = f"(does not validate here: {str(exc).splitlines()[0]})"
        lines = [f"  {name:<{width}}  {what}"]
        if paths or verbosity >= VERBOSE:
            lines.append(f"  {'':<{width}}  {path}")
        if verbosity >= VERBOSE and out is not None:
            lines.append(f"  {'':<{width}}  trains to {out}")
        click.echo("\n".join(lines))
