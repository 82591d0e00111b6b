"""The trained-model record: a network plus everything needed to use it on raw data.

`Model` is what `train_model` returns, what a model file stores, and what the prediction service
loads; `predict`, `predict_proba` and `predict_values` take raw feature rows, apply the saved
preprocessing, and answer in the original units and labels.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np

from nnfunc.arrays import all_finite, numeric_array
from nnfunc.datasets import TASKS
from nnfunc.frozen_data import frozen_data
from nnfunc.network import Plan, _forward, _logits, plan
from nnfunc.params import Params
from nnfunc.preprocessing import LabelEncoder, StandardScaler, input_limit, output_limit
from nnfunc.spec import MLPSpec
from nnfunc.training import History

# The training metric each task records in `History.metric_name`.
METRIC_NAMES = {"classify": "accuracy", "regress": "r2"}


@attrs.frozen
class Model:
    """A trained network with its preprocessing, labels, metrics and provenance."""

    spec: MLPSpec
    params: Params
    task: str  # "classify" or "regress"
    feature_names: tuple[str, ...] = attrs.field(converter=tuple)
    target_names: tuple[str, ...] = attrs.field(converter=tuple)
    feature_scaler: StandardScaler | None = None
    target_scaler: StandardScaler | None = None
    labels: LabelEncoder | None = None
    history: History | None = None
    config: dict[str, Any] = attrs.field(factory=dict, converter=frozen_data, hash=False)
    metrics: dict[str, Any] = attrs.field(factory=dict, converter=frozen_data, hash=False)
    provenance: dict[str, Any] = attrs.field(factory=dict, converter=frozen_data, hash=False)

    def __attrs_post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be classify or regress, got {self.task!r}")
        if len(self.feature_names) != self.spec.n_inputs:
            raise ValueError(
                f"{len(self.feature_names)} feature names for {self.spec.n_inputs} inputs"
            )
        if self.task == "regress" and self.spec.loss != "mse":
            raise ValueError(f"a regressor needs the mse loss, not {self.spec.loss}")
        if self.history is not None and self.history.metric_name != METRIC_NAMES[self.task]:
            raise ValueError(
                f"history.metric_name must be {METRIC_NAMES[self.task]!r} for task "
                f"{self.task!r}, got {self.history.metric_name!r}"
            )
        if self.task == "classify":
            if self.labels is None or not self.spec.is_classifier:
                raise ValueError("a classifier needs class labels and a cross-entropy loss")
            n_classes = len(self.labels.classes)
            binary = self.spec.loss == "binary_cross_entropy"
            expected = 1 if binary else n_classes
            if self.spec.n_outputs != expected or n_classes < 2 or (binary and n_classes != 2):
                raise ValueError(
                    f"{n_classes} class labels do not fit {self.spec.n_outputs} output(s)"
                )
        elif len(self.target_names) != self.spec.n_outputs:
            raise ValueError(
                f"{len(self.target_names)} target names for {self.spec.n_outputs} outputs"
            )

    @property
    def classes(self) -> tuple[Any, ...]:
        """Class labels in output order (empty for regressors)."""
        return self.labels.classes if self.labels is not None else ()

    @property
    def n_params(self) -> int:
        """Number of trainable parameters."""
        return self.params.n_params


class _Compiled:
    """What predicting needs from a model, resolved once (a model is immutable: never stale).

    The scalers' means and scales are cast to the network's dtype here, as `scale` and `unscale`
    cast them on every call, and the class labels are an array ready for indexing. `in_sq` bounds
    the sum of squares of ordinary rows: they scale without overflow to values of at most
    `ORDINARY` (which a trained network does not overflow on), and `out_sq` that of outputs that
    unscale without overflow. One `np.vdot` clears ordinary rows; only others take checked paths.
    """

    __slots__ = (
        "plan",
        "leaves",
        "dtype",
        "n_inputs",
        "mean",
        "scale",
        "in_sq",
        "target_mean",
        "target_scale",
        "out_sq",
        "classes",
        "feature_names",
        "target_names",
        "overflow_free",
    )

    def __init__(self, model: Model):
        self.plan, self.leaves = plan(model.spec), model.params.leaves()
        self.dtype, self.n_inputs = np.dtype(model.spec.dtype), model.spec.n_inputs
        self.feature_names, self.target_names = model.feature_names, model.target_names
        self.mean, self.scale, self.in_sq = self._scaler(model.feature_scaler, _ordinary_limit)
        self.target_mean, self.target_scale, self.out_sq = self._scaler(
            model.target_scaler, output_limit
        )
        self.classes = None if model.labels is None else np.asarray(model.labels.classes)
        if self.classes is not None:
            self.classes.flags.writeable = False
        self.overflow_free = _overflow_free(self.plan, self.leaves, self.dtype)

    def _scaler(
        self, scaler: StandardScaler | None, limit: Callable[[StandardScaler, np.dtype], float]
    ) -> tuple[np.ndarray | None, np.ndarray | None, np.float64]:
        """The scaler's mean and scale in the network's dtype, and its sum-of-squares bound."""
        if scaler is None:
            return None, None, _square(ORDINARY)  # well inside float32's range, too
        bound = _square(limit(scaler, self.dtype))
        return scaler.mean.astype(self.dtype), scaler.scale.astype(self.dtype), bound


# Scaled values up to this size do not overflow a network trained on standardised data, so rows
# within it skip `np.errstate` (about 1 us); the logits are checked for overflow either way.
ORDINARY = 1e15


def _ordinary_limit(scaler: StandardScaler, dtype: np.dtype) -> float:
    """The largest |x| that scales to at most `ORDINARY` in every column (and without overflow)."""
    scale_, mean = np.asarray(scaler.scale, np.float64), np.asarray(scaler.mean, np.float64)
    with np.errstate(over="ignore"):  # a huge scale gives inf: then input_limit decides
        ordinary = float((ORDINARY * scale_ - np.abs(mean)).min(initial=ORDINARY))
    return min(ordinary, input_limit(scaler, dtype))


def _growth(name: str, alpha: float) -> tuple[float, float] | None:
    """(slope, offset) with |act(z)| <= slope * |z| + offset for a built-in activation (None for
    one it does not know, such as a user's)."""
    if name in ("linear", "relu", "gelu", "silu"):
        return 1.0, 0.0
    if name in ("binary_step", "sigmoid", "tanh", "arctan"):
        return 0.0, 2.0  # bounded: 1, or pi / 2 for arctan
    if name in ("leaky_relu", "prelu"):
        return max(1.0, abs(alpha)), 0.0
    if name in ("elu", "softplus"):
        return 1.0, max(abs(alpha), 1.0)  # elu >= -alpha; softplus(z) <= |z| + log 2
    return None


def _overflow_free(pl: Plan, leaves: tuple[np.ndarray, ...], dtype: np.dtype) -> bool:
    """True when no ordinary row (scaled values of at most `ORDINARY`) can overflow the network.

    A bound on each row's norm is carried through the layers (times the weights' Frobenius norm,
    plus the bias norm, then the activation's growth) and must stay far below the dtype's largest
    value. A trained network passes by a wide margin; a file with huge weights does not, and its
    rows always take the checked path (no numpy warnings, a clear InputRangeError).
    """
    limit = float(np.finfo(dtype).max) / 1e6
    bound = ORDINARY * math.sqrt(leaves[0].shape[0])
    for k in range(len(leaves) // 2):
        w, b = (np.asarray(a, np.float64) for a in leaves[2 * k : 2 * k + 2])
        bound = bound * math.sqrt(np.vdot(w, w)) + math.sqrt(np.vdot(b, b))
        if not bound < limit:  # the product itself, before a bounded activation hides it
            return False
        if k < len(pl.hidden):
            act, alpha = pl.hidden[k]
            growth = _growth(act.name, alpha)
            if growth is None:
                return False
            bound = growth[0] * bound + growth[1] * math.sqrt(w.shape[1])
        if not bound < limit:  # inf and NaN fail too
            return False
    return True


def _square(limit: float) -> np.float64:
    """`limit` squared as a finite float64, which a float32 sum of squares is compared in.

    (A python float would be cast to float32 for that comparison, and could overflow there.)
    """
    return np.float64(-1.0 if not limit > 0 else min(limit * limit, np.finfo(np.float64).max))


_COMPILED: dict[int, tuple[weakref.ref, _Compiled]] = {}


def forget_compiled() -> None:
    """Drop every model's compiled form (an activation was unregistered: its name may return)."""
    _COMPILED.clear()


def _compiled(model: Model) -> _Compiled:
    """The model's `_Compiled` form, made on first use and dropped with the model."""
    entry = _COMPILED.get(id(model))
    if entry is not None and entry[0]() is model:
        return entry[1]
    key, compiled = id(model), _Compiled(model)
    _COMPILED[key] = (weakref.ref(model, lambda _, key=key: _COMPILED.pop(key, None)), compiled)
    return compiled


class InputRangeError(ValueError):
    """Rows a model cannot answer: NaN or infinity, or values so far outside the training data
    that scaling them or the network overflows. (A ValueError: bad input, never a crash.)

    `row` counts from 0, as numpy does; `describe(row + 1)` words it for readers counting from 1.
    """

    def __init__(self, row: int, detail: str):
        self.row, self.detail = row, detail
        super().__init__(self.describe(row))

    def describe(self, shown_row: int) -> str:
        """The message, with the row numbered as the caller numbers rows."""
        return f"inputs out of range: row {shown_row}, {self.detail}"


def _prepare(c: _Compiled, X: Any) -> tuple[np.ndarray, bool]:
    """Raw feature rows scaled for the network, in its dtype, and whether they are ordinary (one
    `np.vdot` against `in_sq`, a BLAS call that never warns, decides; only other rows are checked
    entry by entry). A wrong width raises ValueError; NaN, infinity and finite values that
    overflow once converted and scaled raise InputRangeError naming the row and feature."""
    X = np.asarray(X)
    if X.dtype.kind != "f":
        X = numeric_array(X, "inputs").astype(c.dtype)  # ints, bools; text, complex refused
    if X.ndim == 1:
        X = X.reshape(1, -1)
    if X.ndim != 2 or X.shape[1] != c.n_inputs:
        raise ValueError(f"expected rows of {c.n_inputs} feature(s), got shape {np.shape(X)}")
    if not np.vdot(X, X) <= c.in_sq:  # NaN, infinity or a large value: check each entry
        return _scale_checked(c, X), False
    if X.dtype != c.dtype:
        X = X.astype(c.dtype)
    return (X if c.mean is None else (X - c.mean) / c.scale), True  # what `scale` computes


def _scale_checked(c: _Compiled, X: np.ndarray) -> np.ndarray:
    """`_prepare` for rows the quick bound did not clear: the first bad entry named."""
    with np.errstate(over="ignore", invalid="ignore"):
        Z = X.astype(c.dtype, copy=False)
        if c.mean is not None:
            Z = (Z - c.mean) / c.scale
    bad = ~np.isfinite(Z)
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        value = X[row, col]
        why = (
            "is not a number"
            if np.isnan(value)
            else "is infinite"
            if np.isinf(value)
            else f"overflows {c.dtype.name} once converted and scaled for the model"
        )
        raise InputRangeError(row, f"feature {c.feature_names[col]!r} = {value:.6g} {why}")
    return Z


def _unscale(c: _Compiled, Z: np.ndarray) -> np.ndarray:
    """Outputs in the targets' units (as `unscale`); overflow refused as in `_prepare`."""
    if np.vdot(Z, Z) <= c.out_sq:
        return Z * c.target_scale + c.target_mean
    with np.errstate(over="ignore"):
        Y = Z * c.target_scale + c.target_mean
    bad = np.isinf(Y)
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        raise InputRangeError(
            row,
            f"target {c.target_names[col]!r} overflows {c.dtype.name} in the targets' units "
            "(the inputs are far outside the training data)",
        )
    return Y


# Rows go through the network in chunks of at most this many values in its widest layer, so a
# model with very wide layers (a file may declare 2^24 units) answers many rows in bounded memory.
CHUNK_VALUES = 1 << 22


def _model_logits(model: Model, X: Any) -> np.ndarray:
    """The logits of raw rows; rows that overflow anywhere in the network (far outside the
    training data, or a network with huge weights) raise InputRangeError rather than answer NaN
    or a made-up label."""
    c = _compiled(model)
    X, ordinary = _prepare(c, X)
    rows = max(1, CHUNK_VALUES // max(c.plan.widths))
    if len(X) <= rows:
        return _chunk_logits(c, X, ordinary, 0)
    z = np.empty((len(X), c.plan.widths[-1]), c.dtype)
    for start in range(0, len(X), rows):
        z[start : start + rows] = _chunk_logits(c, X[start : start + rows], ordinary, start)
    return z


def _chunk_logits(c: _Compiled, X: np.ndarray, ordinary: bool, first_row: int) -> np.ndarray:
    """`_model_logits` of scaled rows numbered from `first_row`. Unless the rows are ordinary and
    the network provably cannot overflow on them, every layer's pre-activations are checked: a
    bounded activation (tanh, a step) would turn an overflow into a finite, wrong answer."""
    if ordinary and c.overflow_free:
        return _logits(c.plan, c.leaves, X)
    with np.errstate(over="ignore", invalid="ignore"):
        zs = _forward(c.plan, c.leaves, X)[1]
    for z in zs:
        if not all_finite(z):
            row = first_row + int(np.argwhere(~np.isfinite(z))[0][0])
            raise InputRangeError(
                row, "the network overflows on it (feature values far outside the training data)"
            )
    return zs[-1]


def predict_proba(model: Model, X: Any) -> np.ndarray:
    """Class probabilities, one column per class in `model.classes` order."""
    if model.task != "classify":
        raise ValueError("predict_proba needs a classifier")
    return _proba_from_logits(model.spec, _model_logits(model, X))


def predict_values(model: Model, X: Any) -> np.ndarray:
    """Regression outputs in the targets' original units, shape (n, n_targets)."""
    if model.task != "regress":
        raise ValueError("predict_values needs a regressor")
    c = _compiled(model)
    act, alpha = c.plan.output
    z = _model_logits(model, X)
    if act.name == "linear":
        out = z
    else:
        with np.errstate(over="ignore", invalid="ignore"):  # refused below, with the row named
            out = act.fn(z, alpha)
        if not all_finite(out):
            row, col = (int(i) for i in np.argwhere(~np.isfinite(out))[0])
            raise InputRangeError(
                row,
                f"output {c.target_names[col]!r} overflows {c.dtype.name} in the output "
                f"activation {act.name} (the inputs are far outside the training data)",
            )
    return out if model.target_scaler is None else _unscale(c, out)


def _codes_from_logits(spec: MLPSpec, z: np.ndarray) -> np.ndarray:
    if spec.loss == "binary_cross_entropy":
        return (z[:, 0] >= 0).astype(np.int64)
    return z.argmax(axis=1)


def _proba_from_logits(spec: MLPSpec, z: np.ndarray) -> np.ndarray:
    act, alpha = plan(spec).output
    # Logits further apart than the dtype's range (a max near 1e308 and a min near -1e308) make
    # z - max overflow to -inf, whose exp is the exact 0: no warning for that.
    with np.errstate(over="ignore"):
        p = act.fn(z, alpha)
        if spec.loss == "binary_cross_entropy":  # sigmoid(-z), not 1 - p: exact for large z too
            p = np.concatenate([act.fn(-z, alpha), p], axis=1)
    return p


def predict_codes(model: Model, X: Any) -> np.ndarray:
    """Class indices into `model.classes` for each row (classifiers only)."""
    if model.task != "classify":
        raise ValueError("predict_codes needs a classifier")
    return _codes_from_logits(model.spec, _model_logits(model, X))


def predict_with_proba(model: Model, X: Any) -> tuple[np.ndarray, np.ndarray]:
    """Class labels and probabilities from one forward pass (what a prediction service answers)."""
    if model.task != "classify":
        raise ValueError("predict_with_proba needs a classifier")
    assert model.labels is not None
    z = _model_logits(model, X)
    codes = _codes_from_logits(model.spec, z)
    return _compiled(model).classes[codes], _proba_from_logits(model.spec, z)


def predict(model: Model, X: Any) -> np.ndarray:
    """Class labels for classifiers, values in original units for regressors."""
    if model.task == "classify":
        assert model.labels is not None
        return _compiled(model).classes[predict_codes(model, X)]  # as decode_labels maps codes
    return predict_values(model, X)
