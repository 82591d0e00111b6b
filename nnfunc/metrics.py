"""Classification and regression metrics, vectorised, with JSON-ready reports.

Classification metrics take integer class codes in [0, n_classes) (`preprocessing.encode_labels`);
macro averages cover the classes among the true or predicted labels, as scikit-learn's do.
Undefined ratios (0/0) are 0.0 without warnings, and `r2_score` on a constant target is 1.0 for a
perfect prediction and 0.0 otherwise, matching scikit-learn's defaults.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np


def _codes(y_true: Any, y_pred: Any, n_classes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Validate two equal-length 1-D integer code arrays (in range when n_classes is given)."""
    t, p = np.asarray(y_true), np.asarray(y_pred)
    if t.ndim != 1 or t.shape != p.shape:
        raise ValueError(f"y_true and y_pred must be 1-D of equal length, got {t.shape}, {p.shape}")
    if t.size == 0:
        raise ValueError("metrics need at least one sample")
    if n_classes is not None:
        for name, codes in (("y_true", t), ("y_pred", p)):
            if codes.dtype.kind not in "iu":
                raise ValueError(f"{name} must hold integer class codes, got dtype {codes.dtype}")
            if codes.min() < 0 or codes.max() >= n_classes:
                raise ValueError(f"{name} codes must lie in [0, {n_classes})")
    return t, p


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den elementwise as float64, with 0/0 (or x/0) giving 0.0 and no warning."""
    num, den = np.asarray(num, np.float64), np.asarray(den, np.float64)
    return np.divide(num, den, out=np.zeros_like(num), where=den != 0)


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of predictions equal to the truth."""
    t, p = _codes(y_true, y_pred)
    return float(np.mean(t == p))


def confusion_matrix(y_true: Any, y_pred: Any, n_classes: int) -> np.ndarray:
    """(n_classes, n_classes) int64 counts: rows are true classes, columns predicted ones."""
    t, p = _codes(y_true, y_pred, n_classes)
    # both as int64: int64 * n + uint64 would promote to float64, which bincount refuses
    flat = np.bincount(
        t.astype(np.int64) * n_classes + p.astype(np.int64), minlength=n_classes * n_classes
    )
    return flat.reshape(n_classes, n_classes)


class PrecisionRecallF1(NamedTuple):
    """Per-class precision, recall, F1 (float64) and support (int64 true counts)."""

    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray


def precision_recall_f1(y_true: Any, y_pred: Any, n_classes: int) -> PrecisionRecallF1:
    """Per-class precision, recall and F1 from the confusion matrix (0/0 counts as 0.0)."""
    cm = confusion_matrix(y_true, y_pred, n_classes)
    tp = np.diag(cm)
    predicted, support = cm.sum(axis=0), cm.sum(axis=1)
    return PrecisionRecallF1(
        precision=_ratio(tp, predicted),
        recall=_ratio(tp, support),
        f1=_ratio(2 * tp, predicted + support),
        support=support,
    )


