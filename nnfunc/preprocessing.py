"""Feature scaling, label encoding and seeded train/test splits, as pure functions over records.

Fitting returns a small frozen record (`StandardScaler`, `LabelEncoder`); applying it is a separate
function taking the record first, so the state a model was trained with can be saved and reused.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from nnfunc.arrays import array_field, freeze, rebuilt_by_constructor
from nnfunc.checks import real
from nnfunc.params import as_rng


@attrs.frozen
class StandardScaler:
    """Per-column mean and scale: `scale(X) = (X - mean) / scale`."""

    __reduce__ = rebuilt_by_constructor

    mean: np.ndarray = array_field()
    scale: np.ndarray = array_field()


def _as_2d_float(X: Any, what: str = "X") -> np.ndarray:
    """X as a 2-D floating array (integers become float64; float32 stays float32)."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{what} must be 2-D (n_samples, n_features), got shape {X.shape}")
    if X.dtype.kind != "f":
        X = X.astype(np.float64)
    return X


def fit_scaler(X: Any) -> StandardScaler:
    """Fit column means and standard deviations (float64); constant columns (to within rounding)
    get scale 1."""
    X = _as_2d_float(X)
    if X.shape[0] == 0:
        raise ValueError("cannot fit a scaler on 0 rows")
    if not np.isfinite(X).all():
        raise ValueError("cannot fit a scaler on NaN or infinite values")
    # Columns past 1e150 are measured in units of their largest value, whose squares fit.
    size = np.abs(X).max(axis=0).astype(np.float64)
    unit = np.where(size > 1e150, size, 1.0)
    Xu = X / unit if (unit != 1.0).any() else X
    mean_u = Xu.mean(axis=0, dtype=np.float64)
    var_u = Xu.var(axis=0, dtype=np.float64)
    # A column is constant when its variance is within rounding of zero, by scikit-learn's bound
    # (_is_constant_feature): 0.1 + 0.2 among 0.3s is not a feature to blow up to unit scale.
    n, eps = X.shape[0], np.finfo(np.float64).eps
    constant = var_u <= n * eps * var_u + (n * mean_u * eps) ** 2
    std = np.sqrt(var_u) * unit
    return StandardScaler(freeze(mean_u * unit), freeze(np.where(constant, 1.0, std)))


def _check_width(scaler: StandardScaler, X: np.ndarray) -> None:
    """Refuse data whose feature count differs from the scaler's."""
    if X.shape[1] != scaler.mean.shape[0]:
        raise ValueError(f"scaler was fitted on {scaler.mean.shape[0]} features, got {X.shape[1]}")


def scale(scaler: StandardScaler, X: Any) -> np.ndarray:
    """Standardise X in its own floating dtype (float32 in, float32 out)."""
    X = _as_2d_float(X)
    _check_width(scaler, X)
    return (X - scaler.mean.astype(X.dtype)) / scaler.scale.astype(X.dtype)


def unscale(scaler: StandardScaler, Z: Any) -> np.ndarray:
    """Undo `scale`, in Z's own floating dtype."""
    Z = _as_2d_float(Z, "Z")
    _check_width(scaler, Z)
    return Z * scaler.scale.astype(Z.dtype) + scaler.mean.astype(Z.dtype)


# Which scalers a network of dtype D can apply safely (max, tiny: np.finfo(D).max, .tiny):
# - every scale lies in [tiny, max]: a normal number D holds. Dividing by a subnormal scale
#   overflows for differences as small as 1e-12 (float64), and no data's spread is subnormal.
# - |mean| <= min(1, scale) * max / 4. Then every input with |x| <= min(1, scale) * max / 4, a
#   range that always includes the mean itself (the training data's own magnitude), gives
#   |x - mean| <= min(1, scale) * max / 2: neither the subtraction nor the division by the scale
#   can overflow, with a factor of 2 to spare for rounding. Scalers fitted on real data are far
#   inside this (a fitted scale is 1 or about |mean| * 1e-16 / sqrt(rows) at the very least); it
#   refuses means such as -1.7e308, whose scaling overflows for inputs as ordinary as 0.
# A target scaler gets the same bounds: `unscale` computes z * scale + mean, and with
# |mean| <= max / 4 every output |z| <= max / (4 * scale) converts back to a finite value.
# Inputs beyond the guaranteed range may still overflow: `nnfunc.model` refuses those at predict
# time, using `input_limit` and `output_limit` for a quick test that ordinary rows pass.


