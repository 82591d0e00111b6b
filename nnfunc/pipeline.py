"""From a dataset and a configuration to a trained `Model`: split, scale, train, measure.

This is what `nnfunc train` and sweeps run. Every random choice (split, initial weights, batch
order) comes from one seed through `numpy.random.SeedSequence`, so the same seed gives a
bit-identical model.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import numpy as np

from nnfunc.csvdata import DataError, delimiter_hint, is_number, load_csv, numeric_columns
from nnfunc.datasets import Dataset, load_dataset
from nnfunc.metrics import classification_report, regression_report
from nnfunc.model import Model, predict_codes, predict_values
from nnfunc.optim import OPTIMIZERS, make_optimizer
from nnfunc.params import init_params
from nnfunc.preprocessing import encode_labels, fit_labels, fit_scaler, scale, train_test_split
from nnfunc.schedules import SCHEDULES, make_schedule
from nnfunc.spec import mlp_spec
from nnfunc.training import EpochReport, fit

TASKS = ("classify", "regress")


def _fraction(instance: Any, attribute: attrs.Attribute, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{attribute.name} must lie in [0, 1), got {value}")


def _positive_or_none(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if value is not None and not value > 0:
        raise ValueError(f"{attribute.name} must be positive, got {value}")


@attrs.frozen(kw_only=True)
class TrainConfig:
    """Everything that decides a training run besides the data (stored in the model file)."""

    hidden: tuple[int, ...] = attrs.field(default=(16,), converter=tuple)
    activation: str = "relu"
    output_activation: str | None = None
    loss: str | None = None
    init: str | None = None
    optimizer: str = attrs.field(default="adam", validator=attrs.validators.in_(OPTIMIZERS))
    lr: float | None = attrs.field(default=None, validator=_positive_or_none)
    schedule: str = attrs.field(default="constant", validator=attrs.validators.in_(SCHEDULES))
    batch_size: int | None = attrs.field(default=None, validator=_positive_or_none)
    epochs: int = attrs.field(default=200, validator=_positive_or_none)
    l2: float = attrs.field(default=0.0, validator=attrs.validators.ge(0.0))
    clip_norm: float | None = attrs.field(default=None, validator=_positive_or_none)
    seed: int = 0
    val_split: float = attrs.field(default=0.0, validator=_fraction)
    test_split: float = attrs.field(default=0.2, validator=_fraction)
    early_stopping: bool = False
    patience: int = attrs.field(default=20, validator=_positive_or_none)
    dtype: str = attrs.field(
        default="float64", validator=attrs.validators.in_(("float32", "float64"))
    )
    scale_features: bool = True
    scale_targets: bool = True

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/msgpack-ready data."""
        data = attrs.asdict(self)
        data["hidden"] = list(self.hidden)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Inverse of `to_dict`; unknown keys raise TypeError."""
        return cls(**data)


def _seeds(seed: int) -> tuple[np.random.Generator, ...]:
    """Independent generators for the test split, validation split, initial weights and batches."""
    return tuple(np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4))


def _report(model: Model, X: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    if model.task == "classify":
        return classification_report(y, predict_codes(model, X), model.classes)
    return regression_report(y, predict_values(model, X), model.target_names)


def provenance(dataset: Dataset) -> dict[str, Any]:
    """Where a model came from: library versions and the data's name and digest (no clock)."""
    from nnfunc import __version__

    return {
        "nnfunc_version": __version__,
        "numpy_version": np.__version__,
        "dataset": dataset.name,
        "dataset_sha256": dataset.sha256,
    }


def infer_task(dataset: Dataset, task: str | None) -> str:
    """The task asked for, or the dataset's own."""
    if task is None:
        return dataset.task
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if task == "regress" and dataset.y.dtype.kind not in "fiu":
        raise ValueError("cannot regress on non-numeric target labels")
    return task


class OverparameterizedWarning(UserWarning):
    """The parameters outnumber the training rows."""


