"""The training loop: epochs of shuffled minibatches, validation, early stopping, history.

`fit_epochs` yields one `EpochReport` per epoch, so a caller can drive a progress bar or stop by
leaving the loop; `fit` runs it to the end and returns a `FitResult`. The steps themselves run in
`nnfunc.loop` on buffers it owns; records are built only when a report or the result needs them.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import attrs
import numpy as np

from nnfunc.activations import parse_activation
from nnfunc.arrays import all_finite
from nnfunc.checks import non_negative
from nnfunc.loop import (
    Batches,
    Diverged,
    Metric,
    TrainLoop,
    evaluate,
    loss_and_logits,
    regression_output,
)
from nnfunc.network import as_inputs, as_targets, check_params, loss_targets
from nnfunc.optim import GradientTransformation
from nnfunc.params import Params, RngOrSeed, as_rng
from nnfunc.spec import MLPSpec, require_spec


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
    """What one epoch produced: its number (from 1), the parameters after it, and the history.

    `best_epoch` and `improved` follow the monitored loss (see `fit_epochs` and `fit`).
    """

    epoch: int
    params: Params
    opt_state: Any
    history: History
    best_epoch: int
    improved: bool


@attrs.frozen
class FitResult:
    """The outcome of `fit`: the parameters to keep (the best ones under early stopping).

    `best_epoch` is the epoch whose parameters `params` are: the last epoch run, or under early
    stopping the one with the lowest monitored loss.
    """

    params: Params
    opt_state: Any
    history: History
    best_epoch: int
    stopped_early: bool


class ZeroGradientWarning(UserWarning):
    """Some layers receive no gradient (an activation with a zero derivative comes after them)."""


def untrainable_layers(spec: MLPSpec) -> str | None:
    """Why some layers of `spec` cannot learn by gradient descent, or None when all can.

    Dense layer k is followed by activation k; if that activation's derivative is zero everywhere
    (binary_step), no gradient reaches layers 1..k+1 and they keep their initial weights.
    """
    follow = [parse_activation(a)[0] for a in (*spec.activations, spec.output_activation)]
    blocked = [k for k, act in enumerate(follow) if act.zero_gradient]
    if not blocked:
        return None
    k, name = blocked[-1], follow[blocked[-1]].name
    if k == len(follow) - 1:
        return (
            f"{name} on the output has a zero derivative: no layer receives a gradient, so "
            "training changes nothing"
        )
    layers = (
        "layer 1 receives no gradient and keeps its"
        if k == 0
        else (f"layers 1 to {k + 1} receive no gradient and keep their")
    )
    return (
        f"{name} after dense layer {k + 1} has a zero derivative: {layers} initial weights "
        "(only the layers after it train)"
    )


def _check_count(name: str, value: Any, minimum: int) -> None:
    """Refuse anything but an integer of at least `minimum` (True is not one epoch, nor 2.5 two)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")


def _validation_rows(spec: MLPSpec, data: tuple[np.ndarray, np.ndarray]):
    """Validation (X, y) as the network takes them, checked as the training rows are."""
    if not isinstance(data, tuple | list) or len(data) != 2:
        raise ValueError("validation_data must be a pair (X, y)")
    X, y = as_inputs(spec, data[0]), as_targets(spec, data[1])
    if len(X) != len(y):
        raise ValueError(f"validation X has {len(X)} rows but y has {len(y)}")
    if len(X) == 0:
        raise ValueError("validation data has no rows")
    loss_targets(spec, y)  # labels in range, rows of the right width: refused now, not later
    return X, y


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
    monitored: float  # what best_epoch follows: val_loss, the end-of-epoch loss, or loss


def _prepare(
    spec: MLPSpec,
    X: np.ndarray,
    y: np.ndarray,
    validation_data: tuple[np.ndarray, np.ndarray] | None,
    validation_split: float,
    rng: np.random.Generator,
):
    """The training rows and the validation rows (or None), checked and in the network's types."""
    X, y = as_inputs(spec, X), as_targets(spec, y)
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
    if validation_data is not None:
        if validation_split:
            raise ValueError("give validation_data or validation_split, not both")
        validation_data = _validation_rows(spec, validation_data)
    elif validation_split:
        X, y, X_val, y_val = _split_validation(X, y, validation_split, rng)
        validation_data = (X_val, y_val)
    if len(X) == 0:
        raise ValueError("no training rows")
    return X, y, validation_data


