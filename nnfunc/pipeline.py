"""From a dataset and a configuration to a trained `Model`: split, scale, train, measure.

This is what `nnfunc train` and sweeps run. Every random choice (split, initial weights, batch
order) comes from one seed through `numpy.random.SeedSequence`, so the same seed gives a
bit-identical model. The parts live in their own modules and are importable from here too:
`train_config` (TrainConfig, RECIPES), `prepare` (the checks before the first epoch, and
`check_training`), `capacity` (network size against the model file, memory and the data) and
`model_table` (new data picked by a trained model's column names).
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import numpy as np

from nnfunc.capacity import (
    FILE_RESERVE_BYTES,
    OverparameterizedWarning,
    memory_limit,
    overparameterized,
)
from nnfunc.csvdata import load_csv
from nnfunc.datasets import Dataset, load_dataset
from nnfunc.metrics import classification_report, regression_report
from nnfunc.model import Model, predict_codes, predict_values
from nnfunc.model_table import model_inputs, model_targets, read_table
from nnfunc.optim import default_lr, make_optimizer
from nnfunc.params import init_params
from nnfunc.prepare import TASKS, check_training, infer_task, prepare_run, run_generators
from nnfunc.preprocessing import encode_labels, scale
from nnfunc.run_record import decode_provenance
from nnfunc.schedules import run_schedule
from nnfunc.schema import SchemaError
from nnfunc.train_config import CSV_DEFAULTS, RECIPES, TrainConfig, default_config
from nnfunc.training import EpochReport, fit

__all__ = [
    "CSV_DEFAULTS",
    "FILE_RESERVE_BYTES",
    "RECIPES",
    "TASKS",
    "OverparameterizedWarning",
    "TrainConfig",
    "check_training",
    "default_config",
    "evaluate",
    "infer_task",
    "load_training_data",
    "memory_limit",
    "model_inputs",
    "model_targets",
    "overparameterized",
    "provenance",
    "read_table",
    "train_model",
]


def provenance(dataset: Dataset) -> dict[str, Any]:
    """Where a model came from: library versions and the data's name and digest (no clock)."""
    from nnfunc import __version__

    return {
        "nnfunc_version": __version__,
        "numpy_version": np.__version__,
        "dataset": dataset.name,
        "dataset_sha256": dataset.sha256,
    }


def _check_created(created: str) -> None:
    """Refuse a creation time the model-file reader would refuse, with the reader's own rule."""
    try:
        decode_provenance({"created": created})
    except SchemaError:
        raise ValueError(
            f"created must be a UTC time written YYYY-MM-DDTHH:MM:SSZ, got {created!r}"
        ) from None


def evaluate(model: Model, X: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """The metrics report of `model` on raw features and targets: for a classifier, its class
    codes (`encode_labels(model.labels, labels)`), or the labels themselves when they are not
    integers (strings, booleans), which are encoded here."""
    if model.task == "classify":
        y = np.asarray(y)
        if y.dtype.kind not in "iu" and model.labels is not None:
            y = encode_labels(model.labels, y)
        return classification_report(y, predict_codes(model, X), model.classes)
    return regression_report(y, predict_values(model, X), model.target_names)


def train_model(
    dataset: Dataset,
    config: TrainConfig = TrainConfig(),  # noqa: B008 - frozen, so a shared default is safe
    *,
    task: str | None = None,
    on_epoch: Callable[[EpochReport], bool | None] | None = None,
    created: str | None = None,
    warn: bool = True,
) -> Model:
    """Split, scale, train and evaluate; the returned model carries metrics on every split.

    Classification splits are stratified. Scalers are fitted on the training rows only. `created`
    (a UTC time written YYYY-MM-DDTHH:MM:SSZ, as a model file stores it) goes into the
    provenance; without it the model holds no clock reading. Everything `check_training` refuses,
    and a malformed `created`, is refused before any weight is made. With `warn`, more
    parameters than training rows raise an OverparameterizedWarning (a sweep records
    `overparameterized(...)` instead, since warnings are process-global state).
    """
    if created is not None:
        _check_created(created)
    prepared = prepare_run(dataset, config, task)
    _, _, init_rng, batch_rng = run_generators(config.seed)
    splits, spec = prepared.splits, prepared.spec
    feature_scaler, target_scaler = prepared.feature_scaler, prepared.target_scaler
    X_train, y_train = splits["train"]
    # A schedule spans the whole run (cosine reaches 0 at the last step), with the optimizer's
    # default rate when none is given.
    batch = len(X_train) if config.batch_size is None else min(config.batch_size, len(X_train))
    lr = config.lr if config.lr is not None else default_lr(config.optimizer)
    schedule = run_schedule(config.schedule, lr, config.epochs * math.ceil(len(X_train) / batch))
    optimizer = make_optimizer(config.optimizer, schedule, clip_norm=config.clip_norm)

    def network_view(Xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        Xn = scale(feature_scaler, Xs) if feature_scaler is not None else Xs
        yn = scale(target_scaler, ys) if target_scaler is not None else ys
        return Xn, yn

    params = init_params(spec, init_rng, init=config.init)
    held_out = config.test_split > 0 or config.val_split > 0
    note = overparameterized(params.n_params, len(X_train), held_out=held_out)
    if note is not None and warn:
        warnings.warn(OverparameterizedWarning(note), stacklevel=2)
    result = fit(
        spec,
        params,
        *network_view(X_train, y_train),
        optimizer=optimizer,
        epochs=config.epochs,
        rng=batch_rng,
        batch_size=config.batch_size,
        l2=config.l2,
        validation_data=network_view(*splits["validation"]) if "validation" in splits else None,
        early_stopping=config.early_stopping,
        patience=config.patience,
        callback=on_epoch,
    )
    model = Model(
        spec=spec,
        params=result.params,
        task=prepared.task,
        feature_names=dataset.feature_names,
        target_names=dataset.target_names,
        feature_scaler=feature_scaler,
        target_scaler=target_scaler,
        labels=prepared.labels,
        history=result.history,
        config={
            **config.to_dict(),
            "optimizer_config": optimizer.config,
            "epochs_run": result.history.epochs,
            "best_epoch": result.best_epoch,
            "stopped_early": result.stopped_early,
        },
        provenance=provenance(dataset)
        if created is None
        else {**provenance(dataset), "created": created},
    )
    metrics = {name: evaluate(model, *data) for name, data in splits.items()}
    return attrs.evolve(model, metrics=metrics)


def load_training_data(
    *,
    data: str | os.PathLike[str] | None = None,
    dataset: str | None = None,
    target: str | Sequence[str] | None = None,
    task: str | None = None,
) -> Dataset:
    """A CSV file (`data`, with `target` columns) or a bundled dataset by name, not both."""
    if (data is None) == (dataset is None):
        raise ValueError("give either a CSV file or a bundled dataset name")
    if data is not None:
        return load_csv(data, target=target, task=task)
    if target is not None:
        raise ValueError(f"the bundled dataset {dataset!r} has fixed target columns")
    return load_dataset(dataset)