def overparameterized(n_params: int, n_train: int) -> str | None:
    """The warning for a network with more parameters than training rows, or None."""
    if n_params <= n_train:
        return None
    return (
        f"the network has {n_params} parameters for {n_train} training rows: it can memorise "
        "them (fewer hidden units, l2 or more data generalise better)"
    )


# A model must fit in a model file; reserve room beside the weights for everything else.
FILE_RESERVE_BYTES = 64 * 1024


def memory_limit() -> int | None:
    """Bytes this process may use: physical memory, or a lower address-space limit (ulimit -v)."""
    limits = []
    with contextlib.suppress(AttributeError, ValueError, OSError):
        limits.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    with contextlib.suppress(ImportError, AttributeError, ValueError, OSError):
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            limits.append(soft)
    limits = [n for n in limits if n > 0]
    return min(limits) if limits else None


def _gigabytes(n: float) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"


def _check_capacity(spec: Any, config: TrainConfig, n_train: int) -> None:
    """Refuse a network too big for a model file, or for this machine's memory, before training.

    The memory figure is an estimate: the weights with their gradients and optimizer state
    (about six copies), and two activations per unit for a forward pass over the training rows.
    """
    from nnfunc.modelfile import MAX_FILE_BYTES

    sizes = spec.sizes
    n_params = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
    itemsize = np.dtype(config.dtype).itemsize
    shape = "-".join(map(str, sizes))
    history = config.epochs * 4 * 9  # up to four per-epoch lists of msgpack floats
    if n_params * itemsize + history + FILE_RESERVE_BYTES > MAX_FILE_BYTES:
        raise ValueError(
            f"a {shape} network has {n_params:,} parameters ({n_params * itemsize / 2**20:,.0f} "
            f"MiB as {config.dtype}), more than a model file holds ({MAX_FILE_BYTES / 2**20:,.0f} "
            "MiB); use fewer or smaller hidden layers"
        )
    needed = itemsize * (6 * n_params + 2 * n_train * sum(sizes[1:]))
    limit = memory_limit()
    if limit is not None and needed > limit:
        raise ValueError(
            f"training a {shape} network on {n_train} rows needs about {_gigabytes(needed)} "
            f"of memory, more than the {_gigabytes(limit)} available; use fewer or smaller "
            "hidden layers"
        )


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
    advice = "lower --test-split or --val-split (0 turns a split off), or add rows"
    if config.test_split:
        try:
            X_train, X_test, y_train, y_test = train_test_split(
                X, y, test_size=config.test_split, rng=rngs[0], stratify=stratify
            )
        except ValueError:
            raise DataError(
                f"{n} row{'s' * (n != 1)} are too few for {shares}: holding out "
                f"{config.test_split:g} for testing leaves no training or no test rows; {advice}"
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
                f"{n} row{'s' * (n != 1)} are too few for {shares}: splitting {left} by "
                f"val_split {config.val_split:g} leaves no training or no validation rows; {advice}"
            ) from None
        splits["validation"] = (X_val, y_val)
    return {"train": (X_train, y_train), **splits}


def _scaler(values: np.ndarray, names: Sequence[str], dataset: Dataset, role: str) -> Any:
    """A scaler fitted on `values`, refusing columns too large to standardise in float64."""
    with np.errstate(over="ignore", invalid="ignore"):
        scaler = fit_scaler(values)
    bad = ~(np.isfinite(scaler.mean) & np.isfinite(scaler.scale))
    if bad.any():
        column = int(np.argmax(bad))
        biggest = float(np.max(np.abs(values[:, column])))
        raise DataError(
            f"{dataset.name}: {role} column {names[column]!r} holds values up to {biggest:.3g}, "
            "too large to standardise (their squares overflow float64); rescale that column"
        )
    return scaler


@attrs.frozen
class _Prepared:
    """A run's data and architecture, made and checked before any weight exists."""

    task: str
    labels: Any
    splits: dict[str, tuple[np.ndarray, np.ndarray]]
    feature_scaler: Any
    target_scaler: Any
    spec: Any