def check_scaler(scaler: StandardScaler, dtype: Any) -> None:
    """Refuse a scaler that `dtype` arithmetic cannot apply safely; the message names the entry."""
    info = np.finfo(dtype)
    scale_, mean = np.asarray(scaler.scale, np.float64), np.asarray(scaler.mean, np.float64)
    bad = np.flatnonzero(~((scale_ >= info.tiny) & (scale_ <= info.max)))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"scale[{i}]: {scale_[i]:.6g} is not a normal {info.dtype} number in "
            f"[{info.tiny:.6g}, {info.max:.6g}]"
        )
    room = np.minimum(scale_, 1.0) * (float(info.max) / 4)
    bad = np.flatnonzero(~(np.abs(mean) <= room))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"mean[{i}]: {mean[i]:.6g} is too large for scale {scale_[i]:.6g} in {info.dtype} "
            f"(|mean| must be at most min(1, scale) * {float(info.max) / 4:.6g})"
        )


def input_limit(scaler: StandardScaler, dtype: Any) -> float:
    """The largest |x| that `scale` maps to a finite `dtype` value in every column (<= 0: none)."""
    info = np.finfo(dtype)
    scale_, mean = np.asarray(scaler.scale, np.float64), np.asarray(scaler.mean, np.float64)
    limits = np.minimum(scale_, 1.0) * (float(info.max) / 2) - np.abs(mean)
    return float(np.nan_to_num(limits.min(initial=float(info.max) / 2), nan=-1.0))


def output_limit(scaler: StandardScaler, dtype: Any) -> float:
    """The largest |z| that `unscale` maps to a finite `dtype` value in all columns (<= 0: none)."""
    info = np.finfo(dtype)
    scale_, mean = np.asarray(scaler.scale, np.float64), np.asarray(scaler.mean, np.float64)
    if not (np.abs(mean) <= float(info.max) / 4).all() or not (scale_ > 0).all():
        return -1.0
    return min(float(info.max) / 4 / float(scale_.max()), float(info.max))  # inf: capped


@attrs.frozen
class LabelEncoder:
    """The sorted distinct labels; a label's index in `classes` is its integer code."""

    classes: tuple[Any, ...] = attrs.field(converter=tuple)


def fit_labels(y: Any) -> LabelEncoder:
    """Collect the sorted distinct labels of a 1-D array (python str or int values)."""
    y = _label_array(y)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"labels must be a non-empty 1-D array, got shape {y.shape}")
    if y.dtype.kind not in "iuUb":  # bytes (S) would not fit a model file's labels
        raise ValueError(f"labels must be strings, integers or booleans, got dtype {y.dtype}")
    return LabelEncoder(tuple(np.unique(y).tolist()))


def _label_array(y: Any) -> np.ndarray:
    """Labels as a numpy array; an object array of all-str (or all-int) values, as pandas
    gives, becomes a str (or int64) array."""
    y = np.asarray(y)
    if y.dtype == object and y.ndim == 1 and y.size:
        kinds = {type(value) for value in y.tolist()}
        if kinds == {str}:
            return y.astype(str)
        if kinds == {int}:
            return y.astype(np.int64)
    return y


