"""The trained-model record: a network plus everything needed to use it on raw data.

`Model` is what `train_model` returns, what a model file stores, and what the prediction service
loads; `predict`, `predict_proba` and `predict_values` take raw feature rows, apply the saved
preprocessing, and answer in the original units and labels.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from nnfunc.network import forward, logits, plan
from nnfunc.params import Params
from nnfunc.preprocessing import LabelEncoder, StandardScaler, decode_labels, scale, unscale
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


def prepare_inputs(model: Model, X: Any) -> np.ndarray:
    """Raw feature rows scaled for the network, in its dtype; a wrong width raises ValueError."""
    X = np.asarray(X, dtype=model.spec.dtype)
    if X.ndim == 1:
        X = X.reshape(1, -1)
    if X.ndim != 2 or X.shape[1] != model.spec.n_inputs:
        raise ValueError(
            f"expected rows of {model.spec.n_inputs} feature(s), got shape {np.shape(X)}"
        )
    return X if model.feature_scaler is None else scale(model.feature_scaler, X)


def predict_proba(model: Model, X: Any) -> np.ndarray:
    """Class probabilities, one column per class in `model.classes` order."""
    if model.task != "classify":
        raise ValueError("predict_proba needs a classifier")
    z = logits(model.spec, model.params, prepare_inputs(model, X))
    return _proba_from_logits(model.spec, z)


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
    return _codes_from_logits(
        model.spec, logits(model.spec, model.params, prepare_inputs(model, X))
    )


def predict_with_proba(model: Model, X: Any) -> tuple[np.ndarray, np.ndarray]:
    """Class labels and probabilities from one forward pass (what a prediction service answers)."""
    if model.task != "classify":
        raise ValueError("predict_with_proba needs a classifier")
    assert model.labels is not None
    z = logits(model.spec, model.params, prepare_inputs(model, X))
    codes = _codes_from_logits(model.spec, z)
    return decode_labels(model.labels, codes), _proba_from_logits(model.spec, z)


def predict(model: Model, X: Any) -> np.ndarray:
    """Class labels for classifiers, values in original units for regressors."""
    if model.task == "classify":
        assert model.labels is not None
        return decode_labels(model.labels, predict_codes(model, X))
    return predict_values(model, X)
