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
from typing import Any

import attrs
import click
import numpy as np

from nnfunc.activations import ACTIVATIONS, OUTPUT_ONLY
from nnfunc.cli.common import (
    CSV_LIMIT,
    FRACTION,
    NON_NEGATIVE,
    POSITIVE,
    ActivationName,
    BadInput,
    Command,
    Diverged,
    Layers,
    OutputPath,
    check_output,
    cli_errors,
    column_names,
    counted,
    creation_time,
    echo_json,
    human_bytes,
    is_terminal,
    json_option,
    metric_line,
    ordered_splits,
    read_input,
    warnings_as_lines,
)
from nnfunc.csvdata import load_csv, parse_csv
from nnfunc.datasets import TASKS, dataset_names
from nnfunc.losses import LOSSES
from nnfunc.model import Model
from nnfunc.modelfile import dumps_model, write_atomic
from nnfunc.names import dataset_name, shown_path
from nnfunc.optim import OPTIMIZERS
from nnfunc.params import ALIASES, INITIALIZERS
from nnfunc.pipeline import (
    TrainConfig,
    check_training,
    default_config,
    load_training_data,
    train_model,
)
from nnfunc.schedules import SCHEDULES
from nnfunc.training import EpochReport, TrainingDiverged

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

# An L2 penalty from here up is far above the usual 1e-5..1e-2; a run it diverges says so.
LARGE_L2 = 1.0


