"""`nnfunc datasets`: the bundled datasets with their shapes, tasks and targets."""

from __future__ import annotations

import click

from nnfunc.cli.common import Command, echo_json, json_option
from nnfunc.datasets import describe


@click.command(cls=Command)
@json_option
def datasets(as_json: bool) -> None:
    """List the bundled datasets (train on one with `nnfunc train --dataset NAME`)."""
    rows = describe()
    if as_json:
        echo_json(rows)
        return
    table = [["name", "task", "rows", "features", "targets", "description"]]
    for r in rows:
        table.append(
            [
                r["name"],
                r["task"],
                str(r["n_samples"]),
                str(r["n_features"]),
                ",".join(r["targets"]),
                r["description"],
            ]
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]) - 1)]
    for row in table:
        cells = [
            c.ljust(w) if i in (0, 1, 4) else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths))
        ]
        click.echo("  ".join([*cells, row[-1]]))
