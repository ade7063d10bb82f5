"""``neuralsynth components [KIND]``: what can be named in a recipe, and who provides it."""

from __future__ import annotations

import click

from neuralsynth.cli.options import QUIET, VERBOSE, say, verbosity_options


def _resolve_kind(kind: str, kinds: list[str]) -> str:
    """Accept a kind, its plural, any case; UsageError with a did-you-mean otherwise."""
    from neuralsynth.errors import UsageError, did_you_mean

    key = kind.strip().lower()
    if key in kinds:
        return key
    if key.endswith("s") and key[:-1] in kinds:
        return key[:-1]
    raise UsageError(f"unknown component kind '{kind}'{did_you_mean(key, kinds)}; "
                     f"kinds: {', '.join(kinds)}")


def _listing(kind: str, registry, verbose: bool = False) -> tuple[list[str], str | None]:
    """Lines describing every component of one kind, and a provider clash if any;
    ``verbose`` adds the class that implements each component."""
    from neuralsynth.components.params import describe
    from neuralsynth.errors import PluginError
    from neuralsynth.recipe.docs import field_type, first_line, format_value

    lines = [f"{kind} ({registry.group}):"]
    try:
        names = registry.names()
    except PluginError as exc:  # two distributions declare the same name
        return (lines + ["  (cannot list: conflicting providers, see the error below)", ""],
                str(exc))
    if not names:
        lines.append("  (none installed)")
    for name in names:
        dist, version = registry.provider(name)
        try:
            cls = registry.get(name)
        except PluginError:
            lines.append(f"  {name}  [{dist} {version}]  (failed to load, see below)")
            continue
        summary = first_line(cls)
        lines.append(f"  {name}  [{dist} {version}]" + (f"  {summary}" if summary else ""))
        if verbose:
            lines.append(f"      class: {cls.__module__}.{cls.__qualname__}")
        fields = describe(cls.Config)
        width = max((len(f.name) for f in fields), default=0)
        for f in fields:
            lines.append(f"      {f.name:<{width}}  {field_type(f)} = "
                         f"{format_value(f.default)}  {f.help}")
    return lines + [""], None


@click.command(short_help="List registered components, their providers and parameters.",
               context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("kind", required=False)
@verbosity_options
def components(kind: str | None, verbosity: int) -> None:
    """List the registered components of every KIND (or one): encoder, conditioner,
    sequence, vocoder, loss.

    For each: the distribution and version providing it, a one-line summary and the
    parameters a recipe may set (name, type = default, help). Plugins that failed to
    import are listed at the end. With -v: also the class behind each component (its
    module and name); with -q: nothing, only the exit code (1 when two
    distributions provide the same name).

    \b
    Examples:
      neuralsynth components
      neuralsynth components vocoder
    """
    # Imported here: the registries pull in torch, which `neuralsynth --help` must not.
    from neuralsynth.components import plugins
    from neuralsynth.errors import PluginError
    from neuralsynth.recipe.sections import REGISTRIES

    kinds = list(REGISTRIES)
    selected = [_resolve_kind(kind, kinds)] if kind else kinds
    clashes = []
    for name in selected:
        lines, clash = _listing(name, REGISTRIES[name], verbose=verbosity >= VERBOSE)
        say(verbosity, "\n".join(lines))
        if clash:
            clashes.append(clash)

    groups = {REGISTRIES[name].group: name for name in selected}
    failed = [f for f in plugins.failures() if f.group in groups]
    if failed and verbosity > QUIET:
        click.echo("failed to load:")
        for f in failed:
            click.echo(f"  {groups[f.group]} '{f.name}' from '{f.distribution}': {f.error}")
        click.echo("  (set NEURALSYNTH_RAISE_PLUGIN_ERRORS=1 to see the traceback)")
    if clashes:
        raise PluginError("; ".join(clashes))