def _prepare(dataset: Dataset, config: TrainConfig, task: str | None) -> _Prepared:
    """Split, fit the scalers and build the spec, refusing whatever would make training fail."""
    task = infer_task(dataset, task)
    test_rng, val_rng, _, _ = _seeds(config.seed)
    X, y = dataset.X, dataset.y
    labels = None
    if task == "classify":
        labels = fit_labels(y if y.ndim == 1 else y[:, 0])
        if len(labels.classes) < 2:
            raise ValueError("classification needs at least two classes in the target")
        y = encode_labels(labels, y if y.ndim == 1 else y[:, 0])
    elif y.ndim == 1:  # integer class labels regressed on as numbers
        y = y.astype(np.float64).reshape(-1, 1)
    _check_loss(task, config, dataset, len(labels.classes) if labels is not None else 0)
    stratify = task == "classify" and len(X) >= 2 * len(labels.classes if labels else ())
    splits = _split(X, y, config, (test_rng, val_rng), stratify)
    X_train, y_train = splits["train"]
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
        if task == "classify" and config.loss == "binary_cross_entropy"
        else (len(labels.classes) if labels is not None else y.shape[1])
    )
    loss = config.loss or ("softmax_cross_entropy" if task == "classify" else "mse")
    spec = mlp_spec(
        (X.shape[1], *config.hidden, n_out),
        activation=config.activation,
        output_activation=config.output_activation,
        loss=loss,
        dtype=config.dtype,
    )
    _check_capacity(spec, config, len(X_train))
    return _Prepared(task, labels, splits, feature_scaler, target_scaler, spec)


def check_training(
    dataset: Dataset,
    config: TrainConfig = TrainConfig(),  # noqa: B008 - frozen, so a shared default is safe
    *,
    task: str | None = None,
) -> None:
    """Raise what `train_model` would raise before its first epoch, without training.

    ValueError (DataError for a problem of the data) for a task or loss that does not fit the
    targets, too few rows for the splits, a column too large to standardise, or a network too
    big for a model file or for memory. Cheap: it splits the rows and fits the scalers only.
    """
    _prepare(dataset, config, task)


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
    (an ISO 8601 time, say) goes into the provenance; without it the model holds no clock reading.
    Everything `check_training` refuses is refused before any weight is made. With `warn`, more
    parameters than training rows raise an OverparameterizedWarning (a sweep records
    `overparameterized(...)` instead, since warnings are process-global state).
    """
    prepared = _prepare(dataset, config, task)
    _, _, init_rng, batch_rng = _seeds(config.seed)
    task, labels, splits, spec = prepared.task, prepared.labels, prepared.splits, prepared.spec
    feature_scaler, target_scaler = prepared.feature_scaler, prepared.target_scaler
    X_train, y_train = splits["train"]
    optimizer = make_optimizer(
        config.optimizer,
        make_schedule(config.schedule, config.lr) if config.lr else None,
        clip_norm=config.clip_norm,
    )

    def network_view(Xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        Xn = scale(feature_scaler, Xs) if feature_scaler is not None else Xs
        yn = scale(target_scaler, ys) if target_scaler is not None else ys
        return Xn, yn

    params = init_params(spec, init_rng, init=config.init)
    note = overparameterized(params.n_params, len(X_train))
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
        task=task,
        feature_names=dataset.feature_names,
        target_names=dataset.target_names,
        feature_scaler=feature_scaler,
        target_scaler=target_scaler,
        labels=labels,
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
    metrics = {name: _report(model, *data) for name, data in splits.items()}
    return attrs.evolve(model, metrics=metrics)


# Tested settings for each bundled dataset: what `nnfunc train --dataset NAME` uses by default.
RECIPES: dict[str, TrainConfig] = {
    "iris": TrainConfig(hidden=(6,), optimizer="adam", lr=0.01, epochs=300, batch_size=16),
    "moons": TrainConfig(hidden=(64,), optimizer="sgd", lr=0.1, epochs=10, batch_size=10),
    "xor": TrainConfig(
        hidden=(4,),
        activation="tanh",
        output_activation="sigmoid",
        loss="binary_cross_entropy",
        lr=0.05,
        epochs=500,
        test_split=0.0,
    ),
    "or": TrainConfig(
        hidden=(),
        output_activation="sigmoid",
        loss="binary_cross_entropy",
        lr=0.1,
        epochs=300,
        test_split=0.0,
    ),
    "sum": TrainConfig(hidden=(8,), lr=0.01, epochs=200, batch_size=32),
    "arithmetic": TrainConfig(hidden=(4, 4), lr=0.01, epochs=300, batch_size=32),
}

# Defaults for a user's CSV file (no recipe): small minibatches so 200 epochs are enough.
CSV_DEFAULTS = TrainConfig(hidden=(16,), lr=0.01, batch_size=32, epochs=200)


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


def default_config(dataset: str | None) -> TrainConfig:
    """The recipe of a bundled dataset, or the CSV defaults for a user's file (`None`)."""
    return RECIPES.get(dataset, CSV_DEFAULTS)


