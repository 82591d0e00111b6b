"""`nnfunc predict`: a saved model's predictions for the rows of a CSV file, as CSV or JSON.

Classifiers print the predicted label and one probability column per class; regressors print
one column per target in the original units; `--keep` puts input columns (an ID, say) first.
Floats are written with Python's shortest repr, so they read back bit for bit. Every data row
gets one answer, in order: a row of empty cells is refused rather than skipped (blank lines are
skipped), and messages name rows by their line in the file.
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Callable, Iterator

import click
import numpy as np
from click.core import ParameterSource

from nnfunc.cli.common import (
    CSV_LIMIT,
    BadInput,
    Command,
    cli_errors,
    column_names,
    echo_json,
    load_model_arg,
    read_input,
)
from nnfunc.model import InputRangeError, predict_values, predict_with_proba
from nnfunc.model_table import table_inputs, table_inputs_and_columns


@contextlib.contextmanager
def rows_by_line(source: str, line_of: Callable[[int], int]) -> Iterator[None]:
    """Name the row of an InputRangeError by its line in the file, as the CSV messages do."""
    try:
        yield
    except InputRangeError as exc:
        raise BadInput(
            f"{source}: inputs out of range: line {line_of(exc.row)}, {exc.detail}"
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
@click.option(
    "--keep",
    metavar="COLUMNS",
    help="Input columns to copy into the output, before the predictions: an ID, say "
    "(comma-separated; cells without surrounding spaces; in JSON, under 'kept').",
)
def predict(model_path: str, data: str, fmt: str, as_json: bool, keep: str | None) -> None:
    """Predict labels and probabilities (or values) for each row of a CSV file."""
    if as_json:
        given = click.get_current_context().get_parameter_source("fmt")
        if fmt == "csv" and given is ParameterSource.COMMANDLINE:
            raise BadInput("give --json or --format csv, not both")
        fmt = "json"
    kept_names = column_names("--keep", keep) or []
    model = load_model_arg(model_path)
    header = _output_header(model, kept_names)
    raw, source = read_input(data)
    with cli_errors():
        if kept_names:
            X, line_of, kept = table_inputs_and_columns(model, raw, source, kept_names)
        else:
            (X, line_of), kept = table_inputs(model, raw, source), []
        with rows_by_line(source, line_of):
            if model.task == "classify":
                labels, values = predict_with_proba(model, X)  # one forward pass for both
            else:
                labels, values = None, predict_values(model, X)
    if fmt == "json":
        if labels is not None:
            body = {
                "classes": list(model.classes),
                "labels": labels.tolist(),
                "probabilities": values.tolist(),
            }
        else:
            body = {"targets": list(model.target_names), "values": values.tolist()}
        echo_json(body | ({"kept": dict(zip(kept_names, kept))} if kept_names else {}), indent=None)
        return
    for text in _csv_chunks(header, kept, labels, values):
        click.echo(text, nl=False)


def _output_header(model, kept_names: list[str]) -> list[str]:
    """The CSV output's columns: the kept ones, then the label and one probability per class
    (classifiers) or one value per target (regressors). Kept names must be distinct from all."""
    if model.task == "classify":
        predicted = ["label", *(f"p_{c}" for c in model.classes)]
    else:
        predicted = list(model.target_names)
    for i, name in enumerate(kept_names):
        if name in kept_names[:i]:
            raise click.UsageError(f"--keep names the column {name!r} twice")
        if name in predicted:
            raise click.UsageError(
                f"--keep {name!r}: the output already has a column {name!r} (the predictions); "
                "`nnfunc evaluate` compares predictions with a file's targets"
            )
    return [*kept_names, *predicted]


# Rows formatted per chunk: a million rows never sit in memory as Python lists and text at once.
CHUNK_ROWS = 10_000


def _csv_chunks(
    header: list[str], kept: list[list[str]], labels: np.ndarray | None, values: np.ndarray
) -> Iterator[str]:
    """The CSV output, a chunk of rows at a time: the kept cells (as read, surrounding spaces
    removed), the label (classifiers) and each value as its shortest exact spelling (`repr`)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for start in range(0, len(values), CHUNK_ROWS):
        stop = start + CHUNK_ROWS
        rows = [list(map(repr, row)) for row in values[start:stop].tolist()]
        if labels is not None:
            rows = [[label, *row] for label, row in zip(labels[start:stop].tolist(), rows)]
        if kept:
            rows = [[*cells, *row] for cells, row in zip(zip(*(k[start:stop] for k in kept)), rows)]
        writer.writerows(rows)
        yield out.getvalue()
        out.seek(0)
        out.truncate()
    if not len(values):
        yield out.getvalue()
