"""TensorFlow Serving's REST API: model status, metadata and `:predict`.

Row format `{"instances": [...]}` answers `{"predictions": [...]}`, one entry per row (a classifier
gives `{"label", "probabilities"}`, a regressor the list of its target values). Columnar format
`{"inputs": ...}` answers `{"outputs": ...}`, as TF Serving does.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from serve.codec import read_body, respond, respond_json, response_format
from serve.config import settings, state
from serve.errors import ApiError
from serve.registry import ModelEntry
from serve.signature import compute_outputs, input_tensors, output_names, output_tensors
from serve.tensors import column_rows, instance_rows
from serve.v2 import find_entry, ready_entry

bp = Blueprint("v1", __name__, url_prefix="/v1")
TF_DTYPES = {
    "FP32": "DT_FLOAT",
    "FP64": "DT_DOUBLE",
    "INT64": "DT_INT64",
    "BOOL": "DT_BOOL",
    "BYTES": "DT_STRING",
}


def version_status(entry: ModelEntry) -> dict[str, Any]:
    """One `model_version_status` item: AVAILABLE, or END with the load error."""
    if entry.ready:
        error = {"error_code": "OK", "error_message": entry.error or ""}
        return {"version": entry.version, "state": "AVAILABLE", "status": error}
    error = {"error_code": "INVALID_ARGUMENT", "error_message": entry.error or ""}
    return {"version": entry.version, "state": "END", "status": error}


@bp.get("/models")
def list_models() -> Response:
    """Every model file: name, version, state and the load error if any."""
    return respond_json({"models": [e.status() for e in state().registry.entries()]})


@bp.get("/models/<model:name>")
def model_status(name: str) -> Response:
    """TF Serving's model status: the served version's state and any load error."""
    return respond_json({"model_version_status": [version_status(find_entry(name))]})


def _tensor_info(tensor: dict[str, Any]) -> dict[str, Any]:
    dims = [{"size": str(d), "name": ""} for d in tensor["shape"]]
    return {
        "dtype": TF_DTYPES[tensor["datatype"]],
        "tensor_shape": {"dim": dims, "unknown_rank": False},
        "name": tensor["name"],
    }


@bp.get("/models/<model:name>/metadata")
def model_metadata(name: str) -> Response:
    """TF Serving's signature_def for the model's single `serving_default` signature."""
    entry = ready_entry(name)
    model = entry.model
    assert model is not None
    signature = {
        "inputs": {t["name"]: _tensor_info(t) for t in input_tensors(model)},
        "outputs": {t["name"]: _tensor_info(t) for t in output_tensors(model)},
        "method_name": "tensorflow/serving/predict",
    }
    return respond_json(
        {
            "model_spec": {"name": name, "signature_name": "", "version": entry.version},
            "metadata": {"signature_def": {"signature_def": {"serving_default": signature}}},
        }
    )


@bp.post("/models/<model:name>:predict")
def predict(name: str) -> Response:
    """Predictions for rows given as `instances` (row format) or `inputs` (columnar format)."""
    entry = ready_entry(name)
    model = entry.model
    assert model is not None
    config = settings()
    body, fmt = read_body(request, max_bytes=config.max_body_bytes)
    if not isinstance(body, dict) or ("instances" in body) == ("inputs" in body):
        raise ApiError(400, "the body must be an object with either 'instances' or 'inputs'")
    if body.get("signature_name", "") not in ("", "serving_default"):
        raise ApiError(
            400, "unknown signature_name: this model has one signature, 'serving_default'"
        )
    names = output_names(model)
    if "instances" in body:
        X = instance_rows(body["instances"], model, max_rows=config.max_rows)
    else:
        X = column_rows(body["inputs"], model, max_rows=config.max_rows)
    values = {k: v.tolist() for k, v in compute_outputs(model, X, names).items()}
    if "inputs" in body:
        outputs: Any = values if len(names) > 1 else values[names[0]]
        return respond({"outputs": outputs}, response_format(request, fmt))
    if len(names) == 1:
        predictions: list[Any] = values[names[0]]
    else:
        predictions = [dict(zip(names, row)) for row in zip(*(values[n] for n in names))]
    return respond({"predictions": predictions}, response_format(request, fmt))
