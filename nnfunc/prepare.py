"""What a training run settles before its first weight: task, split, scalers and network shape.

`prepare_run` makes these from a dataset and a `TrainConfig`, refusing with one line whatever
would make training fail or leave a model no model file can store: a task or loss that does not
fit the targets, names or class labels a model file refuses, too few rows for the splits, a
column too large to standardise, a network too big for a model file or for memory.
`check_training` is that check alone, without training.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np

from nnfunc.activations import parse_activation
from nnfunc.capacity import check_capacity
from nnfunc.csvdata import DataError
from nnfunc.datasets import TASKS, Dataset
from nnfunc.losses import default_loss
from nnfunc.names import column_problem, name_problem, quoted
from nnfunc.preprocessing import (
    LabelEncoder,
    StandardScaler,
    encode_labels,
    fit_labels,
    fit_scaler,
    train_test_split,
)
from nnfunc.spec import MLPSpec, mlp_spec
from nnfunc.train_config import TrainConfig


def run_generators(seed: int) -> tuple[np.random.Generator, ...]:
    """Independent generators for the test split, validation split, initial weights and batches."""
    return tuple(np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4))


def infer_task(dataset: Dataset, task: str | None) -> str:
    """The task asked for, or the dataset's own."""
    if task is None:
        return dataset.task
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if task == "regress" and dataset.y.dtype.kind not in "fiu":
        raise ValueError("cannot regress on non-numeric target labels")
    y = dataset.y.ravel()
    if task == "classify" and y.dtype.kind == "f":
        fractional = y[np.isfinite(y) & (y != np.round(y))]
        if fractional.size:  # as scikit-learn's "Unknown label type: continuous"
            raise ValueError(
                f"cannot classify a continuous target: {dataset.target_names[0]!r} has values "
                f"that are not whole numbers (such as {fractional[0]:g}); regress on it instead"
            )
    return task


def _check_names(dataset: Dataset) -> None:
    """Refuse a dataset or column name the model file could not store (a control character)."""
    problem = name_problem(dataset.name)
    if problem is not None:
        raise DataError(
            f"the dataset name {quoted(dataset.name)} {problem}: a model file cannot store it"
        )
    for role, names in (("feature", dataset.feature_names), ("target", dataset.target_names)):
        for name in names:
            problem = column_problem(name)
            if problem is not None:
                raise DataError(
                    f"{dataset.name}: {role} column name {quoted(name)} {problem}: a model file "
                    "cannot store it; rename the column"
                )


def _check_classes(dataset: Dataset, labels: LabelEncoder) -> None:
    """Refuse text class labels the model file could not store, or fewer than two classes."""
    if len(labels.classes) < 2:
        raise ValueError("classification needs at least two classes in the target")
    for label in labels.classes:
        problem = column_problem(label) if isinstance(label, str) else None
        if problem is not None:
            raise DataError(
                f"{dataset.name}: class label {quoted(label)} of target column "
                f"{dataset.target_names[0]!r} {problem}: a model file cannot store it"
            )


def _loss(task: str, config: TrainConfig) -> str:
    """The loss asked for; else the one the output activation implies (a sigmoid classifier:
    binary cross-entropy), as `mlp_spec` picks it; else softmax cross-entropy or mse."""
    if config.loss is not None:
        return config.loss
    if task == "regress":
        return "mse"
    output = config.output_activation
    if output is not None and default_loss(parse_activation(output)[0].name) != "mse":
        return default_loss(parse_activation(output)[0].name)
    return "softmax_cross_entropy"


def _check_loss(task: str, config: TrainConfig, dataset: Dataset, n_classes: int) -> None:
    """Refuse a loss that does not fit the targets, naming the losses that would."""
    target = ", ".join(map(repr, dataset.target_names))
    if task == "regress":
        if config.loss not in (None, "mse"):
            raise ValueError(
                f"regression uses the mse loss, not {config.loss}: {target} holds numbers"
            )
        return
    if config.loss == "mse":
        raise ValueError(
            f"the mse loss needs numeric targets to regress on, but {target} holds class labels: "
            "use softmax_cross_entropy, or binary_cross_entropy for two classes "
            "(or the regress task, for a numeric target)"
        )
    if config.loss == "binary_cross_entropy" and n_classes != 2:
        raise ValueError(
            f"binary_cross_entropy takes exactly 2 classes, but {target} has {n_classes}: "
            "use softmax_cross_entropy"
        )


