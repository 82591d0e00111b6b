"""`nnfunc train`: train an MLP on a CSV file or a bundled dataset and write a model file.

Options left out fall back to the bundled dataset's recipe (`pipeline.RECIPES`), or to
`pipeline.CSV_DEFAULTS` for a CSV file. Every option is typed, and the output paths are checked,
before any data is read; the data and the configuration (`pipeline.check_training`) before any
epoch runs. A model file holds no clock reading unless `--timestamp` asks for one, so the same
seed gives the same bytes.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
import warnings
from typing import Any

import attrs
import click
import numpy as np

from nnfunc.cli.common import (
    CSV_LIMIT,
    FRACTION,
    NON_NEGATIVE,
    POSITIVE,
    ActivationName,
    Command,
    Layers,
    OutputPath,
    check_output,
    cli_errors,
    creation_time,
    echo_json,
    human_bytes,
    is_terminal,
    json_option,
    metric_line,
    ordered_splits,
    read_input,
)
from nnfunc.csvdata import parse_csv
from nnfunc.datasets import dataset_names
from nnfunc.losses import LOSSES
from nnfunc.model import Model
from nnfunc.modelfile import dumps_model, write_atomic
from nnfunc.names import dataset_name, shown_path
from nnfunc.optim import OPTIMIZERS
from nnfunc.params import ALIASES, INITIALIZERS
from nnfunc.pipeline import (
    OverparameterizedWarning,
    check_training,
    default_config,
    load_training_data,
    train_model,
)
from nnfunc.schedules import SCHEDULES
from nnfunc.training import EpochReport

# CLI option name -> TrainConfig field, for the options that override the recipe.
OVERRIDES = {
    "layers": "hidden",
    "activation": "activation",
    "output_activation": "output_activation",
    "loss": "loss",
    "init": "init",
    "optimizer": "optimizer",
    "lr": "lr",
    "schedule": "schedule",
    "batch_size": "batch_size",
    "epochs": "epochs",
    "l2": "l2",
    "clip_norm": "clip_norm",
    "seed": "seed",
    "val_split": "val_split",
    "test_split": "test_split",
    "early_stopping": "early_stopping",
    "patience": "patience",
    "dtype": "dtype",
}


class Progress:
    """One progress bar over the epochs on stderr, showing the latest loss and metric."""

    def __init__(self, epochs: int, label: str):
        self.bar = click.progressbar(
            length=epochs, label=label, file=sys.stderr, width=20, item_show_func=lambda text: text
        )
        self.bar.__enter__()

    def __call__(self, report: EpochReport) -> None:
        h = report.history
        text = f"loss {h.loss[-1]:.4f} {h.metric_name} {h.metric[-1]:.4f}"
        if h.val_loss:
            text += f" val_loss {h.val_loss[-1]:.4f} val_{h.metric_name} {h.val_metric[-1]:.4f}"
        self.bar.update(1, text)

    def close(self) -> None:
        self.bar.__exit__(None, None, None)


def _architecture(model: Model) -> str:
    spec = model.spec
    acts = "/".join(dict.fromkeys((*spec.activations, spec.output_activation)))
    return f"{'-'.join(map(str, spec.sizes))} {acts} MLP ({model.n_params} parameters)"


@click.command(cls=Command, short_help="Train a model and write a model file.")
@click.option(
    "--data",
    metavar="CSV",
    type=click.Path(dir_okay=False, allow_dash=True),
    help=f"CSV file with a header row to train on (comma-separated, at most {CSV_LIMIT}; '-' "
    "for stdin).",
)
@click.option(
    "--dataset", type=click.Choice(dataset_names()), help="Bundled dataset (default: iris)."
)
@click.option(
    "--target",
    metavar="COLUMN",
    help="Target column(s) of the CSV, comma-separated (default: last).",
)
@click.option(
    "--task",
    type=click.Choice(["classify", "regress"]),
    help="Inferred if omitted: text, or whole numbers with at most 20 values, are classified.",
)
@click.option("--layers", type=Layers(), help="Hidden layer sizes, e.g. 16,16 (or 'none').")
@click.option("--activation", type=ActivationName(hidden=True), help="Hidden activation.")
@click.option("--output-activation", type=ActivationName(hidden=False), help="Output activation.")
@click.option("--loss", type=click.Choice(list(LOSSES)), help="Loss (matched to the output).")
@click.option("--init", type=click.Choice([*INITIALIZERS, *ALIASES]), help="Weight initialiser.")
@click.option("--optimizer", type=click.Choice(OPTIMIZERS), help="Optimizer.")
@click.option("--lr", type=POSITIVE, help="Learning rate (> 0).")
@click.option("--schedule", type=click.Choice(list(SCHEDULES)), help="Learning-rate schedule.")
@click.option("--batch-size", type=click.IntRange(min=1), help="Minibatch size.")
@click.option("--epochs", type=click.IntRange(1, 1_000_000), help="Number of epochs.")
@click.option("--l2", type=NON_NEGATIVE, help="L2 penalty on the weights (>= 0).")
@click.option("--clip-norm", type=POSITIVE, help="Clip the gradients' global norm to this.")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), help="Seed of every random choice.")
@click.option("--val-split", type=FRACTION, help="Fraction of training rows for validation.")
@click.option("--test-split", type=FRACTION, help="Fraction of rows held out for testing.")
@click.option(
    "--early-stopping/--no-early-stopping", default=None, help="Stop when validation stalls."
)
@click.option("--patience", type=click.IntRange(min=1), help="Epochs without improvement.")
@click.option("--dtype", type=click.Choice(["float32", "float64"]), help="Float type.")
@click.option(
    "--out",
    metavar="PATH",
    type=OutputPath(),
    help="Model file (default: models/<data name>.msgpack).",
)
@click.option(
    "--plot",
    metavar="PNG",
    type=OutputPath(),
    help="Draw training curves to this PNG (matplotlib).",
)
@click.option(
    "--timestamp",
    is_flag=True,
    help="Record the creation time in the model file (UTC now, or SOURCE_DATE_EPOCH when set). "
    "Off by default, so that the same seed gives a byte-identical file.",
)
@json_option
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary.")
def train(
    data: str | None,
    dataset: str | None,
    target: str | None,
    task: str | None,
    out: str | None,
    plot: str | None,
    timestamp: bool,
    as_json: bool,
    quiet: bool,
    **options: Any,
) -> None:
    """Train a model and write it to a model file (with no options: Iris to models/iris.msgpack).

    Options left out come from the bundled dataset's tested recipe, or, for a CSV file, from
    defaults that suit small tables (16 hidden units, Adam, lr 0.01, batches of 32, 200 epochs).
    """
    if data is not None and dataset is not None:
        raise click.UsageError("give --data or --dataset, not both")
    if target is not None and data is None:
        raise click.UsageError("--target selects a column of a --data CSV file")
    if data is None and dataset is None:
        dataset = "iris"
    name = dataset or ("stdin" if data == "-" else dataset_name(data))  # printable, as stored
    default_out = os.path.join("models", f"{name}.msgpack")
    out = default_out if out is None else out
    created = creation_time() if timestamp else None
    if plot is not None:
        from nnfunc.plotting import plot_format

        check_output(plot, others={"--data": data, "--out": out})
        with cli_errors():
            plot_format(plot)  # the suffix picks the format: .png, .svg, .pdf, ...
    # the last check: it may make models/
    check_output(out, others={"--data": data}, create_folder=out == default_out)

    overrides = {OVERRIDES[k]: v for k, v in options.items() if v is not None}
    with cli_errors():
        config = attrs.evolve(default_config(dataset), **overrides)
        targets = [t.strip() for t in target.split(",")] if target is not None else None
        if data == "-":
            raw, source = read_input(data)
            table = parse_csv(raw, source=source, name=name, target=targets, task=task)
        else:
            table = load_training_data(data=data, dataset=dataset, target=targets, task=task)
        with np.errstate(all="ignore"):
            check_training(table, config, task=task)  # before the progress bar and any epoch
    progress = Progress(config.epochs, name) if is_terminal() and not quiet else None
    started = time.perf_counter()
    try:
        # Divergence is detected from the loss; numpy's overflow warnings would only add noise.
        with cli_errors(), np.errstate(all="ignore"), warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always", OverparameterizedWarning)
            model = train_model(table, config, task=task, on_epoch=progress, created=created)
        for warning in seen:
            click.echo(f"Warning: {warning.message}", err=True)
    finally:
        if progress is not None:
            progress.close()
    seconds = time.perf_counter() - started

    with cli_errors():
        image = None
        if plot is not None:
            from nnfunc.plotting import plot_format, training_plot

            image = training_plot(model, table, fmt=plot_format(plot))
        blob = dumps_model(model)
        write_atomic(out, blob)
        if image is not None:
            write_atomic(plot, image)
    _report(model, name, out, blob, plot, seconds, as_json=as_json, quiet=quiet)


def _report(
    model: Model,
    name: str,
    out: str,
    blob: bytes,
    plot: str | None,
    seconds: float,
    *,
    as_json: bool,
    quiet: bool,
) -> None:
    """Print the summary: JSON, or a few lines of text (nothing under --quiet)."""
    if as_json:
        echo_json(
            {
                "model": out,
                "bytes": len(blob),
                "sha256": hashlib.sha256(blob).hexdigest(),
                "data": name,
                "task": model.task,
                "sizes": list(model.spec.sizes),
                "n_params": model.n_params,
                "epochs_run": model.config["epochs_run"],
                "stopped_early": model.config["stopped_early"],
                "seconds": round(seconds, 3),
                "plot": plot,
                "config": model.config,
                "metrics": model.metrics,
            }
        )
        return
    if quiet:
        return
    epochs = model.config["epochs_run"]
    stopped = " (stopped early)" if model.config["stopped_early"] else ""
    click.echo(
        f"{name}: trained a {_architecture(model)} for {epochs} epochs{stopped} in {seconds:.1f} s"
    )
    for split, report in ordered_splits(model.metrics):
        click.echo(metric_line(split, report))
    click.echo(f"wrote {shown_path(out)} ({human_bytes(len(blob))})")
    if plot is not None:
        click.echo(f"wrote {shown_path(plot)}")
