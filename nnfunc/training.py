"""The training loop: epochs of shuffled minibatches, validation, early stopping, history.

`fit_epochs` yields one `EpochReport` per epoch, so a caller can drive a progress bar or stop by
leaving the loop; `fit` runs it to the end and returns a `FitResult`. The steps themselves run in
`nnfunc.loop` on buffers it owns; records are built only when a report or the result needs them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import attrs
import numpy as np

from nnfunc.loop import Batches, Diverged, Metric, TrainLoop, evaluate, regression_output
from nnfunc.network import as_inputs, as_targets, loss_targets
from nnfunc.optim import GradientTransformation
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


class _Epoch(NamedTuple):
    """What one epoch measured (the loop's parameters are read from the loop itself)."""

    epoch: int
    loss: float
    metric: float
    val_loss: float | None
    val_metric: float | None


def _run(
    spec: MLPSpec,
    params: Params,
    X: np.ndarray,
    y: np.ndarray,
    *,
    optimizer: GradientTransformation,
    epochs: int,
    rng: RngOrSeed,
    batch_size: int | None,
    l2: float,
    opt_state: Any,
    validation_data: tuple[np.ndarray, np.ndarray] | None,
    validation_split: float,
) -> Iterator[tuple[TrainLoop, _Epoch]]:
    """The training run shared by `fit_epochs` and `fit`: the loop and each epoch's figures."""
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
    n = len(X)
    classify = spec.loss == "softmax_cross_entropy"
    targets = loss_targets(spec, y)  # validated once: one-hot rows for labels
    labels = (y if y.ndim == 1 else y.argmax(axis=1)) if classify else None
    loop = TrainLoop(spec, params, optimizer, opt_state, l2=l2)
    full_batch = batch_size is None or batch_size >= n
    batches = Batches(X, targets, labels, n if full_batch else batch_size)
    step = loop.step
    # With the data permuted as a whole, labels sit in epoch order: compare once per epoch.
    predicted = np.empty(n, np.intp) if classify and batches.whole and not full_batch else None
    for epoch in range(1, epochs + 1):
        metric = None if classify else Metric(spec)
        total, start, correct = 0.0, 0, 0
        # A diverging run overflows before its loss turns non-finite; it ends in TrainingDiverged,
        # so numpy's overflow warnings would only be noise. No yield happens inside this block.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for Xb, Tb, yb in batches.epoch(None if full_batch else rng.permutation(n)):
                try:
                    value, z = step(Xb, Tb)
                except Diverged as exc:
                    raise TrainingDiverged(epoch, exc.value) from None
                rows = len(Xb)
                total += value * rows
                if predicted is not None:
                    z.argmax(1, predicted[start : start + rows])
                elif classify:
                    correct += int(np.count_nonzero(z.argmax(1) == yb))
                else:
                    metric.add(regression_output(spec, z) if spec.loss == "mse" else z, Tb)
                start += rows
        if predicted is not None:
            correct = int(np.count_nonzero(predicted == batches.buffers[2]))
        if not loop.finite():
            raise TrainingDiverged(epoch, float("nan"))
        val_loss = val_metric = None
        if validation_data is not None:
            val_loss, val_metric = evaluate(spec, tuple(loop.leaves), *validation_data, l2)
            if not math.isfinite(val_loss):
                raise TrainingDiverged(epoch, val_loss)
        epoch_metric = correct / n if classify else metric.value()
        yield loop, _Epoch(epoch, total / n, epoch_metric, val_loss, val_metric)


class _Recorder:
    """Builds the History and tracks the best epoch from `_Epoch` figures."""

    def __init__(self, spec: MLPSpec):
        self.metric_name = "r2" if spec.loss == "mse" else "accuracy"
        self.columns: tuple[list[float], ...] = ([], [], [], [])
        self.best = (np.inf, 0)

    def add(self, e: _Epoch) -> bool:
        """Record an epoch; True when its monitored loss is the lowest so far."""
        loss, metric, val_loss, val_metric = self.columns
        loss.append(e.loss)
        metric.append(e.metric)
        if e.val_loss is not None:
            val_loss.append(e.val_loss)
            val_metric.append(e.val_metric)
        monitored = e.loss if e.val_loss is None else e.val_loss
        improved = monitored < self.best[0]
        if improved:
            self.best = (monitored, e.epoch)
        return improved

    def history(self) -> History:
        return History(self.metric_name, *(tuple(c) for c in self.columns))


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
    recorder = _Recorder(spec)
    for loop, e in _run(
        spec,
        params,
        X,
        y,
        optimizer=optimizer,
        epochs=epochs,
        rng=rng,
        batch_size=batch_size,
        l2=l2,
        opt_state=opt_state,
        validation_data=validation_data,
        validation_split=validation_split,
    ):
        improved = recorder.add(e)
        yield EpochReport(
            e.epoch, loop.params(), loop.opt_state(), recorder.history(), recorder.best[1], improved
        )


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
    recorder = _Recorder(spec)
    best_value, best, last_epoch = np.inf, None, 0
    stopped = False
    runs = _run(
        spec,
        params,
        X,
        y,
        optimizer=optimizer,
        epochs=epochs,
        rng=rng,
        batch_size=batch_size,
        l2=l2,
        opt_state=None,
        validation_data=validation_data,
        validation_split=validation_split,
    )
    for loop, e in runs:
        improved = recorder.add(e)
        last_epoch = e.epoch
        monitored = e.loss if e.val_loss is None else e.val_loss
        better = monitored < best_value - min_delta or best is None
        # Records (read-only copies) are built only when someone will look at them.
        records = None
        if callback is not None or (early_stopping and better):
            records = (loop.params(), loop.opt_state())
        if better:
            best_value = monitored
            best = (e.epoch, *records) if early_stopping else (e.epoch,)
        if callback is not None:
            report = EpochReport(e.epoch, *records, recorder.history(), recorder.best[1], improved)
            if callback(report):
                stopped = True
                break
        if early_stopping and e.epoch - best[0] >= patience:
            stopped = True
            break
    runs.close()  # frees the epoch's batch buffers before the results are copied out
    assert best is not None
    if early_stopping:
        return FitResult(best[1], best[2], recorder.history(), best[0], stopped)
    loop.release()
    return FitResult(loop.params(), loop.opt_state(), recorder.history(), last_epoch, stopped)
