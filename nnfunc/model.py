"""The trained-model record: a network plus everything needed to use it on raw data.

`Model` is what `train_model` returns, what a model file stores, and what the prediction service
loads; `predict`, `predict_proba` and `predict_values` take raw feature rows, apply the saved
preprocessing, and answer in the original units and labels.
"""

from __future__ import annotations

import weakref
from typing import Any

import attrs
import numpy as np

from nnfunc.network import _logits, forward, plan
from nnfunc.params import Params
from nnfunc.preprocessing import LabelEncoder, StandardScaler, unscale
from nnfunc.spec import MLPSpec
from nnfunc.training import History


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
    config: dict[str, Any] = attrs.field(factory=dict, hash=False)
    metrics: dict[str, Any] = attrs.field(factory=dict, hash=False)
    provenance: dict[str, Any] = attrs.field(factory=dict, hash=False)

    def __attrs_post_init__(self) -> None:
        if self.task not in ("classify", "regress"):
            raise ValueError(f"task must be classify or regress, got {self.task!r}")
        if len(self.feature_names) != self.spec.n_inputs:
            raise ValueError(
                f"{len(self.feature_names)} feature names for {self.spec.n_inputs} inputs"
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

    The scaler's mean and scale are cast to the network's dtype here, as `scale` casts them on
    every call, and the class labels are an array ready for indexing.
    """

    __slots__ = ("plan", "leaves", "dtype", "n_inputs", "mean", "scale", "classes")

    def __init__(self, model: Model):
        self.plan, self.leaves = plan(model.spec), model.params.leaves()
        self.dtype, self.n_inputs = np.dtype(model.spec.dtype), model.spec.n_inputs
        scaler = model.feature_scaler
        self.mean = None if scaler is None else scaler.mean.astype(self.dtype)
        self.scale = None if scaler is None else scaler.scale.astype(self.dtype)
        self.classes = None if model.labels is None else np.asarray(model.labels.classes)
        if self.classes is not None:
            self.classes.flags.writeable = False


_COMPILED: dict[int, tuple[weakref.ref, _Compiled]] = {}


def _compiled(model: Model) -> _Compiled:
    """The model's `_Compiled` form, made on first use and dropped with the model."""
    entry = _COMPILED.get(id(model))
    if entry is not None and entry[0]() is model:
        return entry[1]
    key, compiled = id(model), _Compiled(model)
    _COMPILED[key] = (weakref.ref(model, lambda _, key=key: _COMPILED.pop(key, None)), compiled)
    return compiled


def prepare_inputs(model: Model, X: Any) -> np.ndarray:
    """Raw feature rows scaled for the network, in its dtype; a wrong width raises ValueError."""
    c = _compiled(model)
    X = np.asarray(X, dtype=c.dtype)
    if X.ndim == 1:
        X = X.reshape(1, -1)
    if X.ndim != 2 or X.shape[1] != c.n_inputs:
        raise ValueError(f"expected rows of {c.n_inputs} feature(s), got shape {np.shape(X)}")
    return X if c.mean is None else (X - c.mean) / c.scale  # what `scale` computes


def _model_logits(model: Model, X: Any) -> np.ndarray:
    """The logits of raw rows (as `logits` on `prepare_inputs`, without re-checking them)."""
    c = _compiled(model)
    return _logits(c.plan, c.leaves, prepare_inputs(model, X))


def predict_proba(model: Model, X: Any) -> np.ndarray:
    """Class probabilities, one column per class in `model.classes` order."""
    if model.task != "classify":
        raise ValueError("predict_proba needs a classifier")
    return _proba_from_logits(model.spec, _model_logits(model, X))


def predict_values(model: Model, X: Any) -> np.ndarray:
    """Regression outputs in the targets' original units, shape (n, n_targets)."""
    if model.task != "regress":
        raise ValueError("predict_values needs a regressor")
    out = forward(model.spec, model.params, prepare_inputs(model, X))
    return out if model.target_scaler is None else unscale(model.target_scaler, out)


def _codes_from_logits(spec: MLPSpec, z: np.ndarray) -> np.ndarray:
    if spec.loss == "binary_cross_entropy":
        return (z[:, 0] >= 0).astype(np.int64)
    return z.argmax(axis=1)


def _proba_from_logits(spec: MLPSpec, z: np.ndarray) -> np.ndarray:
    act, alpha = plan(spec).output
    p = act.fn(z, alpha)
    if spec.loss == "binary_cross_entropy":
        p = np.concatenate([1.0 - p, p], axis=1)
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