def _measure(
    spec: MLPSpec,
    loop: TrainLoop,
    epoch: int,
    l2: float,
    validation_data: tuple[np.ndarray, np.ndarray] | None,
    training_rows: tuple[np.ndarray, np.ndarray] | None,
) -> tuple[float | None, float | None, float | None]:
    """The epoch's end parameters checked, then their validation loss and metric, and their loss
    on the training rows when asked (None for what is not measured); non-finite: divergence."""
    if not loop.finite():
        raise TrainingDiverged(epoch, float("nan"))
    val_loss = val_metric = end_loss = None
    if validation_data is not None:
        val_loss, val_metric = evaluate(spec, tuple(loop.leaves), *validation_data, l2)
    if training_rows is not None:
        end_loss = loss_and_logits(spec, tuple(loop.leaves), *training_rows, l2)[0]
    for value in (val_loss, end_loss):
        if value is not None and not math.isfinite(value):
            raise TrainingDiverged(epoch, value)
    return val_loss, val_metric, end_loss


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
    monitor_params: bool = False,
) -> Iterator[tuple[TrainLoop, _Epoch]]:
    """The training run shared by `fit_epochs` and `fit`: the loop and each epoch's figures.

    Everything is checked and prepared here, when called (a bad argument fails the call, not the
    first epoch); the epochs then run as the returned iterator is consumed. The monitored loss is
    the validation loss; without validation data it is the mean batch loss, or with
    `monitor_params` the loss of the end-of-epoch parameters on the training rows (one more
    forward pass per epoch), so that the best epoch's parameters have the best loss.
    """
    _check_count("epochs", epochs, 1)
    if batch_size is not None:
        _check_count("batch_size", batch_size, 1)
    non_negative(l2, "l2")
    if not isinstance(optimizer, GradientTransformation):
        raise TypeError(
            f"optimizer must be a GradientTransformation such as nf.adam(0.01), got "
            f"{type(optimizer).__name__} {optimizer!r}"[:200]
        )
    leaves = check_params(spec, params)  # a clear error, not numpy's deep inside the first step
    if not all(all_finite(a) for a in leaves):
        raise ValueError("params contain NaN or infinity: training needs a finite start")
    blocked = untrainable_layers(spec)
    if blocked is not None:
        warnings.warn(ZeroGradientWarning(blocked), stacklevel=3)
    rng = as_rng(rng)
    X, y, validation_data = _prepare(spec, X, y, validation_data, validation_split, rng)
    n = len(X)
    classify = spec.loss == "softmax_cross_entropy"
    targets = loss_targets(spec, y)  # validated once: one-hot rows for labels
    labels = (y if y.ndim == 1 else y.argmax(axis=1)) if classify else None
    loop = TrainLoop(spec, params, optimizer, opt_state, l2=l2)
    full_batch = batch_size is None or batch_size >= n
    batches = Batches(X, targets, labels, n if full_batch else batch_size)
    # With the data permuted as a whole, labels sit in epoch order: compare once per epoch.
    predicted = np.empty(n, np.intp) if classify and batches.whole and not full_batch else None
    monitored_rows = (X, targets) if monitor_params and validation_data is None else None
    return _epochs(loop, batches, epochs, rng, predicted, validation_data, monitored_rows)


