"""TensorFlow Serving's REST API: model status, metadata and `:predict`, with or without
`/versions/V`.

Row format `{"instances": [...]}` answers `{"predictions": [...]}`, one entry per row (a classifier
gives `{"label", "probabilities"}`, a regressor the list of its target values). Columnar format
`{"inputs": ...}` answers `{"outputs": ...}`, as TF Serving does. TF Serving's versions are int64
numbers, so these routes show a model's version (a hex content hash) as a decimal number.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from nnfunc.model import Model
from serve.codec import read_body, respond, respond_json, response_format
from serve.config import settings, state
from serve.errors import ApiError, echo
from serve.registry import ModelEntry
from serve.signature import compute_outputs, input_tensors, output_names, output_tensors
from serve.tensors import column_rows, instance_rows
from serve.v2 import find_entry, require_ready

bp = Blueprint("v1", __name__, url_prefix="/v1")
TF_DTYPES = {
    "FP32": "DT_FLOAT",
    "FP64": "DT_DOUBLE",
    "INT64": "DT_INT64",
    "BOOL": "DT_BOOL",
    "BYTES": "DT_STRING",
}


def tf_version(version: str) -> str:
    """A version (16 hex digits of the file's hash) as TF Serving's int64, in decimal: the
    number its first 15 hex digits spell, so it stays below 2**63 ("0" when none is served)."""
    return str(int(version[:15], 16)) if version else "0"


def find_version(name: str, version: str | None) -> ModelEntry:
    """The entry for `name`, checked against a `/versions/V` given in either spelling."""
    entry = find_entry(name)
    if version is not None and version not in (tf_version(entry.version), entry.version):
        raise ApiError(
            404,
            f"model {name!r} has no version {echo(version)}; serving version "
            f"{tf_version(entry.version)}",
            versions=[tf_version(entry.version)] if entry.ready else [],
        )
    return entry


def ready_version(name: str, version: str | None) -> tuple[ModelEntry, Model]:
    """As `find_version`, for a model that must be able to answer (else a 503): the entry and
    its model."""
    entry = find_version(name, version)
    return entry, require_ready(entry)


def version_status(entry: ModelEntry) -> dict[str, Any]:
    """One `model_version_status` item: AVAILABLE, or END with the load error."""
    version = tf_version(entry.version)
    if entry.ready:
        error = {"error_code": "OK", "error_message": entry.error or ""}
        return {"version": version, "state": "AVAILABLE", "status": error}
    error = {"error_code": "INVALID_ARGUMENT", "error_message": entry.error or ""}
    return {"version": version, "state": "END", "status": error}


@bp.get("/models")
def list_models() -> Response:
    """Every model file: name, version, state and the load error if any."""
    return respond_json({"models": [e.status() for e in state().registry.entries()]})


@bp.get("/models/<model:name>")
@bp.get("/models/<model:name>/versions/<model:version>")
def model_status(name: str, version: str | None = None) -> Response:
    """TF Serving's model status: the served version's state and any load error."""
    return respond_json({"model_version_status": [version_status(find_version(name, version))]})


@bp.get("/models/<model:name>/labels/<model:label>")
@bp.get("/models/<model:name>/labels/<model:label>/metadata")
@bp.post("/models/<model:name>/labels/<model:label>:predict")
def version_label(name: str, label: str) -> Response:
    """TF Serving's version labels ("stable", "canary") name versions this server never has."""
    find_entry(name)
    raise ApiError(
        404, f"model {name!r} has no version labels: use /v1/models/{name} or its /versions/V"
    )


def _tensor_info(tensor: dict[str, Any]) -> dict[str, Any]:
    dims = [{"size": str(d), "name": ""} for d in tensor["shape"]]
    return {
        "dtype": TF_DTYPES[tensor["datatype"]],
        "tensor_shape": {"dim": dims, "unknown_rank": False},
        "name": tensor["name"],
    }


@bp.get("/models/<model:name>/metadata")
@bp.get("/models/<model:name>/versions/<model:version>/metadata")
def model_metadata(name: str, version: str | None = None) -> Response:
    """TF Serving's signature_def for the model's single `serving_default` signature."""
    entry, model = ready_version(name, version)
    signature = {
        "inputs": {t["name"]: _tensor_info(t) for t in input_tensors(model)},
        "outputs": {t["name"]: _tensor_info(t) for t in output_tensors(model)},
        "method_name": "tensorflow/serving/predict",
    }
    return respond_json(
        {
            "model_spec": {
                "name": name,
                "signature_name": "",
                "version": tf_version(entry.version),
            },
            "metadata": {"signature_def": {"signature_def": {"serving_default": signature}}},
        }
    )


@bp.post("/models/<model:name>:predict")
@bp.post("/models/<model:name>/versions/<model:version>:predict")
def predict(name: str, version: str | None = None) -> Response:
    """Predictions for rows given as `instances` (row format) or `inputs` (columnar format)."""
    entry, model = ready_version(name, version)
    config = settings()
    body, fmt = read_body(
        request, max_bytes=config.max_body_bytes, timeout=config.body_timeout, form_is_json=True
    )
    if not isinstance(body, dict) or ("instances" in body) == ("inputs" in body):
        raise ApiError(400, "the body must be an object with either 'instances' or 'inputs'")
    if body.get("signature_name") not in (None, "", "serving_default"):
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
