"""`nnfunc evaluate`: a saved model's metrics on a labelled CSV file.

Classifiers get accuracy, the confusion matrix and per-class precision, recall and F1; regressors
get MSE, RMSE, MAE and R² per target. Columns are matched by the names the model was trained on
(after Unicode normalisation); rows are read as `nnfunc predict` reads them.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import click

from nnfunc.cli.common import (
    CSV_LIMIT,
    Command,
    cli_errors,
    counted,
    echo_json,
    json_option,
    load_model_arg,
    read_input,
)
from nnfunc.cli.predict import rows_by_line
from nnfunc.model_table import model_table
from nnfunc.names import shown_path
from nnfunc.pipeline import evaluate as evaluate_model
from nnfunc.pipeline import model_inputs, model_targets


def _width(text: str) -> int:
    """Terminal columns `text` takes: East Asian wide and fullwidth characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _table(rows: list[list[str]]) -> list[str]:
    """Rows of cells as left-aligned first column and right-aligned others (aligned on screen,
    also for class names in Chinese or Japanese)."""
    widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            cell + " " * (w - _width(cell)) if i == 0 else " " * (w - _width(cell)) + cell
            for i, (cell, w) in enumerate(zip(row, widths))
        ).rstrip()
        for row in rows
    ]


def classification_text(report: dict[str, Any], classes: list[str]) -> list[str]:
    """Accuracy, confusion matrix and per-class scores as lines of text."""
    lines = [f"accuracy {report['accuracy']:.4f} ({counted(report['n_samples'], 'row')})", ""]
    lines.append("confusion matrix (rows: true class, columns: predicted class)")
    matrix = report["confusion_matrix"]
    lines += _table([["", *classes], *([c, *map(str, row)] for c, row in zip(classes, matrix))])
    lines.append("")
    rows = [["class", "precision", "recall", "f1", "support"]]
    for c in classes:
        s = report["per_class"][c]
        rows.append([c, *(f"{s[k]:.4f}" for k in ("precision", "recall", "f1")), str(s["support"])])
    for avg in ("macro", "weighted"):
        s = report[avg]
        rows.append([f"{avg} avg", *(f"{s[k]:.4f}" for k in ("precision", "recall", "f1")), ""])
    return lines + _table(rows)


def regression_text(report: dict[str, Any]) -> list[str]:
    """Per-target and mean regression scores as lines of text."""
    rows = [["target", "mse", "rmse", "mae", "r2"]]
    for name, s in report["per_target"].items():
        rows.append([name, *(f"{s[k]:.6g}" for k in ("mse", "rmse", "mae", "r2"))])
    rows.append(["mean", *(f"{report[k]:.6g}" for k in ("mse", "rmse", "mae", "r2"))])
    return [counted(report["n_samples"], "row"), *_table(rows)]


@click.command(cls=Command)
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False))
@click.option(
    "--data",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help=f"CSV file with the model's feature and target columns ('-' for stdin; at most "
    f"{CSV_LIMIT}).",
)
@json_option
def evaluate(model_path: str, data: str, as_json: bool) -> None:
    """Print MODEL's metrics on the labelled rows of a CSV file."""
    model = load_model_arg(model_path)
    raw, source = read_input(data)
    with cli_errors():
        # Rows of empty cells (Excel's trailing ,,,) are skipped, as training skips them: a model
        # can be evaluated on the file it was trained on. (predict refuses them: it answers
        # every row, and a dropped one would shift each answer after it.)
        header, body, lines = model_table(model, raw, source, skip_empty=True)
        X = model_inputs(model, header, body, source, lines)
        y = model_targets(model, header, body, source, lines)
        with rows_by_line(source, lines.__getitem__):
            report = evaluate_model(model, X, y)
    if as_json:
        echo_json({"model": model_path, "data": source, "task": model.task, "metrics": report})
        return
    click.echo(f"{shown_path(model_path)} on {source}")
    if model.task == "classify":
        lines = classification_text(report, [str(c) for c in model.classes])
    else:
        lines = regression_text(report)
    for line in lines:
        click.echo(line)
