"""The `nnfunc` command line: one click group whose subcommands are imported only when used.

Each subcommand lives in its own module here, so `nnfunc train` never pays for importing Flask
and `nnfunc serve` never pays for matplotlib.
"""

from __future__ import annotations

import importlib

import click

# name -> "module:attribute" of the click command
COMMANDS = {
    "train": "nnfunc.cli.train:train",
    "evaluate": "nnfunc.cli.evaluate:evaluate",
    "predict": "nnfunc.cli.predict:predict",
    "inspect": "nnfunc.cli.inspect:inspect",
    "datasets": "nnfunc.cli.datasets:datasets",
    "serve": "nnfunc.cli.serve:serve",
    "sweep": "nnfunc.cli.sweep:sweep",
}


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module the first time it is called."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, _, attribute = target.partition(":")
        return getattr(importlib.import_module(module), attribute)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="nnfunc")
def main() -> None:
    """Train, inspect and serve multilayer perceptrons written in pure numpy."""
