"""``neuralsynth check RECIPE``: validate a recipe without building or training anything."""

from __future__ import annotations

import click


@click.command(short_help="Validate a recipe without building anything.")
@click.argument("recipe", type=click.Path(dir_okay=True, path_type=str))
@click.option("-o", "--override", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a recipe value, e.g. -o train.steps=10 "
                   "-o data.instruments=[piano,organ] (repeatable; value is YAML).")
def check(recipe: str, overrides: tuple[str, ...]) -> None:
    """Validate RECIPE (a file, or a bundled recipe's name: see `neuralsynth recipes`):
    YAML syntax, extends, overrides, component names and parameters.

    Every problem is listed as file:line: key: message; exit code 2 when there are any.
    Components are looked up in their registries (their modules are imported to read
    their Config) but no model is built and no data is read.

    \b
    Examples:
      neuralsynth check recipes/mel2mel_10inst.yaml
      neuralsynth check mel2mel_10inst                    # the bundled recipe, by name
      neuralsynth check recipes/mel2mel_small_cpu.yaml -o model.sequence.hidden_size=32
    """
    # Imported here so `neuralsynth --help` does not pay for the component registries.
    from neuralsynth.recipe.load import load_recipe

    loaded = load_recipe(recipe, overrides)
    click.echo(f"ok: {recipe} ({loaded.summary()})")
