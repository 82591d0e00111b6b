"""A model's serving signature (named input and output tensors) and the outputs for some rows.

Every served model takes one input tensor `input` of shape [-1, n_features]. A classifier answers
`label` (shape [-1]) and `probabilities` ([-1, n_classes]); a regressor answers `values`
([-1, n_targets]) in the targets' original units. The numbers come from `nnfunc.model`, which
applies the preprocessing saved in the model file; nothing here repeats that math.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnfunc.model import InputRangeError, Model, predict_values, predict_with_proba
from serve.errors import ApiError

INPUT = "input"
FLOAT_DATATYPES = {"float32": "FP32", "float64": "FP64"}


def _label_datatype(model: Model) -> str:
    """BYTES for text labels, BOOL for True/False ones, else INT64."""
    if any(isinstance(c, str) for c in model.classes):
        return "BYTES"
    return "BOOL" if all(isinstance(c, (bool, np.bool_)) for c in model.classes) else "INT64"


def input_tensors(model: Model) -> list[dict[str, Any]]:
    """Open Inference Protocol metadata for the model's inputs."""
    datatype = FLOAT_DATATYPES[model.spec.dtype]
    return [{"name": INPUT, "datatype": datatype, "shape": [-1, model.spec.n_inputs]}]


def output_tensors(model: Model) -> list[dict[str, Any]]:
    """Open Inference Protocol metadata for the model's outputs, in answer order."""
    datatype = FLOAT_DATATYPES[model.spec.dtype]
    if model.task == "classify":
        return [
            {"name": "label", "datatype": _label_datatype(model), "shape": [-1]},
            {"name": "probabilities", "datatype": datatype, "shape": [-1, len(model.classes)]},
        ]
    return [{"name": "values", "datatype": datatype, "shape": [-1, len(model.target_names)]}]


def output_names(model: Model) -> list[str]:
    """Names of the outputs the model answers, in order."""
    return [t["name"] for t in output_tensors(model)]


def parameters(model: Model) -> dict[str, Any]:
    """Model-level metadata a client needs: task, feature names, class labels or target names."""
    out: dict[str, Any] = {"task": model.task, "feature_names": list(model.feature_names)}
    if model.task == "classify":
        out["class_labels"] = list(model.classes)
    else:
        out["target_names"] = list(model.target_names)
    return out


def compute_outputs(model: Model, X: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
    """The named outputs for validated rows X; rows the model cannot answer (its values overflow
    once scaled or inside the network) are a 400 with the library's message, not NaN in JSON.

    A classifier's probabilities are always computed, so a label is never answered for rows
    whose probabilities are not finite.
    """
    try:
        if model.task == "classify":
            labels, probabilities = predict_with_proba(model, X)
            numbers = {"probabilities": probabilities}
        else:
            numbers = {"values": predict_values(model, X)}
    except InputRangeError as exc:
        raise ApiError(400, str(exc)) from None
    if "label" in names:
        numbers["label"] = labels
    return {name: numbers[name] for name in names}


def check_rows(model: Model, X: np.ndarray, *, max_rows: int) -> np.ndarray:
    """Refuse an empty batch, too many rows (413), a wrong width, NaN or infinity; return X."""
    n_features = model.spec.n_inputs
    if X.ndim != 2 or X.shape[1] != n_features:
        raise ApiError(
            400,
            f"wrong shape: expected [n, {n_features}] ({n_features} features per row), "
            f"got {list(X.shape)}",
            expected=[-1, n_features],
            got=list(X.shape),
        )
    if X.shape[0] == 0:
        raise ApiError(400, "empty batch: send at least one row")
    if X.shape[0] > max_rows:
        raise ApiError(413, f"too many rows: {X.shape[0]} > limit {max_rows}", max_rows=max_rows)
    with np.errstate(all="ignore"):  # a float64 value may overflow a float32 model
        finite = np.isfinite(X.astype(model.spec.dtype, copy=False))
    if not finite.all():
        bad = np.argwhere(~finite)[0].tolist()
        raise ApiError(400, f"non-finite value (NaN or infinity) at row {bad[0]}, column {bad[1]}")
    return X