def encode_labels(encoder: LabelEncoder, y: Any) -> np.ndarray:
    """Map labels to int64 codes; unknown labels raise a ValueError naming them."""
    y = _label_array(y)
    if y.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {y.shape}")
    classes = np.asarray(encoder.classes)
    if y.size == 0:
        return np.zeros(0, np.int64)
    if classes.size == 0 or (classes.dtype.kind in "US") != (y.dtype.kind in "US"):
        known = np.zeros(y.shape, bool)  # strings never match integers
        codes = np.zeros(y.shape, np.int64)
    else:
        codes = np.searchsorted(classes, y).astype(np.int64)
        np.minimum(codes, len(classes) - 1, out=codes)
        known = classes[codes] == y
    if not known.all():
        unknown = ", ".join(repr(v) for v in np.unique(y[~known]).tolist()[:10])
        raise ValueError(f"unknown label(s) {unknown}; known: {list(encoder.classes)}")
    return codes


def decode_labels(encoder: LabelEncoder, indices: Any) -> np.ndarray:
    """Map int codes back to the original labels."""
    indices = np.asarray(indices)
    if indices.dtype.kind not in "iu":
        raise ValueError(f"label codes must be integers, got dtype {indices.dtype}")
    n = len(encoder.classes)
    if indices.size and (indices.min() < 0 or indices.max() >= n):
        raise ValueError(f"label codes must lie in [0, {n}), got {indices.min()}..{indices.max()}")
    return np.asarray(encoder.classes)[indices]


def one_hot(indices: Any, n_classes: int, dtype: Any = np.float64) -> np.ndarray:
    """(n, n_classes) indicator matrix for 1-D integer codes."""
    indices = np.asarray(indices)
    if indices.ndim != 1 or indices.dtype.kind not in "iu":
        raise ValueError(f"one_hot takes 1-D integer codes, got {indices.ndim}-D {indices.dtype}")
    if indices.size and (indices.min() < 0 or indices.max() >= n_classes):
        raise ValueError(f"codes must lie in [0, {n_classes})")
    out = np.zeros((indices.shape[0], n_classes), dtype=dtype)
    out[np.arange(indices.shape[0]), indices] = 1
    return out


def _stratified_test_mask(
    y: np.ndarray, n_test: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Row order grouped by class (random within a class) and which of those rows go to test."""
    _, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    # Largest-remainder allocation of n_test over classes, proportional to class size.
    ideal = counts * (n_test / len(y))
    per_class = np.floor(ideal).astype(np.int64)
    leftover = n_test - int(per_class.sum())
    per_class[np.argsort(per_class - ideal, kind="stable")[:leftover]] += 1
    # A class keeps at least one row in train (a singleton stays there whole). No class is
    # forced into the test set, which keeps its size and the overall class mix, as scikit-learn's
    # stratified split does: one test row forced in for every rare class had made a 10% split of
    # 770 rows hold 125, half of them from classes of two rows.
    per_class = np.where(counts >= 2, np.minimum(per_class, counts - 1), 0)
    shuffled = rng.permutation(len(y))
    order = shuffled[np.argsort(inverse[shuffled], kind="stable")]
    starts = np.cumsum(counts) - counts
    rank = np.arange(len(y)) - starts[inverse[order]]
    return order, rank < per_class[inverse[order]]


def train_test_split(
    X: Any,
    y: Any,
    *,
    test_size: float,
    rng: np.random.Generator | int,
    stratify: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle rows and split them into (X_train, X_test, y_train, y_test), optionally by class."""
    X, y = np.asarray(X), np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
    if not 0.0 < real(test_size, "test_size") < 1.0:
        raise ValueError(f"test_size must be a fraction in (0, 1), got {test_size!r}")
    rng = as_rng(rng)  # None is refused: there is no global generator
    n = len(X)
    n_test = int(np.ceil(test_size * n))
    if stratify:
        if y.ndim != 1:
            raise ValueError("stratify needs 1-D class labels")
        order, is_test = _stratified_test_mask(y, n_test, rng)
        test = rng.permutation(order[is_test])
        train = rng.permutation(order[~is_test])
    else:
        shuffled = rng.permutation(n)
        test, train = shuffled[:n_test], shuffled[n_test:]
    if len(train) == 0 or len(test) == 0:
        raise ValueError(
            f"test_size={test_size} on {n} rows leaves {len(train)} train and {len(test)} test "
            "rows; both must be non-empty"
        )
    return X[train], X[test], y[train], y[test]