def _split(
    X: np.ndarray,
    y: np.ndarray,
    config: TrainConfig,
    rngs: tuple[np.random.Generator, np.random.Generator],
    stratify: bool,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Train, (validation,) (test) rows; too few rows for the shares asked raises one line."""
    splits: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    X_train, y_train = X, y
    n = len(X)
    shares = " and ".join(
        f"{name} {share:g}"
        for name, share in (("test_split", config.test_split), ("val_split", config.val_split))
        if share
    )
    advice = (
        "lower test_split or val_split (nnfunc train's --test-split, --val-split; 0 turns a "
        "split off), or add rows"
    )
    too_few = f"{n} row{'s are' if n != 1 else ' is'} too few for {shares}"
    if config.test_split:
        try:
            X_train, X_test, y_train, y_test = train_test_split(
                X, y, test_size=config.test_split, rng=rngs[0], stratify=stratify
            )
        except ValueError:
            raise DataError(
                f"{too_few}: holding out {config.test_split:g} for testing leaves no training or "
                f"no test rows; {advice}"
            ) from None
        splits["test"] = (X_test, y_test)
    if config.val_split:
        m = len(X_train)
        try:
            X_train, X_val, y_train, y_val = train_test_split(
                X_train, y_train, test_size=config.val_split, rng=rngs[1], stratify=stratify
            )
        except ValueError:
            left = f"the {m} training row{'s' * (m != 1)} left of {n}" if m < n else f"{n} rows"
            raise DataError(
                f"{too_few}: splitting {left} by val_split {config.val_split:g} leaves no "
                f"training or no validation rows; {advice}"
            ) from None
        splits["validation"] = (X_val, y_val)
    return {"train": (X_train, y_train), **splits}


class SplitWarning(UserWarning):
    """A class has no training rows: with too few rows to stratify, all of its rows were held
    out, so the network cannot learn it."""


def _warn_unseen_classes(labels: LabelEncoder, codes: np.ndarray) -> None:
    unseen = np.setdiff1d(np.arange(len(labels.classes)), codes)
    if unseen.size:
        names = ", ".join(quoted(str(labels.classes[k])) for k in unseen[:5])
        warnings.warn(
            SplitWarning(
                f"class{'es' * (unseen.size > 1)} {names} ha{'ve' if unseen.size > 1 else 's'} no "
                "training rows (too few rows to stratify the split, and all of its rows were held "
                "out): the network cannot learn it; add rows or lower test_split"
            ),
            stacklevel=4,  # train_model's caller
        )


def _scaler(values: np.ndarray, names: Sequence[str], dataset: Dataset, role: str) -> Any:
    """A scaler fitted on `values`, refusing columns too large to standardise in float64.

    `fit_scaler` itself copes with any finite column, but a model fitted on values whose squares
    overflow would unscale its predictions to inf and divide its inputs down to nothing, so such
    columns are refused before training, where the message can say what to rescale.
    """
    largest = np.abs(values).max(axis=0) if values.size else np.zeros(values.shape[1])
    bad = largest > math.sqrt(np.finfo(np.float64).max)
    if bad.any():
        column = int(np.argmax(bad))
        biggest = float(largest[column])
        raise DataError(
            f"{dataset.name}: {role} column {names[column]!r} holds values up to {biggest:.3g}, "
            "too large to standardise (their squares overflow float64); rescale that column"
        )
    return fit_scaler(values)


@attrs.frozen
class PreparedRun:
    """A run's data and architecture, made and checked before any weight exists."""

    task: str
    labels: LabelEncoder | None
    splits: dict[str, tuple[np.ndarray, np.ndarray]]
    feature_scaler: StandardScaler | None
    target_scaler: StandardScaler | None
    spec: MLPSpec


def prepare_run(dataset: Dataset, config: TrainConfig, task: str | None) -> PreparedRun:
    """Split, fit the scalers and build the spec, refusing whatever would make training fail."""
    task = infer_task(dataset, task)
    _check_names(dataset)
    test_rng, val_rng, _, _ = run_generators(config.seed)
    X, y = dataset.X, dataset.y
    labels = None
    if task == "classify":
        labels = fit_labels(y if y.ndim == 1 else y[:, 0])
        _check_classes(dataset, labels)
        y = encode_labels(labels, y if y.ndim == 1 else y[:, 0])
    elif y.ndim == 1:  # integer class labels regressed on as numbers
        y = y.astype(np.float64).reshape(-1, 1)
    loss = _loss(task, config)
    _check_loss(task, config, dataset, len(labels.classes) if labels is not None else 0)
    if loss != config.loss and loss == "binary_cross_entropy" and len(labels.classes) != 2:
        raise ValueError(
            f"a {config.output_activation} output takes exactly 2 classes, but "
            f"{dataset.target_names[0]!r} has {len(labels.classes)}: use a softmax output"
        )
    stratify = task == "classify" and len(X) >= 2 * len(labels.classes if labels else ())
    splits = _split(X, y, config, (test_rng, val_rng), stratify)
    X_train, y_train = splits["train"]
    if labels is not None:
        _warn_unseen_classes(labels, y_train)
    # Every row must standardise, whichever split it falls in; the scalers see training rows only.
    feature_scaler = None
    if config.scale_features:
        _scaler(X, dataset.feature_names, dataset, "feature")
        feature_scaler = _scaler(X_train, dataset.feature_names, dataset, "feature")
    target_scaler = None
    if task == "regress" and config.scale_targets:
        _scaler(y, dataset.target_names, dataset, "target")
        target_scaler = _scaler(y_train, dataset.target_names, dataset, "target")
    n_out = (
        1
        if task == "classify" and loss == "binary_cross_entropy"
        else (len(labels.classes) if labels is not None else y.shape[1])
    )
    spec = mlp_spec(
        (X.shape[1], *config.hidden, n_out),
        activation=config.activation,
        output_activation=config.output_activation,
        loss=loss,
        dtype=config.dtype,
    )
    check_capacity(spec, config, len(X_train))
    return PreparedRun(task, labels, splits, feature_scaler, target_scaler, spec)


def check_training(
    dataset: Dataset,
    config: TrainConfig = TrainConfig(),  # noqa: B008 - frozen, so a shared default is safe
    *,
    task: str | None = None,
) -> None:
    """Raise what `train_model` would raise before its first epoch, without training.

    ValueError (DataError for a problem of the data) for a task or loss that does not fit the
    targets, a column name or class label a model file cannot store, too few rows for the
    splits, a column too large to standardise, or a network too big for a model file or for
    memory. Cheap: it splits the rows and fits the scalers only. Warnings are left to
    `train_model`, so that a check and then the run say them once.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SplitWarning)
        prepare_run(dataset, config, task)
