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
    415: "Unsupported content type (use application/json or application/msgpack)",
    501: "prometheus-client is not installed",
    503: "Not ready: the model failed to load and has no servable version",
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
        datatype={"type": "string", "enum": sorted(DATATYPES)},
        data=NESTED_NUMBERS,
        parameters={"type": "object"},
    ),
    "InferRequest": _obj(
        ["inputs"],
        id=STR,
        parameters={"type": "object"},
        inputs={"type": "array", "items": _ref("InferInput"), "minItems": 1, "maxItems": 1},
        outputs={"type": "array", "items": _obj(["name"], name=STR, parameters={"type": "object"})},
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
        "properties": {"instances": {"type": "array"}, "inputs": {}, "signature_name": STR},
    },
    "PredictResponse": {
        "anyOf": [_obj(["predictions"], predictions={"type": "array"}), _obj(["outputs"])]
    },
}


def _responses(ok: str | None, *codes: int, ok_types: tuple[str, ...] = (JSON,)) -> dict:
    out: dict[str, Any] = {}
    if ok is not None:
        content = {t: {"schema": _ref(ok)} for t in ok_types}
        out["200"] = {"description": "OK", "content": content}
    for code in codes:
        error = {"description": REASONS[code], "content": {JSON: {"schema": _ref("Error")}}}
        if code == 503 and ok in ("ModelReady", "Ready"):
            error["content"][JSON]["schema"] = _ref(ok)
        out[str(code)] = error
    return out


def _op(
    summary: str,
    responses: dict,
    params: list[str] = (),
    body: str | None = None,
    example: Any = None,
) -> dict:
    op: dict[str, Any] = {"summary": summary, "responses": responses}
    if params:
        op["parameters"] = [{"$ref": f"#/components/parameters/{p}"} for p in params]
    if body is not None:
        media: dict[str, Any] = {"schema": _ref(body)}
        if example is not None:
            media["example"] = example
        op["requestBody"] = {
            "required": True,
            "content": {JSON: media, MSGPACK: {"schema": _ref(body)}},
        }
    return op


def document(state: ServeState) -> dict[str, Any]:
    """The OpenAPI 3.0 document for this server, with examples from the first served model."""
    ready = [e for e in state.registry.entries() if e.ready]
    name, infer_example, predict_example = "iris", None, None
    if ready:
        name, model = ready[0].name, ready[0].model
        tensor = input_tensors(model)[0]
        row = [0.0] * model.spec.n_inputs
        infer_example = {"inputs": [{**tensor, "shape": [1, len(row)], "data": [row]}]}
        predict_example = {"instances": [row]}
    name_schema = {"type": "string", "pattern": f"^{NAME_RE.pattern}$"}
    parameters = {
        "name": {
            "name": "name",
            "in": "path",
            "required": True,
            "schema": name_schema,
            "example": name,
        },
        "version": {"name": "version", "in": "path", "required": True, "schema": name_schema},
    }
    v = ("name", "version")
    infer = _op(
        "Run a model",
        _responses("InferResponse", 400, 404, 413, 415, 503, ok_types=(JSON, MSGPACK)),
        ("name",),
        "InferRequest",
        infer_example,
    )
    paths: dict[str, Any] = {
        "/v2": {"get": _op("Server metadata", _responses("ServerMetadata"))},
        "/v2/health/live": {"get": _op("Liveness", _responses("Live"))},
        "/v2/health/ready": {"get": _op("Readiness: every model loaded", _responses("Ready", 503))},
        "/v2/models/{name}": {
            "get": _op("Model metadata", _responses("ModelMetadata", 404, 503), ("name",))
        },
        "/v2/models/{name}/versions/{version}": {
            "get": _op("Model metadata", _responses("ModelMetadata", 404, 503), v)
        },
        "/v2/models/{name}/ready": {
            "get": _op("Model readiness", _responses("ModelReady", 404, 503), ("name",))
        },
        "/v2/models/{name}/versions/{version}/ready": {
            "get": _op("Model readiness", _responses("ModelReady", 404, 503), v)
        },
        "/v2/models/{name}/infer": {"post": infer},
        "/v2/models/{name}/versions/{version}/infer": {
            "post": {**infer, "parameters": [{"$ref": f"#/components/parameters/{p}"} for p in v]}
        },
        "/v2/repository/index": {
            "post": {
                "summary": "Every model file and its state",
                "responses": {
                    "200": {
                        "description": "OK",
                        "content": {
                            JSON: {"schema": {"type": "array", "items": _ref("ModelStatus")}}
                        },
                    },
                    **_responses(None, 400, 413, 415),
                },
                "requestBody": {
                    "required": False,
                    "content": {
                        JSON: {"schema": {"type": "object", "properties": {"ready": BOOL}}}
                    },
                },
            }
        },
        "/v2/repository/models/{name}/load": {
            "post": {
                **_op(
                    "Reload the models folder now",
                    _responses("ModelStatus", 400, 401, 404),
                    ("name",),
                ),
                "security": [{"bearer": []}, {}],
            }
        },
        "/v1/models": {"get": _op("List models (TF Serving style)", _responses("ModelList"))},
        "/v1/models/{name}": {
            "get": _op("Model status (TF Serving)", _responses("TFModelStatus", 404), ("name",))
        },
        "/v1/models/{name}/metadata": {
            "get": _op("Signature (TF Serving)", _responses("TFMetadata", 404, 503), ("name",))
        },
        "/v1/models/{name}:predict": {
            "post": _op(
                "Predict (TF Serving)",
                _responses("PredictResponse", 400, 404, 413, 415, 503, ok_types=(JSON, MSGPACK)),
                ("name",),
                "PredictRequest",
                predict_example,
            )
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "responses": {
                    "200": {"description": "OK", "content": {"text/plain": {"schema": STR}}},
                    **_responses(None, 501),
                },
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "responses": {
                    "200": {"description": "OK", "content": {JSON: {"schema": {"type": "object"}}}}
                },
            }
        },
    }
    if state.config.bench_route:
        paths["/bench/constant"] = {
            "post": {
                "summary": "Constant answer (benchmark ceiling)",
                "responses": {
                    "200": {"description": "OK", "content": {JSON: {"schema": {"type": "object"}}}},
                    **_responses(None, 413),
                },
            }
        }
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