def _targets(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    """Two float arrays as (n, n_outputs); a 1-D target is one output, so (n,) and (n, 1)
    compare (as a regressor's predictions of one target are (n, 1))."""
    t, p = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    if t.ndim not in (1, 2) or p.ndim not in (1, 2) or len(t) != len(p):
        raise ValueError(
            f"y_true and y_pred must be 1-D or 2-D of one length: {t.shape}, {p.shape}"
        )
    if t.shape[0] == 0:
        raise ValueError("metrics need at least one sample")
    t, p = t.reshape(len(t), -1), p.reshape(len(p), -1)
    if t.shape != p.shape:
        raise ValueError(
            f"y_true and y_pred have different numbers of outputs: {t.shape}, {p.shape}"
        )
    return t, p


def _reduce(per_output: np.ndarray, keep: bool) -> float | np.ndarray:
    """The per-output array itself, or its mean as a python float."""
    return per_output if keep else float(per_output.mean())


def mean_squared_error(y_true: Any, y_pred: Any, *, per_output: bool = False) -> float | np.ndarray:
    """Mean squared error, averaged over outputs unless `per_output`."""
    t, p = _targets(y_true, y_pred)
    with np.errstate(over="ignore"):  # errors past 1e154 square to inf: the honest answer
        return _reduce(np.mean((t - p) ** 2, axis=0), per_output)


def mean_absolute_error(
    y_true: Any, y_pred: Any, *, per_output: bool = False
) -> float | np.ndarray:
    """Mean absolute error, averaged over outputs unless `per_output`."""
    t, p = _targets(y_true, y_pred)
    with np.errstate(over="ignore"):  # errors past the float range are inf: the honest answer
        return _reduce(np.mean(np.abs(t - p), axis=0), per_output)


def r2_score(y_true: Any, y_pred: Any, *, per_output: bool = False) -> float | np.ndarray:
    """Coefficient of determination per output (constant target: 1.0 if perfect, else 0.0)."""
    t, p = _targets(y_true, y_pred)
    # Both sums scale alike, so dividing an output of extreme magnitude by its largest value
    # leaves R2 as it is and keeps squares of 1e200 from overflowing (or of 1e-200 from vanishing).
    size = np.maximum(np.abs(t).max(axis=0), np.abs(p).max(axis=0))
    extreme = np.isfinite(size) & (size > 0) & ((size > 1e100) | (size < 1e-100))
    if extreme.any():
        unit = np.where(extreme, size, 1.0)
        t, p = t / unit, p / unit
    with np.errstate(over="ignore", invalid="ignore"):  # inf in the data: inf or nan, no warnings
        residual = np.sum((t - p) ** 2, axis=0)
        total = np.sum((t - t.mean(axis=0)) ** 2, axis=0)
        constant_score = np.where(residual == 0, 1.0, 0.0)
        r2 = np.where(total > 0, 1.0 - _ratio(residual, total), constant_score)
    return _reduce(r2, per_output)


def classification_report(y_true: Any, y_pred: Any, class_names: Sequence[Any]) -> dict[str, Any]:
    """Accuracy, per-class and averaged precision/recall/F1 and the confusion matrix, as a dict."""
    n_classes = len(class_names)
    scores = precision_recall_f1(y_true, y_pred, n_classes)
    weights = scores.support / scores.support.sum()
    # Macro averages take the classes that occur among the true or predicted labels, as
    # scikit-learn's report does: a model class absent from both would only add a 0.
    t, p = _codes(y_true, y_pred, n_classes)
    present = np.bincount(np.concatenate([t, p]).astype(np.int64), minlength=n_classes) > 0
    per_class = {
        str(name): {
            "precision": float(scores.precision[i]),
            "recall": float(scores.recall[i]),
            "f1": float(scores.f1[i]),
            "support": int(scores.support[i]),
        }
        for i, name in enumerate(class_names)
    }
    return {
        "accuracy": accuracy(y_true, y_pred),
        "per_class": per_class,
        "macro": {
            k: float(np.mean(getattr(scores, k)[present])) for k in ("precision", "recall", "f1")
        },
        "weighted": {
            k: float(np.sum(getattr(scores, k) * weights)) for k in ("precision", "recall", "f1")
        },
        "n_samples": int(scores.support.sum()),
        "confusion_matrix": confusion_matrix(y_true, y_pred, n_classes).tolist(),
    }


def regression_report(
    y_true: Any, y_pred: Any, target_names: Sequence[str] | None = None
) -> dict[str, Any]:
    """MSE, RMSE, MAE and R² averaged over outputs and per output, as a dict of python floats."""
    t, p = _targets(y_true, y_pred)
    names = [f"y{i}" for i in range(t.shape[1])] if target_names is None else list(target_names)
    if len(names) != t.shape[1]:
        raise ValueError(f"{len(names)} target names for {t.shape[1]} outputs")
    mse = mean_squared_error(t, p, per_output=True)
    mae = mean_absolute_error(t, p, per_output=True)
    r2 = r2_score(t, p, per_output=True)
    per_target = {
        str(name): {
            "mse": float(mse[i]),
            "rmse": float(np.sqrt(mse[i])),
            "mae": float(mae[i]),
            "r2": float(r2[i]),
        }
        for i, name in enumerate(names)
    }
    return {
        "mse": float(mse.mean()),
        "rmse": float(np.sqrt(mse).mean()),
        "mae": float(mae.mean()),
        "r2": float(r2.mean()),
        "n_samples": int(t.shape[0]),
        "per_target": per_target,
    }
