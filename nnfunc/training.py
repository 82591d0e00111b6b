"""The training loop: epochs of shuffled minibatches, validation, early stopping, history.

`fit_epochs` yields one `EpochReport` per epoch, so a caller can drive a progress bar or stop by
leaving the loop; `fit` runs it to the end and returns a `FitResult`. Inside an epoch the loop works
on plain tuples of arrays and builds records only once per epoch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import attrs
import numpy as np

from nnfunc.network import _logits, _value_and_grads, as_inputs, as_targets, plan
from nnfunc.optim import GradientTransformation, apply_updates
from nnfunc.params import Params, RngOrSeed, as_rng
from nnfunc.spec import MLPSpec


class TrainingDiverged(ArithmeticError):
    """The loss became NaN or infinite; the parameters of that run are not returned."""

    def __init__(self, epoch: int, value: float):
        self.epoch = epoch
        self.value = value
        super().__init__(
            f"training diverged at epoch {epoch}: the loss became {value}; "
            "try a smaller learning rate (or clip the gradient norm)"
        )


@attrs.frozen
class History:
    """Per-epoch figures; `metric` is accuracy for classifiers and R2 for regressors."""

    metric_name: str
    loss: tuple[float, ...] = ()
    metric: tuple[float, ...] = ()
    val_loss: tuple[float, ...] = ()
    val_metric: tuple[float, ...] = ()

    @property
    def epochs(self) -> int:
        """Number of epochs recorded."""
        return len(self.loss)


@attrs.frozen
class EpochReport:
    """What one epoch produced: its number (from 1), the parameters after it, and the history."""

    epoch: int
    params: Params
    opt_state: Any
    history: History
    best_epoch: int
    improved: bool


@attrs.frozen
class FitResult:
    """The outcome of `fit`: the parameters to keep (the best ones under early stopping)."""

    params: Params
    opt_state: Any
    history: History
    best_epoch: int
    stopped_early: bool


class _Metric:
    """Accumulates accuracy or R2 over the batches of one epoch from logits already computed."""

    def __init__(self, spec: MLPSpec):
        self.loss = spec.loss
        self.sums: list[Any] = [0.0, 0.0, 0.0, 0.0]

    def add(self, z: np.ndarray, y: np.ndarray) -> None:
        if self.loss == "softmax_cross_entropy":
            labels = y if y.ndim == 1 else y.argmax(axis=1)
            self.sums[0] += int(np.count_nonzero(z.argmax(axis=1) == labels))
            self.sums[1] += z.shape[0]
        elif self.loss == "binary_cross_entropy":
            self.sums[0] += int(np.count_nonzero((z >= 0) == (y.reshape(z.shape) >= 0.5)))
            self.sums[1] += z.size
        else:
            # R2 from running sums: residual sum of squares against total sum of squares.
            self.sums[0] += np.sum((z - y) ** 2, axis=0, dtype=np.float64)
            self.sums[1] += y.shape[0]
            self.sums[2] += np.sum(y, axis=0, dtype=np.float64)
            self.sums[3] += np.sum(np.square(y, dtype=np.float64), axis=0)

    def value(self) -> float:
        if self.loss != "mse":
            return self.sums[0] / max(self.sums[1], 1)
        sse, n, s, ss = self.sums
        sst = ss - s * s / n
        r2 = np.where(sst > 0, 1.0 - sse / np.where(sst > 0, sst, 1.0), (sse == 0) * 1.0)
        return float(np.mean(r2))


def _regression_output(spec: MLPSpec, z: np.ndarray) -> np.ndarray:
    act, alpha = plan(spec).output
    return z if act.name == "linear" else act.fn(z, alpha)


def _evaluate(spec: MLPSpec, leaves: tuple, X: np.ndarray, y: np.ndarray, l2: float):
    pl = plan(spec)
    z = _logits(pl, leaves, X)
    act, alpha = pl.output
    value, _ = pl.loss(z, y, act, alpha)
    if l2:
        value += 0.5 * l2 * sum(float(np.vdot(w, w)) for w in leaves[::2])
    metric = _Metric(spec)
    metric.add(_regression_output(spec, z) if spec.loss == "mse" else z, y)
    return value, metric.value()


def _split_validation(X, y, validation_split: float, rng: np.random.Generator):
    if not 0 < validation_split < 1:
        raise ValueError(f"validation_split must lie in (0, 1), got {validation_split}")
    n_val = int(round(len(X) * validation_split))
    if n_val < 1 or n_val >= len(X):
        raise ValueError(
            f"validation_split {validation_split} leaves an empty part of {len(X)} rows"
        )
    order = rng.permutation(len(X))
    return X[order[n_val:]], y[order[n_val:]], X[order[:n_val]], y[order[:n_val]]


def fit_epochs(
    spec: MLPSpec,
    params: Params,
    X: np.ndarray,
    y: np.ndarray,
    *,
    optimizer: GradientTransformation,
    epochs: int,
    rng: RngOrSeed,
    batch_size: int | None = None,
    l2: float = 0.0,
    opt_state: Any = None,
    validation_data: tuple[np.ndarray, np.ndarray] | None = None,
    validation_split: float = 0.0,
) -> Iterator[EpochReport]:
    """Train epoch by epoch, yielding a report after each; stop iterating to stop training."""
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be at least 1 or None, got {batch_size}")
    if l2 < 0:
        raise ValueError(f"l2 must be non-negative, got {l2}")
    rng = as_rng(rng)
    X, y = as_inputs(spec, X), as_targets(spec, y)
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
    if validation_data is None and validation_split:
        X, y, X_val, y_val = _split_validation(X, y, validation_split, rng)
        validation_data = (X_val, y_val)
    if validation_data is not None:
        validation_data = (
            as_inputs(spec, validation_data[0]),
            as_targets(spec, validation_data[1]),
        )
    if len(X) == 0:
        raise ValueError("no training rows")
    pl = plan(spec)
    leaves = params.leaves()
    state = optimizer.init(leaves) if opt_state is None else opt_state
    n = len(X)
    full_batch = batch_size is None or batch_size >= n
    history = History("r2" if spec.loss == "mse" else "accuracy")
    best = (np.inf, 0)
    for epoch in range(1, epochs + 1):
        metric = _Metric(spec)
        total = 0.0
        if full_batch:
            batches = [(X, y)]
        else:
            order = rng.permutation(n)
            Xs, ys = X[order], y[order]
            batches = [
                (Xs[i : i + batch_size], ys[i : i + batch_size]) for i in range(0, n, batch_size)
            ]
        for Xb, yb in batches:
            value, grads, z = _value_and_grads(pl, leaves, Xb, yb, l2)
            if not np.isfinite(value):
                raise TrainingDiverged(epoch, value)
            total += value * len(Xb)
            metric.add(_regression_output(spec, z) if spec.loss == "mse" else z, yb)
            updates, state = optimizer.update(grads, state, leaves)
            leaves = apply_updates(leaves, updates)
        epoch_loss = total / n
        if not all(np.isfinite(a).all() for a in leaves):
            raise TrainingDiverged(epoch, float("nan"))
        val_loss = val_metric = None
        if validation_data is not None:
            val_loss, val_metric = _evaluate(spec, leaves, *validation_data, l2)
            if not np.isfinite(val_loss):
                raise TrainingDiverged(epoch, val_loss)
        history = attrs.evolve(
            history,
            loss=(*history.loss, epoch_loss),
            metric=(*history.metric, metric.value()),
            val_loss=history.val_loss if val_loss is None else (*history.val_loss, val_loss),
            val_metric=history.val_metric
            if val_metric is None
            else (*history.val_metric, val_metric),
        )
        monitored = epoch_loss if val_loss is None else val_loss
        improved = monitored < best[0]
        if improved:
            best = (monitored, epoch)
        yield EpochReport(epoch, Params.from_leaves(leaves), state, history, best[1], improved)


def fit(
    spec: MLPSpec,
    params: Params,
    X: np.ndarray,
    y: np.ndarray,
    *,
    optimizer: GradientTransformation,
    epochs: int,
    rng: RngOrSeed,
    batch_size: int | None = None,
    l2: float = 0.0,
    validation_data: tuple[np.ndarray, np.ndarray] | None = None,
    validation_split: float = 0.0,
    early_stopping: bool = False,
    patience: int = 10,
    min_delta: float = 0.0,
    callback: Callable[[EpochReport], bool | None] | None = None,
) -> FitResult:
    """Train for `epochs` and return the result; early stopping keeps the best parameters.

    Early stopping watches the validation loss (the training loss without validation data) and
    stops after `patience` epochs without an improvement larger than `min_delta`. A `callback`
    sees every epoch's report and stops training by returning True.
    """
    if patience < 1:
        raise ValueError(f"patience must be at least 1, got {patience}")
    best_value, best_report, last = np.inf, None, None
    stopped = False
    for report in fit_epochs(
        spec,
        params,
        X,
        y,
        optimizer=optimizer,
        epochs=epochs,
        rng=rng,
        batch_size=batch_size,
        l2=l2,
        validation_data=validation_data,
        validation_split=validation_split,
    ):
        last = report
        history = report.history
        monitored = history.val_loss[-1] if history.val_loss else history.loss[-1]
        if monitored < best_value - min_delta or best_report is None:
            best_value, best_report = monitored, report
        if callback is not None and callback(report):
            stopped = True
            break
        if early_stopping and report.epoch - best_report.epoch >= patience:
            stopped = True
            break
    assert last is not None and best_report is not None
    keep = best_report if early_stopping else last
    return FitResult(keep.params, keep.opt_state, last.history, keep.epoch, stopped)