def _activation_help(hidden: bool) -> str:
    """The --activation / --output-activation help: the names, and the NAME:PARAM syntax."""
    names = sorted(n for n in ACTIVATIONS if not (hidden and n in OUTPUT_ONLY))
    takes = sorted(n for n, act in ACTIVATIONS.items() if act.parametric)
    return (
        f"{'Hidden' if hidden else 'Output'} activation: {', '.join(names)}; NAME:PARAM sets the "
        f"parameter of {', '.join(takes)} (e.g. leaky_relu:0.1)."
    )


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
    help="Target column(s) of the CSV, comma-separated (default: last); quote a name holding a "
    "comma as in the header: '\"BMI, kg/m2\"'.",
)
@click.option(
    "--task",
    type=click.Choice(TASKS),
    help="Inferred if omitted: text, or whole numbers with at most 20 values, are classified.",
)
@click.option(
    "--layers",
    type=Layers(),
    help="Hidden layer sizes, e.g. 16,16 (or 'none'); each at most 100,000.",
)
@click.option(
    "--features",
    metavar="COLUMNS",
    help="Feature columns of the CSV, comma-separated (default: every column but the targets).",
)
@click.option("--activation", type=ActivationName(hidden=True), help=_activation_help(True))
@click.option(
    "--output-activation", type=ActivationName(hidden=False), help=_activation_help(False)
)
@click.option(
    "--loss",
    type=click.Choice(list(LOSSES)),
    help="Loss (default: the recipe's; with --output-activation, the one that output calls for).",
)
@click.option("--init", type=click.Choice([*INITIALIZERS, *ALIASES]), help="Weight initialiser.")
@click.option("--optimizer", type=click.Choice(OPTIMIZERS), help="Optimizer.")
@click.option("--lr", type=POSITIVE, help="Learning rate (> 0).")
@click.option(
    "--schedule",
    type=click.Choice(list(SCHEDULES)),
    help="Learning-rate schedule over the run: cosine decays to 0 over the run, step halves "
    "the rate every quarter of the run, exponential brings it to a tenth by the end, invscaling is "
    "lr / sqrt(step + 1).",
)
@click.option("--batch-size", type=click.IntRange(min=1), help="Minibatch size.")
@click.option(
    "--epochs",
    type=click.IntRange(1, 1_000_000),
    help="Number of epochs (a model file keeps the history of about 500,000 at most: more is "
    "refused before training).",
)
@click.option("--l2", type=NON_NEGATIVE, help="L2 penalty on the weights (>= 0).")
@click.option("--clip-norm", type=POSITIVE, help="Clip the gradients' global norm to this.")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), help="Seed of every random choice.")
@click.option("--val-split", type=FRACTION, help="Fraction of training rows for validation.")
@click.option("--test-split", type=FRACTION, help="Fraction of rows held out for testing.")
@click.option(
    "--early-stopping/--no-early-stopping",
    default=None,
    help="Stop when the validation loss stops improving for --patience epochs (without "
    "--val-split there are no validation rows, and the training loss is watched).",
)
@click.option(
    "--patience",
    type=click.IntRange(min=1),
    help="Epochs without improvement before --early-stopping stops training.",
)
@click.option("--dtype", type=click.Choice(["float32", "float64"]), help="Float type.")
@click.option(
    "--out",
    metavar="PATH",
    type=OutputPath(),
    help="Model file (default: models/<data name>.msgpack). An existing file is replaced; if "
    "anything fails, it is left intact.",
)
@click.option(
    "--plot",
    metavar="FILE",
    type=OutputPath(),
    help="Draw training curves to this file (matplotlib); its suffix picks the format: .png, "
    ".svg, .pdf.",
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
    features: str | None,
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
    if features is not None and data is None:
        raise click.UsageError("--features selects columns of a --data CSV file")
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

    config = _config(dataset, options)
    with cli_errors(), warnings_as_lines():  # a doubtful column: a warning line
        columns = {
            "target": column_names("--target", target),
            "features": column_names("--features", features),
        }
        if data == "-":
            raw, source = read_input(data)
            table = parse_csv(raw, source=source, name=name, task=task, **columns)
        elif data is not None:
            table = load_csv(data, task=task, **columns)
        else:
            table = load_training_data(dataset=dataset)
        with np.errstate(all="ignore"):
            check_training(table, config, task=task)  # before the progress bar and any epoch
    if config.early_stopping and not config.val_split:
        click.echo(
            "Warning: --early-stopping has no validation rows to watch (no --val-split), so it "
            "watches the training loss; give --val-split 0.2, say, to stop on held-out rows",
            err=True,
        )
    progress = Progress(config.epochs, name) if is_terminal() and not quiet else None
    started = time.perf_counter()
    try:
        # Divergence is detected from the loss; numpy's overflow warnings would only add noise.
        with cli_errors(), np.errstate(all="ignore"), warnings_as_lines():
            try:
                model = train_model(table, config, task=task, on_epoch=progress, created=created)
            except TrainingDiverged as exc:
                if config.l2 < LARGE_L2:
                    raise
                raise Diverged(
                    f"training diverged at epoch {exc.epoch}: the loss became {exc.value}; "
                    f"--l2 {config.l2:g} is large (1e-5 to 1e-2 is usual): try a smaller --l2; "
                    "no model file was written"
                ) from None
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


def _config(dataset: str | None, options: dict[str, Any]) -> TrainConfig:
    """The recipe with the options given on top. An output activation given without a loss gets
    the loss that output calls for (not the recipe's, which fits the recipe's output);
    --patience without early stopping is refused, since it would do nothing."""
    overrides = {OVERRIDES[k]: v for k, v in options.items() if v is not None}
    if "output_activation" in overrides and "loss" not in overrides:
        overrides["loss"] = None  # `prepare_run` matches it to the output
    with cli_errors():
        config = attrs.evolve(default_config(dataset), **overrides)
    if "patience" in overrides and not config.early_stopping:
        raise BadInput(
            "--patience needs --early-stopping: it counts the epochs without improvement "
            "before early stopping ends training"
        )
    return config


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
        f"{name}: trained a {_architecture(model)} for {counted(epochs, 'epoch')}{stopped} in "
        f"{seconds:.1f} s"
    )
    for split, report in ordered_splits(model.metrics):
        click.echo(metric_line(split, report))
    click.echo(f"wrote {shown_path(out)} ({human_bytes(len(blob))})")
    if plot is not None:
        click.echo(f"wrote {shown_path(plot)}")