def _epochs(
    loop: TrainLoop,
    batches: Batches,
    epochs: int,
    rng: np.random.Generator,
    predicted: np.ndarray | None,
    validation_data: tuple[np.ndarray, np.ndarray] | None,
    monitored_rows: tuple[np.ndarray, np.ndarray] | None,
) -> Iterator[tuple[TrainLoop, _Epoch]]:
    """`_run`'s epochs, one at a time, on what it prepared."""
    spec, l2, step, n = loop.spec, loop.l2, loop.step, batches.n
    classify = spec.loss == "softmax_cross_entropy"
    full_batch = batches.size >= n
    for epoch in range(1, epochs + 1):
        metric = None if classify else Metric(spec)
        total, start, correct = 0.0, 0, 0
        # A diverging run overflows before its loss turns non-finite; it ends in TrainingDiverged,
        # so numpy's overflow warnings would only be noise. Every figure of the epoch is computed
        # in here (the parameters' check and the validation loss overflow too); no yield is.
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
            val_loss, val_metric, end_loss = _measure(
                spec, loop, epoch, l2, validation_data, monitored_rows
            )
            epoch_metric = correct / n if classify else metric.value()
        loss = total / n
        monitored = val_loss if val_loss is not None else end_loss if end_loss is not None else loss
        yield loop, _Epoch(epoch, loss, epoch_metric, val_loss, val_metric, monitored)


class _Recorder:
    """Builds the History and tracks the best epoch from `_Epoch` figures."""

    def __init__(self, spec: MLPSpec, min_delta: float = 0.0):
        self.metric_name = "r2" if spec.loss == "mse" else "accuracy"
        self.columns: tuple[list[float], ...] = ([], [], [], [])
        self.best = (np.inf, 0)
        self.min_delta = min_delta

    def add(self, e: _Epoch) -> bool:
        """Record an epoch; True when its monitored loss beats the best so far by more than
        `min_delta` (the first epoch always does)."""
        loss, metric, val_loss, val_metric = self.columns
        loss.append(e.loss)
        metric.append(e.metric)
        if e.val_loss is not None:
            val_loss.append(e.val_loss)
            val_metric.append(e.val_metric)
        improved = e.monitored < self.best[0] - self.min_delta or e.epoch == 1
        if improved:
            self.best = (e.monitored, e.epoch)
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
    """Train epoch by epoch, yielding a report after each; stop iterating to stop training.
    The arguments are checked when it is called, before any epoch runs.

    A report's `best_epoch` and `improved` follow the validation loss. Without validation data
    they follow `history.loss`, the mean of the batch losses, each taken before its batch's
    update: a measure of progress, not the loss of that epoch's `params` (which `fit` measures
    for early stopping without validation data).
    """
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
        opt_state=opt_state,
        validation_data=validation_data,
        validation_split=validation_split,
    )
    return _reports(_Recorder(spec), runs)


def _reports(
    recorder: _Recorder, runs: Iterator[tuple[TrainLoop, _Epoch]]
) -> Iterator[EpochReport]:
    for loop, e in runs:
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
    opt_state: Any = None,
) -> FitResult:
    """Train for `epochs` and return the result; early stopping keeps the best parameters.

    Early stopping watches the validation loss and stops after `patience` epochs without an
    improvement larger than `min_delta`. Without validation data it watches the loss (L2 penalty
    included) of each epoch's final parameters on the training rows, one more forward pass per
    epoch, so the parameters returned are those of the lowest loss it saw; `history.loss` stays
    the mean batch loss. A `callback` sees every epoch's report and stops training by returning
    True; its reports' `best_epoch` and `improved` follow what early stopping watches (or, with
    early stopping off and no validation data, `history.loss`, as in `fit_epochs`). `opt_state`
    (an earlier result's) resumes the optimizer where it stopped: its moments and step count.
    """
    _check_count("patience", patience, 1)
    non_negative(min_delta, "min_delta")
    recorder = _Recorder(require_spec(spec), min_delta)
    best, last_epoch = None, 0
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
        opt_state=opt_state,
        validation_data=validation_data,
        validation_split=validation_split,
        monitor_params=early_stopping,
    )
    for loop, e in runs:
        improved = recorder.add(e)  # by more than min_delta: what early stopping counts
        last_epoch = e.epoch
        # Records (read-only copies) are built only when someone will look at them.
        records = None
        if callback is not None or (early_stopping and improved):
            records = (loop.params(), loop.opt_state())
        if improved:
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
