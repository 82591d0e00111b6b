"""Open Inference Protocol (KServe v2, Triton, MLServer) over HTTP/REST, JSON or msgpack.

Health, server and model metadata, model readiness and inference, plus the two repository routes
of Triton's model-repository extension: the index and `load` (rescan now, token-guarded).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

import nnfunc
from nnfunc.model import Model
from serve.codec import read_body, read_infer_body, respond, respond_json, response_format
from serve.config import require_token, settings, state
from serve.errors import ApiError, echo
from serve.registry import ModelEntry
from serve.signature import (
    compute_outputs,
    input_tensors,
    output_names,
    output_tensors,
    parameters,
)
from serve.tensors import attach_binary, optional_object, tensor_rows

bp = Blueprint("v2", __name__, url_prefix="/v2")
SERVER_NAME = "nnfunc"
EXTENSIONS = ["model_repository"]


def find_entry(name: str, version: str | None = None) -> ModelEntry:
    """The registry entry for `name` (and `version`, if given), else a 404."""
    registry = state().registry
    entry = registry.get(name)
    if entry is None:
        names = [e.name for e in registry.entries()]
        raise ApiError(404, f"unknown model {echo(name)}", models=names)
    if version is not None and version != entry.version:
        raise ApiError(
            404,
            f"model {name!r} has no version {echo(version)}; serving version {entry.version!r}",
            versions=[entry.version] if entry.ready else [],
        )
    return entry


def ready_entry(name: str, version: str | None = None) -> tuple[ModelEntry, Model]:
    """The entry for a model that can answer now, and its model (one version for the whole
    request, whatever reloads meanwhile); a model that failed to load is a 503."""
    entry = find_entry(name, version)
    return entry, require_ready(entry)


def require_ready(entry: ModelEntry) -> Model:
    """The model `entry` serves, else a 503 with its load error."""
    if entry.model is None:
        raise ApiError(
            503, f"model {entry.name!r} is not ready: {entry.error}", state="UNAVAILABLE"
        )
    return entry.model


@bp.get("")
@bp.get("/")  # the protocol's OpenAPI file spells it /v2/
def server_metadata() -> Response:
    """Server name, version and protocol extensions."""
    return respond_json(
        {"name": SERVER_NAME, "version": nnfunc.__version__, "extensions": EXTENSIONS}
    )


@bp.get("/health/live")
def live() -> Response:
    """200 while the process answers requests at all."""
    return respond_json({"live": True})


@bp.get("/health/ready")
def ready() -> Response:
    """200 once the folder is scanned and every model in it can answer; 503 otherwise."""
    registry = state().registry
    waiting = [e.name for e in registry.entries() if not e.ready]
    body: dict[str, Any] = {"ready": registry.ready}
    if waiting:
        body["not_ready"] = waiting
    return respond_json(body, 200 if registry.ready else 503)


@bp.get("/models/<model:name>")
@bp.get("/models/<model:name>/versions/<model:version>")
def model_metadata(name: str, version: str | None = None) -> Response:
    """Inputs and outputs (name, datatype, shape with -1 for the batch) and model parameters."""
    entry, model = ready_entry(name, version)
    return respond_json(
        {
            "name": name,
            "versions": [entry.version],
            "platform": SERVER_NAME,
            "inputs": input_tensors(model),
            "outputs": output_tensors(model),
            "parameters": parameters(model),
        }
    )


@bp.get("/models/<model:name>/ready")
@bp.get("/models/<model:name>/versions/<model:version>/ready")
def model_ready(name: str, version: str | None = None) -> Response:
    """200 when the model can answer, 503 (with the load error) when it cannot."""
    entry = find_entry(name, version)
    body = {"name": name, "ready": entry.ready, **entry.status()}
    return respond_json(body, 200 if entry.ready else 503)


def _requested_outputs(body: dict[str, Any], available: list[str]) -> list[str]:
    requested = body.get("outputs")
    if requested is None:  # absent or null: every output
        return available
    if not isinstance(requested, list) or not all(
        isinstance(o, dict) and isinstance(o.get("name"), str) for o in requested
    ):
        raise ApiError(400, "outputs must be a list of objects with a name")
    for i, item in enumerate(requested):
        # binary_data is accepted (the answer is JSON, which clients read either way);
        # Triton's classification extension would change the tensor's type and shape
        if "classification" in optional_object(item, "parameters", f"outputs[{i}].parameters"):
            raise ApiError(
                400,
                "the classification extension is not supported: ask for the 'label' and "
                "'probabilities' outputs",
            )
    names = list(dict.fromkeys(o["name"] for o in requested))
    unknown = [n for n in names if n not in available]
    if unknown:
        shown = ", ".join(echo(n) for n in unknown[:10])
        raise ApiError(400, f"unknown output(s) {shown}; available: {available}")
    return names or available


@bp.post("/models/<model:name>/infer")
@bp.post("/models/<model:name>/versions/<model:version>/infer")
def infer(name: str, version: str | None = None) -> Response:
    """Run the model on one input tensor; answer the requested (default: all) output tensors."""
    entry, model = ready_entry(name, version)
    config = settings()
    body, fmt, binary = read_infer_body(
        request, max_bytes=config.max_body_bytes, timeout=config.body_timeout
    )
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be an object with an 'inputs' list")
    request_id = body.get("id")  # optional: absent or null
    if request_id is not None and not isinstance(request_id, str):
        raise ApiError(400, "id must be a string")
    if request_id is not None and not request_id.isascii():
        try:
            request_id.encode("utf-8")  # echoed back: a lone surrogate could not be encoded
        except UnicodeEncodeError:
            raise ApiError(
                400, "id must be valid Unicode text (it holds a lone surrogate)"
            ) from None
    optional_object(body, "parameters", "parameters")  # accepted, keys ignored
    inputs = body.get("inputs")
    if isinstance(inputs, list):
        inputs = attach_binary(inputs, binary)
    if not isinstance(inputs, list) or len(inputs) != 1:
        got = len(inputs) if isinstance(inputs, list) else type(inputs).__name__
        raise ApiError(400, f"inputs must be a list of exactly one tensor 'input', got {got}")
    names = _requested_outputs(body, output_names(model))
    X = tensor_rows(inputs[0], model, max_rows=config.max_rows)
    values = compute_outputs(model, X, names)
    datatypes = {t["name"]: t["datatype"] for t in output_tensors(model)}
    answer: dict[str, Any] = {"model_name": name, "model_version": entry.version}
    if request_id is not None:
        answer["id"] = request_id
    answer["outputs"] = [
        {
            "name": out,
            "datatype": datatypes[out],
            "shape": list(values[out].shape),
            "data": values[out].ravel().tolist(),
        }
        for out in names
    ]
    return respond(answer, response_format(request, fmt))


@bp.post("/repository/index")
def repository_index() -> Response:
    """Every model file with its version, state and load error (Triton's repository index)."""
    only_ready = False
    if request.content_length or "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        config = settings()
        body, _ = read_body(request, max_bytes=config.max_body_bytes, timeout=config.body_timeout)
        if not isinstance(body, dict) or not isinstance(body.get("ready", False), bool):
            raise ApiError(400, 'the body must be an object like {"ready": true}')
        only_ready = body.get("ready", False)
    entries = state().registry.entries()
    return respond_json([e.status() for e in entries if e.ready or not only_ready])


@bp.post("/repository/models/<model:name>/load")
def load(name: str) -> Response:
    """Rescan the models folder now (this worker; others within their poll interval)."""
    require_token()
    state().registry.refresh()
    entry = find_entry(name)
    if not entry.ready or entry.error:
        raise ApiError(400, f"model {name!r} failed to load: {entry.error}", **entry.status())
    return respond_json(entry.status())


@bp.post("/repository/models/<model:name>/unload")
def unload(name: str) -> Response:
    """Refused with the reason: the server follows its folder, and with several worker
    processes an unload would reach only the one that took the request."""
    require_token()
    find_entry(name)
    if state().registry.folder is None:  # an app made with in-memory models
        raise ApiError(400, "unloading is not supported: this server's models are fixed")
    raise ApiError(
        400,
        f"unloading is not supported: the server serves every file in its models folder; "
        f"move {name}.msgpack out of it and it is dropped within the poll interval",
    )
