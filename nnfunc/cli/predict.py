"""`nnfunc predict`: a saved model's predictions for the rows of a CSV file, as CSV or JSON.

Classifiers print the predicted label and one probability column per class; regressors print
one column per target in the original units. Floats are written with Python's shortest repr, so
they read back bit for bit.
"""

from __future__ import annotations

import csv
import io

import click

from nnfunc.cli.common import (
    CSV_LIMIT,
    Command,
    cli_errors,
    echo_json,
    load_model_arg,
    read_input,
)
from nnfunc.model import predict_codes, predict_proba, predict_values
from nnfunc.pipeline import model_inputs, read_table


@click.command(cls=Command)
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False))
@click.option(
    "--data",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help=f"CSV file with the model's feature columns ('-' for stdin; at most {CSV_LIMIT}).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json"]),
    default="csv",
    show_default=True,
    help="Output format on stdout.",
)
def predict(model_path: str, data: str, fmt: str) -> None:
    """Predict labels and probabilities (or values) for each row of a CSV file."""
    model = load_model_arg(model_path)
    raw, source = read_input(data)
    with cli_errors():
        header, body = read_table(raw, source)
        X = model_inputs(model, header, body, source)
        if model.task == "classify":
            labels = [model.classes[k] for k in predict_codes(model, X).tolist()]
            values = predict_proba(model, X).tolist()
            columns = [f"p_{c}" for c in model.classes]
        else:
            labels = None
            values = predict_values(model, X).tolist()
            columns = list(model.target_names)
    if fmt == "json":
        if labels is not None:
            echo_json(
                {"classes": list(model.classes), "labels": labels, "probabilities": values},
                indent=None,
            )
        else:
            echo_json({"targets": columns, "values": values}, indent=None)
        return
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["label", *columns] if labels is not None else columns)
    for i, row in enumerate(values):
        writer.writerow([labels[i], *map(repr, row)] if labels is not None else map(repr, row))
    click.echo(out.getvalue(), nl=False)
