"""`nnfunc predict`: a saved model's predictions for the rows of a CSV file, as CSV or JSON.

Classifiers print the predicted label and one probability column per class; regressors print
one column per target in the original units. Floats are written with Python's shortest repr, so
they read back bit for bit. Every data row gets one answer, in order: a row of empty cells is
refused rather than skipped (blank lines are skipped), and messages name rows by their line in
the file.
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Iterator, Sequence

import click
from click.core import ParameterSource

from nnfunc.cli.common import (
    CSV_LIMIT,
    BadInput,
    Command,
    cli_errors,
    echo_json,
    load_model_arg,
    read_input,
)
from nnfunc.csvdata import numbered_table
from nnfunc.model import InputRangeError, Model, predict_codes, predict_proba, predict_values
from nnfunc.names import spelled_as
from nnfunc.pipeline import model_inputs


def model_rows(
    model: Model, raw: bytes, source: str
) -> tuple[list[str], list[list[str]], list[int]]:
    """The header, rows and their lines of CSV bytes, with the header's column names spelled as
    the model spells them when they match only after Unicode normalisation (NFC and NFD)."""
    header, body, lines = numbered_table(raw, source)
    return spelled_as(header, (*model.feature_names, *model.target_names)), body, lines


@contextlib.contextmanager
def rows_by_line(source: str, lines: Sequence[int]) -> Iterator[None]:
    """Name the row of an InputRangeError by its line in the file, as the CSV messages do."""
    try:
        yield
    except InputRangeError as exc:
        raise BadInput(
            f"{source}: inputs out of range: line {lines[exc.row]}, {exc.detail}"
        ) from None


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
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout (as --format json).")
def predict(model_path: str, data: str, fmt: str, as_json: bool) -> None:
    """Predict labels and probabilities (or values) for each row of a CSV file."""
    if as_json:
        given = click.get_current_context().get_parameter_source("fmt")
        if fmt == "csv" and given is ParameterSource.COMMANDLINE:
            raise BadInput("give --json or --format csv, not both")
        fmt = "json"
    model = load_model_arg(model_path)
    raw, source = read_input(data)
    with cli_errors():
        header, body, lines = model_rows(model, raw, source)
        X = model_inputs(model, header, body, source, lines)
        with rows_by_line(source, lines):
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
