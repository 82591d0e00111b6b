"""`nnfunc train`: train a model on a bundled dataset and report its test metrics."""

from __future__ import annotations

import click

from nnfunc.datasets import dataset_names, load_dataset
from nnfunc.pipeline import RECIPES, train_model


@click.command()
@click.option(
    "--dataset",
    type=click.Choice(dataset_names()),
    default="iris",
    show_default=True,
    help="Bundled dataset to train on.",
)
def train(dataset: str) -> None:
    """Train the default model for a bundled dataset and print its test metrics."""
    model = train_model(load_dataset(dataset), RECIPES[dataset])
    split = "test" if "test" in model.metrics else "train"
    metrics = model.metrics[split]
    if model.task == "classify":
        click.echo(f"{dataset}: {split} accuracy {metrics['accuracy']:.4f}")
    else:
        click.echo(f"{dataset}: {split} R2 {metrics['r2']:.4f}")