# --- new data in a trained model's terms: CSV columns picked by the model's own names ------------


def read_table(data: bytes, source: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of CSV bytes (UTF-8, optional BOM); ragged rows or empty data raise."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{source}: not UTF-8 text (byte {exc.start})") from None
    try:
        rows = [[c.strip() for c in row] for row in csv.reader(io.StringIO(text)) if row]
    except csv.Error as exc:
        raise DataError(f"{source}: malformed CSV: {exc}") from None
    if not rows:
        raise DataError(f"{source}: file is empty")
    header, body = rows[0], rows[1:]
    if len(set(header)) != len(header):
        raise DataError(f"{source}: duplicate column names in the header")
    if not body:
        raise DataError(f"{source}: header only, no data rows")
    for number, row in enumerate(body, start=1):
        if len(row) != len(header):
            raise DataError(f"{source}: row {number} has {len(row)} cells, expected {len(header)}")
    return header, body


def _column(header: list[str], name: str, source: str, role: str) -> int:
    if name not in header:
        raise DataError(
            f"{source}: missing {role} column {name!r}; the file has: {', '.join(header)}"
            + delimiter_hint(header)
        )
    return header.index(name)


def _numbers(header, body, names, source: str, role: str) -> np.ndarray:
    """The named columns as finite float64 (plain ASCII numbers only), column by column."""
    index = [_column(header, name, source, role) for name in names]
    return numeric_columns([[row[i] for row in body] for i in index], names, source)


def model_inputs(model: Model, header: list[str], body: list[list[str]], source: str) -> np.ndarray:
    """The model's feature columns (by name, any order, extra columns ignored) as float64."""
    return _numbers(header, body, model.feature_names, source, "feature")


def model_targets(
    model: Model, header: list[str], body: list[list[str]], source: str
) -> np.ndarray:
    """Class codes (classifiers) or float64 targets (regressors) from the model's target columns."""
    if model.task == "regress":
        return _numbers(header, body, model.target_names, source, "target")
    name = model.target_names[0]
    i = _column(header, name, source, "target")
    codes = {str(c): k for k, c in enumerate(model.classes)}
    integral = all(type(c) is int for c in model.classes)
    out = np.empty(len(body), np.int64)
    for r, row in enumerate(body, start=1):
        cell = row[i]
        if integral and cell not in codes and is_number(cell):
            with contextlib.suppress(ValueError, OverflowError):
                value = float(cell)
                cell = str(int(value)) if value == int(value) else cell
        if cell not in codes:
            raise DataError(
                f"{source}: row {r}, column {name!r}: unknown class {row[i]!r}; "
                f"the model knows: {', '.join(map(str, model.classes))}"
            )
        out[r - 1] = codes[cell]
    return out


def evaluate(model: Model, X: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """The metrics report of `model` on raw features and targets (class codes for classifiers)."""
    return _report(model, X, y)
