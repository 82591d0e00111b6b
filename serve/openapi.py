"""The OpenAPI 3 document of every route, served at `/openapi.json`.

Built per request so that its examples name a model actually being served (schemathesis and
people trying the API start from a request that works). Every status a route can answer is listed.
"""

from __future__ import annotations

from typing import Any

import nnfunc
from serve.config import ServeState
from serve.registry import NAME_RE
from serve.signature import input_tensors
from serve.tensors import DATATYPES

JSON = "application/json"
MSGPACK = "application/msgpack"
REASONS = {
    200: "OK",
    400: "Malformed body, wrong shape, non-numeric or non-finite values, empty batch",
    401: "Missing or wrong bearer token",
    404: "Unknown model or version",
    413: "Body or batch larger than the configured limits",
    405: "Method not allowed (the Allow header lists the methods)",
    408: "The request body did not arrive within the body timeout",
    415: "Unsupported content type (use application/json or application/msgpack)",
    501: "prometheus-client is not installed",
    503: "Not ready: the model failed to load and has no servable version (or, for /metrics, "
    "the metrics cannot be read)",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(required: list[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


STR = {"type": "string"}
BOOL = {"type": "boolean"}
STRINGS = {"type": "array", "items": STR}
TENSOR_META = _obj(
    ["name", "datatype", "shape"],
    name=STR,
    datatype=STR,
    shape={"type": "array", "items": {"type": "integer", "minimum": -1}},
)
MODEL_STATUS = _obj(
    ["name", "version", "state"],
    name=STR,
    version=STR,
    state={"type": "string", "enum": ["READY", "UNAVAILABLE"]},
    reason=STR,
)
NESTED_NUMBERS = {"type": "array", "items": {"anyOf": [{"type": "number"}, {"type": "array"}]}}
SCHEMAS: dict[str, Any] = {
    "Error": _obj(["error"], error=STR),
    "ServerMetadata": _obj(
        ["name", "version", "extensions"], name=STR, version=STR, extensions=STRINGS
    ),
    "Live": _obj(["live"], live=BOOL),
    "Ready": _obj(["ready"], ready=BOOL, not_ready=STRINGS),
    "TensorMetadata": TENSOR_META,
    "ModelMetadata": _obj(
        ["name", "versions", "platform", "inputs", "outputs", "parameters"],
        name=STR,
        versions=STRINGS,
        platform=STR,
        inputs={"type": "array", "items": _ref("TensorMetadata")},
        outputs={"type": "array", "items": _ref("TensorMetadata")},
        parameters={"type": "object"},
    ),
    "ModelStatus": MODEL_STATUS,
    "ModelReady": {**MODEL_STATUS, "required": ["name", "ready", "version", "state"]},
    "InferInput": _obj(
        ["name", "shape", "datatype", "data"],
        name=STR,
        shape={"type": "array", "items": {"type": "integer", "minimum": 0}},
        datatype={"type": "string", "enum": sorted(k for k, v in DATATYPES.items() if v)},
        data=NESTED_NUMBERS,
        parameters={"type": "object", "nullable": True},
    ),
    "InferRequest": _obj(
        ["inputs"],
        id={**STR, "nullable": True},
        parameters={"type": "object", "nullable": True},
        inputs={"type": "array", "items": _ref("InferInput"), "minItems": 1, "maxItems": 1},
        outputs={
            "type": "array",
            "nullable": True,
            "items": _obj(["name"], name=STR, parameters={"type": "object", "nullable": True}),
        },
    ),
    "InferOutput": _obj(
        ["name", "shape", "datatype", "data"],
        name=STR,
        shape={"type": "array", "items": {"type": "integer", "minimum": 0}},
        datatype=STR,
        data={"type": "array"},
    ),
    "InferResponse": _obj(
        ["model_name", "model_version", "outputs"],
        model_name=STR,
        model_version=STR,
        id=STR,
        outputs={"type": "array", "items": _ref("InferOutput")},
    ),
    "ModelList": _obj(["models"], models={"type": "array", "items": _ref("ModelStatus")}),
    "TFModelStatus": _obj(["model_version_status"], model_version_status={"type": "array"}),
    "TFMetadata": _obj(["model_spec", "metadata"], model_spec={"type": "object"}),
    "PredictRequest": {
        "type": "object",
        "properties": {
            "instances": {"type": "array"},
            "inputs": {},
            "signature_name": {**STR, "nullable": True},
        },
    },
    "IndexRequest": {"type": "object", "properties": {"ready": BOOL}},
    "PredictResponse": {
        "anyOf": [_obj(["predictions"], predictions={"type": "array"}), _obj(["outputs"])]
    },
}


MODEL = ("name",)
VERSIONED = ("name", "version")
LABELLED = ("name", "label")
BOTH = (JSON, MSGPACK)
ANY_OBJECT = {"type": "object"}
# path, method, summary, 200 schema, error codes, path parameters, request body schema
ROUTES: list[tuple[str, str, str, Any, tuple[int, ...], tuple[str, ...], str | None]] = [
    ("/v2", "get", "Server metadata", "ServerMetadata", (), (), None),
    ("/v2/", "get", "Server metadata (the protocol's spelling)", "ServerMetadata", (), (), None),
    ("/v2/health/live", "get", "Liveness", "Live", (), (), None),
    ("/v2/health/ready", "get", "Readiness: every model loaded", "Ready", (503,), (), None),
    ("/v2/models/{name}", "get", "Model metadata", "ModelMetadata", (404, 503), MODEL, None),
    (
        "/v2/models/{name}/versions/{version}",
        "get",
        "Model metadata",
        "ModelMetadata",
        (404, 503),
        VERSIONED,
        None,
    ),
    ("/v2/models/{name}/ready", "get", "Model readiness", "ModelReady", (404, 503), MODEL, None),
    (
        "/v2/models/{name}/versions/{version}/ready",
        "get",
        "Model readiness",
        "ModelReady",
        (404, 503),
        VERSIONED,
        None,
    ),
    (
        "/v2/models/{name}/infer",
        "post",
        "Run a model",
        "InferResponse",
        (400, 404, 408, 413, 415, 503),
        MODEL,
        "InferRequest",
    ),
    (
        "/v2/models/{name}/versions/{version}/infer",
        "post",
        "Run a model version",
        "InferResponse",
        (400, 404, 408, 413, 415, 503),
        VERSIONED,
        "InferRequest",
    ),
    (
        "/v2/repository/index",
        "post",
        "Every model file and its state",
        {"type": "array", "items": _ref("ModelStatus")},
        (400, 408, 413, 415),
        (),
        "IndexRequest",
    ),
    (
        "/v2/repository/models/{name}/load",
        "post",
        "Rescan the models folder now (bearer token if configured)",
        "ModelStatus",
        (400, 401, 404),
        MODEL,
        None,
    ),
    (
        "/v2/repository/models/{name}/unload",
        "post",
        "Refused (400, with the reason): remove the file from the folder instead",
        "ModelStatus",
        (400, 401, 404),
        MODEL,
        None,
    ),
    ("/v1/models", "get", "List models", "ModelList", (), (), None),
    *(
        route
        for prefix, params in (("/v1/models/{name}", MODEL),)
        + (("/v1/models/{name}/versions/{version}", VERSIONED),)
        for route in (
            (prefix, "get", "Model status (TF Serving)", "TFModelStatus", (404,), params, None),
            (
                f"{prefix}/metadata",
                "get",
                "Signature (TF Serving)",
                "TFMetadata",
                (404, 503),
                params,
                None,
            ),
            (
                f"{prefix}:predict",
                "post",
                "Predict (TF Serving)",
                "PredictResponse",
                (400, 404, 408, 413, 415, 503),
                params,
                "PredictRequest",
            ),
        )
    ),
    *(
        (f"/v1/models/{{name}}/labels/{{label}}{suffix}", method, summary, ANY_OBJECT, (404,))
        + (LABELLED, None)
        for suffix, method, summary in (
            ("", "get", "TF Serving version labels: none here (404)"),
            ("/metadata", "get", "TF Serving version labels: none here (404)"),
            (":predict", "post", "TF Serving version labels: none here (404)"),
        )
    ),
    ("/metrics", "get", "Prometheus metrics (text format)", STR, (501, 503), (), None),
    ("/openapi.json", "get", "This document", ANY_OBJECT, (), (), None),
]
BENCH_ROUTE = (
    "/bench/constant",
    "post",
    "Constant answer (benchmark ceiling)",
    ANY_OBJECT,
    (408, 413),
)


def _operation(
    summary: str,
    ok: Any,
    errors: tuple[int, ...],
    params: tuple[str, ...] = (),
    body: str | None = None,
    example: Any = None,
) -> dict[str, Any]:
    """One operation: its 200 answer, every error status as an Error, parameters and body."""
    schema = _ref(ok) if isinstance(ok, str) else ok
    if ok is STR:
        content = {"text/plain": {"schema": STR}}
    elif body in ("InferRequest", "PredictRequest"):
        content = {t: {"schema": schema} for t in BOTH}
    else:
        content = {JSON: {"schema": schema}}
    responses: dict[str, Any] = {"200": {"description": "OK", "content": content}}
    for code in (*errors, 405):
        error = _ref(ok) if code == 503 and ok in ("ModelReady", "Ready") else _ref("Error")
        responses[str(code)] = {"description": REASONS[code], "content": {JSON: {"schema": error}}}
    op: dict[str, Any] = {"summary": summary, "responses": responses}
    if params:
        op["parameters"] = [{"$ref": f"#/components/parameters/{p}"} for p in params]
    if body is not None:
        media: dict[str, Any] = {"schema": _ref(body)}
        if example is not None:
            media["example"] = example
        types = BOTH if body != "IndexRequest" else (JSON,)
        op["requestBody"] = {
            "required": body != "IndexRequest",
            "content": {t: media if t == JSON else {"schema": _ref(body)} for t in types},
        }
    return op


def document(state: ServeState) -> dict[str, Any]:
    """The OpenAPI 3.0 document for this server, with examples from the first served model."""
    ready = [e for e in state.registry.entries() if e.ready]
    name, examples = "iris", {}
    if ready:
        name, model = ready[0].name, ready[0].model
        tensor = input_tensors(model)[0]
        row = [0.0] * model.spec.n_inputs
        examples = {
            "InferRequest": {"inputs": [{**tensor, "shape": [1, len(row)], "data": [row]}]},
            "PredictRequest": {"instances": [row]},
        }
    name_schema = {"type": "string", "pattern": f"^{NAME_RE.pattern}$"}
    path_param = {"in": "path", "required": True, "schema": name_schema}
    parameters = {
        "name": {"name": "name", **path_param, "example": name},
        "version": {"name": "version", **path_param},
        "label": {"name": "label", **path_param},
    }
    routes = list(ROUTES)
    if state.config.bench_route:
        routes.append((*BENCH_ROUTE, (), None))
    paths: dict[str, Any] = {}
    for path, method, summary, ok, errors, params, body in routes:
        example = examples.get(body) if body else None
        op = _operation(summary, ok, errors, params, body, example)
        if 401 in errors:  # token-guarded: a bearer token when the server has one configured
            op["security"] = [{"bearer": []}, {}]
        paths.setdefault(path, {})[method] = op
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "nnfunc prediction service",
            "version": nnfunc.__version__,
            "description": "Open Inference Protocol (v2) and TF Serving REST (v1).",
        },
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "parameters": parameters,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
