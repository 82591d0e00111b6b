"""The prediction service through Flask's test client: every route, every client error."""

from __future__ import annotations

import io
import json
import logging
import math

import msgpack
import numpy as np
import pytest

from nnfunc.datasets import Dataset, array_digest, load_dataset
from nnfunc.model import predict, predict_proba, predict_values
from nnfunc.pipeline import RECIPES, TrainConfig, train_model
from serve import ServeConfig, create_app

IRIS_ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]


@pytest.fixture(scope="module")
def iris():
    return train_model(load_dataset("iris"), RECIPES["iris"])


@pytest.fixture(scope="module")
def arithmetic():
    return train_model(load_dataset("arithmetic"), TrainConfig(hidden=(4,), epochs=3))


@pytest.fixture(scope="module")
def iris32():
    return train_model(load_dataset("iris"), TrainConfig(hidden=(6,), epochs=20, dtype="float32"))


@pytest.fixture(scope="module")
def input_named():
    """A regressor whose one feature is called `input`, like the v1 `{"input": rows}` shorthand."""
    X = np.linspace(-3.0, 3.0, 200).reshape(-1, 1)
    y = 2.0 * X + 1.0
    data = Dataset(X, y, ("input",), ("y",), "regress", "inputfeat", array_digest(X, y))
    return train_model(data, TrainConfig(hidden=(4,), epochs=5))


@pytest.fixture(scope="module")
def app(iris, arithmetic, iris32):
    config = ServeConfig(models_dir=None, poll_interval=0, max_rows=50, max_body_bytes=64 * 1024)
    return create_app(config, models={"iris": iris, "arith": arithmetic, "iris32": iris32})


@pytest.fixture
def client(app):
    return app.test_client()


def tensor(rows, **overrides):
    """An infer body with one 'input' tensor holding `rows`."""
    rows = np.asarray(rows, dtype=float)
    body = {"name": "input", "shape": list(rows.shape), "datatype": "FP64", "data": rows.tolist()}
    return {"inputs": [{**body, **overrides}]}


def outputs(response):
    return {o["name"]: o for o in response.get_json()["outputs"]}


def assert_error(response, status, *fragments):
    """A JSON error body with `status`, whose message contains every fragment."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert isinstance(body["error"], str)
    for fragment in fragments:
        assert fragment in body["error"], body["error"]
    return body


def test_server_metadata_and_health(client):
    assert client.get("/v2").get_json()["name"] == "nnfunc"
    assert client.get("/v2/health/live").get_json() == {"live": True}
    ready = client.get("/v2/health/ready")
    assert ready.status_code == 200 and ready.get_json()["ready"] is True


def test_classifier_metadata_names_inputs_outputs_labels_and_features(client, iris):
    meta = client.get("/v2/models/iris").get_json()
    assert meta["inputs"] == [{"name": "input", "datatype": "FP64", "shape": [-1, 4]}]
    assert meta["outputs"] == [
        {"name": "label", "datatype": "BYTES", "shape": [-1]},
        {"name": "probabilities", "datatype": "FP64", "shape": [-1, 3]},
    ]
    assert meta["parameters"]["class_labels"] == ["setosa", "versicolor", "virginica"]
    assert meta["parameters"]["feature_names"] == list(iris.feature_names)
    version = meta["versions"][0]
    assert client.get(f"/v2/models/iris/versions/{version}").status_code == 200
    assert_error(client.get("/v2/models/iris/versions/nope"), 404, "no version")


def test_regressor_and_float32_metadata(client):
    meta = client.get("/v2/models/arith").get_json()
    assert meta["outputs"] == [{"name": "values", "datatype": "FP64", "shape": [-1, 3]}]
    assert meta["parameters"]["target_names"] == ["sum", "difference", "absolute_difference"]
    meta32 = client.get("/v2/models/iris32").get_json()
    assert meta32["inputs"][0]["datatype"] == "FP32"


def test_model_ready_by_status_code(client):
    response = client.get("/v2/models/iris/ready")
    assert response.status_code == 200 and response.get_json()["ready"] is True
    assert_error(client.get("/v2/models/ghost/ready"), 404, "unknown model 'ghost'")


def test_infer_matches_the_library_and_echoes_id(client, iris):
    response = client.post("/v2/models/iris/infer", json={"id": "req-7", **tensor(IRIS_ROWS)})
    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == "req-7" and body["model_name"] == "iris"
    out = outputs(response)
    assert out["label"]["data"] == predict(iris, IRIS_ROWS).tolist()
    assert out["label"]["shape"] == [3]
    probabilities = np.array(out["probabilities"]["data"]).reshape(out["probabilities"]["shape"])
    np.testing.assert_array_equal(probabilities, predict_proba(iris, IRIS_ROWS))


def test_flat_and_nested_data_agree(client):
    flat = tensor(IRIS_ROWS, data=np.ravel(IRIS_ROWS).tolist())
    a = client.post("/v2/models/iris/infer", json=flat).get_json()["outputs"]
    b = client.post("/v2/models/iris/infer", json=tensor(IRIS_ROWS)).get_json()["outputs"]
    assert a == b


def test_requested_outputs_and_unknown_output(client):
    body = {**tensor(IRIS_ROWS), "outputs": [{"name": "probabilities"}]}
    response = client.post("/v2/models/iris/infer", json=body)
    assert list(outputs(response)) == ["probabilities"]
    body["outputs"] = [{"name": "logits"}]
    assert_error(client.post("/v2/models/iris/infer", json=body), 400, "logits", "available")


def test_regressor_answers_values_in_original_units(client, arithmetic):
    rows = [[0.5, 0.25], [3.0, -1.0]]
    out = outputs(client.post("/v2/models/arith/infer", json=tensor(rows)))["values"]
    assert out["shape"] == [2, 3]
    np.testing.assert_array_equal(np.reshape(out["data"], (2, 3)), predict_values(arithmetic, rows))


def test_float32_model_accepts_fp32_and_answers_fp32(client, iris32):
    response = client.post("/v2/models/iris32/infer", json=tensor(IRIS_ROWS, datatype="FP32"))
    out = outputs(response)["probabilities"]
    assert out["datatype"] == "FP32"
    expected = predict_proba(iris32, np.asarray(IRIS_ROWS, dtype=np.float32))
    np.testing.assert_array_equal(np.reshape(out["data"], (3, 3)), expected)


def test_msgpack_request_and_response(client, iris):
    payload = msgpack.packb(tensor(IRIS_ROWS))
    response = client.post(
        "/v2/models/iris/infer", data=payload, content_type="application/msgpack"
    )
    assert response.status_code == 200 and response.mimetype == "application/msgpack"
    body = msgpack.unpackb(response.data)
    assert body["outputs"][0]["data"] == predict(iris, IRIS_ROWS).tolist()


def test_msgpack_raw_bytes_tensor(client, iris):
    raw = np.asarray(IRIS_ROWS, dtype="<f4").tobytes()
    body = tensor(IRIS_ROWS, datatype="FP32", data=raw)
    response = client.post(
        "/v2/models/iris/infer", data=msgpack.packb(body), content_type="application/msgpack"
    )
    labels = msgpack.unpackb(response.data)["outputs"][0]["data"]
    assert labels == predict(iris, np.asarray(IRIS_ROWS, dtype=np.float32)).tolist()
    body["inputs"][0]["data"] = raw[:-1]
    short = client.post(
        "/v2/models/iris/infer", data=msgpack.packb(body), content_type="application/msgpack"
    )
    assert_error(short, 400, "47 bytes", "needs 48")


def test_accept_header_chooses_the_response_format(client):
    json_body = tensor(IRIS_ROWS)
    as_msgpack = client.post(
        "/v2/models/iris/infer", json=json_body, headers={"Accept": "application/msgpack"}
    )
    assert as_msgpack.mimetype == "application/msgpack"
    assert msgpack.unpackb(as_msgpack.data)["model_name"] == "iris"
    as_json = client.post(
        "/v2/models/iris/infer",
        data=msgpack.packb(json_body),
        content_type="application/msgpack",
        headers={"Accept": "application/json"},
    )
    assert as_json.get_json()["model_name"] == "iris"


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        ([1, 2], ["object"]),
        ({"inputs": []}, ["exactly one"]),
        ({"inputs": tensor(IRIS_ROWS)["inputs"] * 2}, ["exactly one", "got 2"]),
        ({"id": 5, **tensor(IRIS_ROWS)}, ["id must be a string"]),
        (tensor(IRIS_ROWS, name="x"), ["unknown input 'x'", "'input'"]),
        (tensor(IRIS_ROWS, datatype="BYTES"), ["BYTES is not supported"]),
        (tensor(IRIS_ROWS, datatype="FP128"), ["unknown datatype"]),
        (tensor([[1.0, 2.0, 3.0]]), ["expected [n, 4]", "got [1, 3]"]),
        (tensor(IRIS_ROWS, shape=[12]), ["expected [n, 4]", "got [12]"]),
        (tensor(IRIS_ROWS, shape=[2, 4], data=np.ravel(IRIS_ROWS).tolist()), ["12 values"]),
        (tensor(IRIS_ROWS, shape=[2, 4]), ["nested", "expected [2, 4], got [3, 4]"]),
        # Nested data is read as nested, never reshaped: 4 rows of 2 are not 2 rows of 4.
        (tensor(np.reshape(IRIS_ROWS[:2], (4, 2)), shape=[2, 4]), ["expected [2, 4], got [4, 2]"]),
        (tensor([IRIS_ROWS[0]], data=[[[IRIS_ROWS[0]]]]), ["expected [1, 4], got [1, 1, 1, 4]"]),
        (tensor(IRIS_ROWS, shape=[3, -4]), ["non-negative integers"]),
        (tensor(IRIS_ROWS, data=[[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3]]), ["ragged"]),
        (tensor(IRIS_ROWS, data=[[1, 2, 3, "4"]] * 3), ["non-numeric value '4' at [0][3]"]),
        (tensor(IRIS_ROWS, data=[[1, 2, 3, True]] * 3), ["non-numeric value true at [0][3]"]),
        (tensor(IRIS_ROWS, data=[[1, 2, 3, None]] * 3), ["non-numeric value null"]),
        (tensor(IRIS_ROWS, data="1,2,3,4"), ["array of numbers"]),
        (tensor(IRIS_ROWS, data=[[1, 2, 3, 10**400]] * 3), ["too large for float64"]),
        (tensor(np.zeros((0, 4))), ["empty batch"]),
        (
            tensor(IRIS_ROWS, datatype="INT32"),
            ["value 5.1 at [0][0] is not a whole number", "INT32"],
        ),
        # at the 64-bit edges float64 cannot tell 2**63 from 2**63 - 1: checked as sent
        (
            tensor([[1, 2, 3, 4]], datatype="INT64", data=[1, 2, 3, 2**63]),
            ["value 9223372036854775808 at [3]", "INT64"],
        ),
        (
            tensor([[1, 2, 3, 4]], datatype="INT64", data=[-(2**63) - 1, 2, 3, 4]),
            ["value -9223372036854775809 at [0]", "INT64"],
        ),
        (
            tensor([[1, 2, 3, 4]], datatype="UINT64", data=[1, 2**64, 3, 4]),
            ["value 18446744073709551616 at [1]", "UINT64"],
        ),
        (
            tensor([[1000, -3, 1, 0]], datatype="INT8"),
            ["value 1000 at [0][0]", "INT8 (-128 to 127)"],
        ),
        (tensor([[-5, 3, 1, 0]], datatype="UINT8"), ["value -5 at [0][0]", "UINT8 (0 to 255)"]),
        (
            tensor([[1, 2, 3, 4], [1, 2, 70000, 4]], datatype="UINT16"),
            ["value 70000 at [1][2]", "UINT16 (0 to 65535)"],
        ),
        (
            tensor([[1, 2, 3, 4]], datatype="INT64", data=[1, 2, 3, 1e300]),
            ["value 1e+300 at [3]", "INT64"],
        ),
        (tensor([[1.7e308] * 4]), ["out of range"]),
        # a value its declared float type cannot hold is invalid data, not a big number
        (tensor([[1.0, 1e39, 1.0, 1.0]], datatype="FP32"), ["value 1e+39 at [0][1]", "FP32"]),
        (tensor([[1.0, 1.0, 7e4, 1.0]], datatype="FP16"), ["value 70000 at [0][2]", "FP16"]),
    ],
)
def test_infer_client_errors_are_precise_400s(client, body, fragments):
    assert_error(client.post("/v2/models/iris/infer", json=body), 400, *fragments)


def test_integer_datatypes_take_whole_values_within_their_range(client):
    rows = [[-128, 0, 1, 127], [5, 3, 1, 0]]
    as_int8 = client.post("/v2/models/iris/infer", json=tensor(rows, datatype="INT8"))
    as_fp64 = client.post("/v2/models/iris/infer", json=tensor(rows))
    assert as_int8.status_code == 200
    assert outputs(as_int8) == outputs(as_fp64)
    unsigned = client.post(
        "/v2/models/iris/infer", json=tensor([[0, 255, 0, 255]], datatype="UINT8")
    )
    assert unsigned.status_code == 200


def test_infinite_values_are_refused(client):
    too_big = b'{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP64","data":[1,2,3,1e400]}]}'
    response = client.post("/v2/models/iris/infer", data=too_big, content_type="application/json")
    assert_error(response, 400, "non-finite", "row 0, column 3")
    nan = msgpack.packb(tensor([[1.0, math.nan, 3.0, 4.0]]))
    response = client.post("/v2/models/iris/infer", data=nan, content_type="application/msgpack")
    assert_error(response, 400, "non-finite", "column 1")
    overflow32 = client.post("/v2/models/iris32/infer", json=tensor([[1e39, 1.0, 1.0, 1.0]]))
    assert_error(overflow32, 400, "non-finite")


@pytest.mark.parametrize(
    ("data", "content_type", "fragment"),
    [
        (b"{not json", "application/json", "invalid JSON"),
        (b'{"inputs": NaN}', "application/json", "NaN is not valid JSON"),
        (b"\xff\xfe\x00", "application/json", "invalid JSON"),
        (b"", "application/json", "empty"),
        (b"[" * 5000 + b"]" * 5000, "application/json", "nested"),
        (b"\xc1", "application/msgpack", "msgpack"),
        (b"\xd4\x01\x00", "application/msgpack", "extension type 1"),
    ],
)
def test_malformed_bodies_are_400(client, data, content_type, fragment):
    response = client.post("/v2/models/iris/infer", data=data, content_type=content_type)
    assert_error(response, 400, fragment)


def chunked(client, body: bytes, path: str = "/v2/models/iris/infer"):
    """POST `body` without a Content-Length, as gunicorn and Werkzeug pass on a chunked body:
    dechunked, and ended by the server (`wsgi.input_terminated`)."""
    return client.post(
        path,
        input_stream=io.BytesIO(body),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )


def padded(size: int) -> bytes:
    """A valid infer body of exactly `size` bytes (padded with an ignored field)."""
    body = json.dumps({**tensor(IRIS_ROWS), "pad": ""}).encode()
    return body[:-2] + b"x" * (size - len(body)) + body[-2:]


def test_chunked_bodies_over_the_limit_are_413_not_cut_at_the_limit(client):
    limit = 64 * 1024
    assert chunked(client, padded(limit)).status_code == 200  # exactly the limit is fine
    body = assert_error(chunked(client, padded(limit + 1)), 413, "too large")
    assert body["max_bytes"] == limit
    assert_error(chunked(client, padded(3 * limit)), 413, "too large")


def test_a_body_the_server_cannot_read_is_a_400_not_a_500(client):
    errors = pytest.importorskip("gunicorn.http.errors")

    class BrokenChunks(io.BytesIO):
        """What gunicorn's body reader does on a bad chunk size (not an OSError)."""

        def read(self, size=-1):
            raise errors.InvalidChunkSize(b"ZZ")

        readinto = read

    response = chunked(client, b"")
    assert_error(response, 400, "empty")
    response = client.post(
        "/v2/models/iris/infer",
        input_stream=BrokenChunks(),
        content_type="application/json",
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert_error(response, 400, "malformed body", "Invalid chunk size")


def test_limits_rows_and_body_size_are_413(client):
    rows = np.ones((51, 4))
    body = assert_error(
        client.post("/v2/models/iris/infer", json=tensor(rows)), 413, "51 > limit 50"
    )
    assert body["max_rows"] == 50
    big = {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64", "data": [1] * 40000}]}
    assert_error(client.post("/v2/models/iris/infer", json=big), 413, "too large")
    many = {"instances": np.ones((51, 4)).tolist()}
    assert_error(client.post("/v1/models/iris:predict", json=many), 413, "51 > limit 50")


def test_unknown_model_method_and_content_type(client):
    assert_error(client.post("/v2/models/ghost/infer", json=tensor(IRIS_ROWS)), 404, "ghost")
    assert_error(client.get("/v2/models/bad%20name"), 404, "no such route")
    wrong_method = assert_error(client.get("/v2/models/iris/infer"), 405)
    assert wrong_method is not None
    assert "POST" in client.get("/v2/models/iris/infer").headers["Allow"]
    assert_error(client.delete("/v2/models/iris"), 405)
    form = client.post("/v2/models/iris/infer", data="a=1", content_type="text/plain")
    assert_error(form, 415, "text/plain", "application/json")


def test_v1_instances_as_rows_and_as_objects(client, iris):
    named = [dict(zip(iris.feature_names, row)) for row in IRIS_ROWS]
    by_row = client.post("/v1/models/iris:predict", json={"instances": IRIS_ROWS}).get_json()
    by_name = client.post("/v1/models/iris:predict", json={"instances": named}).get_json()
    assert by_row == by_name
    predictions = by_row["predictions"]
    assert [p["label"] for p in predictions] == predict(iris, IRIS_ROWS).tolist()
    np.testing.assert_array_equal(
        [p["probabilities"] for p in predictions], predict_proba(iris, IRIS_ROWS)
    )


def test_v1_columnar_inputs_answer_outputs(client, iris, arithmetic):
    columns = dict(zip(iris.feature_names, np.transpose(IRIS_ROWS).tolist()))
    body = client.post("/v1/models/iris:predict", json={"inputs": columns}).get_json()
    assert body["outputs"]["label"] == predict(iris, IRIS_ROWS).tolist()
    rows = [[1.0, 2.0]]
    values = client.post("/v1/models/arith:predict", json={"inputs": {"input": rows}}).get_json()
    np.testing.assert_array_equal(values["outputs"], predict_values(arithmetic, rows))
    by_row = client.post("/v1/models/arith:predict", json={"instances": rows}).get_json()
    np.testing.assert_array_equal(by_row["predictions"], predict_values(arithmetic, rows))


def test_v1_objects_keyed_by_a_feature_called_input_are_read_by_name(input_named):
    app = create_app(
        ServeConfig(models_dir=None, poll_interval=0), models={"inputfeat": input_named}
    )
    client = app.test_client()
    expected = predict_values(input_named, [[0.5], [2.0]]).tolist()
    by_name = {"instances": [{"input": 0.5}, {"input": 2}]}
    assert client.post("/v1/models/inputfeat:predict", json=by_name).get_json() == {
        "predictions": expected
    }
    columns = {"inputs": {"input": [0.5, 2]}}
    assert client.post("/v1/models/inputfeat:predict", json=columns).get_json() == {
        "outputs": expected
    }
    rows = {"instances": [[0.5], [2]]}
    assert client.post("/v1/models/inputfeat:predict", json=rows).get_json() == {
        "predictions": expected
    }


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        ({}, ["either 'instances' or 'inputs'"]),
        ({"instances": [[1, 2, 3, 4]], "inputs": [[1, 2, 3, 4]]}, ["either"]),
        ({"instances": []}, ["empty batch"]),
        ({"instances": "rows"}, ["list of rows"]),
        ({"instances": [1, 2, 3, 4]}, ["expected [n, 4]", "got [4]"]),
        ({"instances": [[1, 2, 3]]}, ["expected [n, 4]", "got [1, 3]"]),
        ({"instances": [{"sepal_length": 1}]}, ["instance 0", "missing feature(s)", "petal_width"]),
        ({"instances": [[1, 2, 3, 4], {"a": 1}]}, ["mix"]),
        ({"inputs": {"sepal_length": [1.0]}}, ["one column per feature"]),
        ({"instances": [[1, 2, 3, math.inf]]}, ["non-finite"]),
    ],
)
def test_v1_client_errors(client, body, fragments):
    data = msgpack.packb(body)  # msgpack carries infinity, which JSON cannot
    response = client.post("/v1/models/iris:predict", data=data, content_type="application/msgpack")
    assert_error(response, 400, *fragments)


def test_v1_listing_status_and_metadata(client):
    listing = client.get("/v1/models").get_json()["models"]
    assert [m["name"] for m in listing] == ["arith", "iris", "iris32"]
    assert all(m["state"] == "READY" for m in listing)
    status = client.get("/v1/models/iris").get_json()["model_version_status"][0]
    assert status["state"] == "AVAILABLE" and status["status"]["error_code"] == "OK"
    signature = client.get("/v1/models/iris/metadata").get_json()["metadata"]["signature_def"]
    inputs = signature["signature_def"]["serving_default"]["inputs"]["input"]
    assert inputs["dtype"] == "DT_DOUBLE"
    assert [d["size"] for d in inputs["tensor_shape"]["dim"]] == ["-1", "4"]
    assert_error(client.get("/v1/models/ghost"), 404)
    assert_error(client.get("/v1/models/iris:predict"), 405)


def test_repository_index(client):
    index = client.post("/v2/repository/index").get_json()
    assert [m["name"] for m in index] == ["arith", "iris", "iris32"]
    assert client.post("/v2/repository/index", json={"ready": True}).get_json() == index
    assert_error(client.post("/v2/repository/index", json={"ready": "yes"}), 400)


def test_load_needs_the_bearer_token_when_one_is_set(iris):
    app = create_app(
        ServeConfig(models_dir=None, poll_interval=0, token="s3cret"), models={"iris": iris}
    )
    client = app.test_client()
    refused = client.post("/v2/repository/models/iris/load")
    assert_error(refused, 401, "Bearer")
    assert refused.headers["WWW-Authenticate"] == "Bearer"
    wrong = client.post("/v2/repository/models/iris/load", headers={"Authorization": "Bearer nope"})
    assert_error(wrong, 401)
    ok = client.post("/v2/repository/models/iris/load", headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200 and ok.get_json()["state"] == "READY"
    # Reading needs no token.
    assert client.get("/v2/models/iris").status_code == 200


@pytest.mark.parametrize(
    ("configured", "sent"), [("abc\n", b"abc"), ("s\u00e9cret", "s\u00e9cret".encode())]
)
def test_a_token_from_a_file_or_with_accents_can_be_matched(iris, configured, sent):
    # a trailing newline in the configured secret, or a UTF-8 header, made every request a 401
    app = create_app(
        ServeConfig(models_dir=None, poll_interval=0, token=configured), models={"iris": iris}
    )
    header = b"Bearer " + sent  # as the client's bytes reach the server
    ok = app.test_client().post(
        "/v2/repository/models/iris/load", headers={"Authorization": header.decode("latin-1")}
    )
    assert ok.status_code == 200
    with pytest.raises(ValueError, match="printable text without spaces"):
        ServeConfig(token=" \n")


def test_odd_requests_get_4xx_not_500(client):
    body = tensor(IRIS_ROWS)
    # a lone surrogate in the id could not be encoded into a msgpack answer: a 500
    lone = '{"id": "\\ud800", "inputs": ' + json.dumps(body["inputs"]) + "}"
    response = client.post(
        "/v2/models/iris/infer",
        data=lone,
        content_type="application/json",
        headers={"Accept": "application/msgpack"},
    )
    assert_error(response, 400, "lone surrogate")
    gzip = client.post("/v2/models/iris/infer", json=body, headers={"Content-Encoding": "gzip"})
    assert_error(gzip, 415, "content coding 'gzip' is not supported")
    assert gzip.headers["Accept-Encoding"] == "identity"  # RFC 9110: what the server takes
    v1 = {"instances": IRIS_ROWS, "signature_name": "nonexistent"}
    assert_error(client.post("/v1/models/iris:predict", json=v1), 400, "unknown signature_name")
    v1["signature_name"] = "serving_default"
    assert client.post("/v1/models/iris:predict", json=v1).status_code == 200


def test_metrics_count_requests_errors_and_latency_per_model(iris):
    app = create_app(ServeConfig(models_dir=None, poll_interval=0), models={"iris": iris})
    client = app.test_client()
    for _ in range(3):
        client.post("/v2/models/iris/infer", json=tensor(IRIS_ROWS))
    client.post("/v2/models/iris/infer", json=tensor([[1.0]]))
    client.get("/v2/models/no-such-model")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'nnfunc_requests_total{endpoint="v2.infer",model="iris"} 4.0' in text
    assert 'nnfunc_request_errors_total{endpoint="v2.infer",model="iris",status="400"} 1.0' in text
    assert 'nnfunc_request_duration_seconds_count{endpoint="v2.infer",model="iris"} 4.0' in text
    # Names that are not models never become label values (no unbounded label sets).
    assert "no-such-model" not in text


def test_unexpected_errors_are_a_json_500_without_internals(iris, monkeypatch):
    app = create_app(ServeConfig(models_dir=None, poll_interval=0), models={"iris": iris})

    def explode(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr("serve.v2.compute_outputs", explode)
    response = app.test_client().post("/v2/models/iris/infer", json=tensor(IRIS_ROWS))
    assert response.status_code == 500
    assert response.get_json() == {"error": "internal server error"}
    assert app.test_client().get("/v2/health/live").status_code == 200


def test_openapi_documents_every_route(app, client):
    document = client.get("/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    documented = {
        (path, method.upper()) for path, item in document["paths"].items() for method in item
    }
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = rule.rule.replace("<model:name>", "{name}").replace("<model:version>", "{version}")
        path = path.replace("<model:label>", "{label}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented, (path, method)
    # The examples name a model being served, with a row of the right width.
    example = document["paths"]["/v2/models/{name}/infer"]["post"]["requestBody"]
    row = example["content"]["application/json"]["example"]["inputs"][0]["data"][0]
    assert len(row) == 2  # the first model by name is 'arith', two features


def test_error_bodies_are_json_not_html(client):
    for response in (client.get("/nope"), client.put("/v2"), client.get("/v2/")):
        assert response.mimetype == "application/json"
        assert "<" not in response.get_data(as_text=True)
    # Doubled slashes are no route: a JSON 404, not werkzeug's HTML 308 redirect.
    for path in ("/v2//models/iris/infer", "//v2/models/iris/infer", "/v1//models/iris:predict"):
        assert_error(client.post(path, json=tensor(IRIS_ROWS)), 404, "no such route")
    assert_error(client.get("/v2/models//iris"), 404, "no such route")
    body = json.loads(client.get("/nope").get_data())
    assert set(body) == {"error"}


def test_config_from_environment():
    env = {
        "NNFUNC_MODELS_DIR": "/srv/models",
        "NNFUNC_SERVE_MAX_ROWS": "7",
        "NNFUNC_SERVE_TOKEN": "t",
        "NNFUNC_SERVE_BENCH": "1",
    }
    config = ServeConfig.from_env(env, max_rows=None, poll_interval=2.0)
    assert (config.models_dir, config.max_rows, config.token) == ("/srv/models", 7, "t")
    assert config.bench_route and config.poll_interval == 2.0
    assert ServeConfig.from_env({}).models_dir == "models"
    with pytest.raises(ValueError, match="NNFUNC_SERVE_MAX_ROWS must be an integer"):
        ServeConfig.from_env({"NNFUNC_SERVE_MAX_ROWS": "lots"})
    with pytest.raises(ValueError, match="max_rows must be positive"):
        ServeConfig(max_rows=0)


def test_the_benchmark_ceiling_route_exists_only_when_enabled(iris):
    base = {"models_dir": None, "poll_interval": 0}
    off = create_app(ServeConfig(**base), models={"iris": iris}).test_client()
    assert off.post("/bench/constant", data=b"{}").status_code == 404
    on = create_app(ServeConfig(**base, bench_route=True), models={"iris": iris}).test_client()
    assert on.post("/bench/constant", data=b"{}").get_json()["model_name"] == "constant"
    assert "/bench/constant" in on.get("/openapi.json").get_json()["paths"]


def test_true_false_class_labels_are_declared_bool(tmp_path):
    from nnfunc.datasets import Dataset, load_dataset
    from nnfunc.modelfile import save_model
    from nnfunc.pipeline import RECIPES, train_model

    xor = load_dataset("xor")
    as_bool = Dataset(xor.X, xor.y.astype(bool), xor.feature_names, xor.target_names, "classify",
                      "xorb", xor.sha256)  # fmt: skip
    save_model(train_model(as_bool, RECIPES["xor"]), tmp_path / "xorb.msgpack")
    client = create_app(ServeConfig(models_dir=str(tmp_path))).test_client()
    assert client.get("/v2/models/xorb").get_json()["outputs"][0]["datatype"] == "BOOL"
    body = {
        "inputs": [{"name": "input", "shape": [2, 2], "datatype": "FP64", "data": [0, 1, 1, 1]}]
    }
    label = client.post("/v2/models/xorb/infer", json=body).get_json()["outputs"][0]
    assert label["datatype"] == "BOOL" and label["data"] == [True, False]
    signature = client.get("/v1/models/xorb/metadata").get_json()["metadata"]["signature_def"]
    assert signature["signature_def"]["serving_default"]["outputs"]["label"]["dtype"] == "DT_BOOL"


def test_a_chunked_repository_index_body_is_read(client):
    # it was read only with a Content-Length: a chunked filter was ignored, a bad one accepted
    assert_error(chunked(client, b'{"ready": "yes"}', "/v2/repository/index"), 400, "ready")
    listed = chunked(client, b'{"ready": true}', "/v2/repository/index")
    assert listed.status_code == 200 and all(m["state"] == "READY" for m in listed.get_json())


# --- what existing clients send: curl -d, Triton's binary tensors, nulls, TF Serving versions ----


def test_a_curl_form_typed_json_body_is_read_as_json_by_tf_serving_predict(client, iris):
    # `curl -d` labels its body application/x-www-form-urlencoded; TF Serving's own examples do
    body = json.dumps({"instances": IRIS_ROWS})
    typed = "application/x-www-form-urlencoded"
    v1 = client.post("/v1/models/iris:predict", data=body, content_type=typed)
    assert [p["label"] for p in v1.get_json()["predictions"]] == list(predict(iris, IRIS_ROWS))
    # only there: a web page can send a form-typed body anywhere without a CORS preflight
    v2_body = json.dumps(tensor(IRIS_ROWS))
    v2 = client.post("/v2/models/iris/infer", data=v2_body, content_type=typed)
    assert_error(v2, 415, "x-www-form-urlencoded")
    form = client.post("/v1/models/iris:predict", data="a=1", content_type=typed)
    assert_error(form, 400, "invalid JSON")


def binary_request(rows, dtype="<f4", datatype="FP32", extra=b"", **input_fields):
    """A body in Triton's binary tensor extension: JSON header, then the rows' raw bytes."""
    raw = np.asarray(rows, dtype=dtype).tobytes()
    meta = {"name": "input", "shape": list(np.shape(rows)), "datatype": datatype}
    meta["parameters"] = {"binary_data_size": len(raw)}
    header = json.dumps({"inputs": [{**meta, **input_fields}], "outputs": [{"name": "label"}]})
    head = header.encode()
    return head + raw + extra, {"Inference-Header-Content-Length": str(len(head))}


@pytest.mark.parametrize("content_type", ["application/octet-stream", "application/json"])
def test_triton_binary_tensor_inputs_are_read(client, iris, content_type):
    body, headers = binary_request(IRIS_ROWS)
    answer = client.post(
        "/v2/models/iris/infer", data=body, headers=headers, content_type=content_type
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert outputs(answer)["label"]["data"] == list(predict(iris, IRIS_ROWS))
    body, headers = binary_request(IRIS_ROWS, dtype="<i8", datatype="INT64")
    assert client.post("/v2/models/iris/infer", data=body, headers=headers).status_code == 200


def test_triton_binary_tensor_errors_are_400s(client):
    def post(body, headers):
        return client.post("/v2/models/iris/infer", data=body, headers=headers)

    body, headers = binary_request(IRIS_ROWS, extra=b"\0\0\0\0")
    assert_error(post(body, headers), 400, "add up to 48 bytes", "52 follow")
    body, headers = binary_request(IRIS_ROWS)
    assert_error(post(body[:-4], headers), 400, "add up to 48 bytes", "44 follow")
    assert_error(post(body, {"Inference-Header-Content-Length": "9999"}), 400, "at most")
    assert_error(post(body, {"Inference-Header-Content-Length": "-3"}), 400, "length of the JSON")
    for odd in ("\u00b2", "9" * 5000):  # isdigit() took the first, int() refuses 5000 digits: 500s
        refused = post(body, {"Inference-Header-Content-Length": odd})
        assert_error(refused, 400, "length of the JSON")
    msgpack_typed = client.post(
        "/v2/models/iris/infer", data=body, headers=headers, content_type="application/msgpack"
    )
    assert_error(msgpack_typed, 415, "JSON header")
    body, headers = binary_request(IRIS_ROWS, data=[1.0])
    assert_error(post(body, headers), 400, "either data or binary_data_size")
    body, headers = binary_request(IRIS_ROWS, datatype="FP64")  # 48 bytes, FP64 needs 96
    assert_error(post(body, headers), 400, "raw data has 48 bytes")


def test_binary_data_size_without_the_header_is_named(client):
    # with data it was silently ignored (200); without data the 400 blamed the data
    body = tensor(IRIS_ROWS)
    body["inputs"][0]["parameters"] = {"binary_data_size": 96}
    answer = client.post("/v2/models/iris/infer", json=body)
    assert_error(answer, 400, "needs the binary extension's Inference-Header-Content-Length")
    del body["inputs"][0]["data"]
    assert_error(client.post("/v2/models/iris/infer", json=body), 400, "Inference-Header")


def test_null_optional_fields_count_as_absent(client, iris):
    body = tensor(IRIS_ROWS)
    body["inputs"][0]["parameters"] = None
    nulls = {**body, "id": None, "parameters": None, "outputs": None}
    answer = client.post("/v2/models/iris/infer", json=nulls)
    assert answer.status_code == 200 and "id" not in answer.get_json()
    assert set(outputs(answer)) == {"label", "probabilities"}
    picked = {**body, "outputs": [{"name": "label", "parameters": None}]}
    assert set(outputs(client.post("/v2/models/iris/infer", json=picked))) == {"label"}
    v1 = {"instances": IRIS_ROWS, "signature_name": None}
    assert client.post("/v1/models/iris:predict", json=v1).status_code == 200
    assert_error(client.post("/v2/models/iris/infer", json={**body, "id": 3}), 400, "id must")


def test_the_classification_extension_is_refused_not_ignored(client):
    asked = {**tensor(IRIS_ROWS), "outputs": [{"name": "probabilities"}]}
    asked["outputs"][0]["parameters"] = {"classification": 2}
    assert_error(client.post("/v2/models/iris/infer", json=asked), 400, "classification")
    asked["outputs"][0]["parameters"] = {"binary_data": True}  # answered as JSON
    assert client.post("/v2/models/iris/infer", json=asked).status_code == 200


def test_server_metadata_with_a_trailing_slash(client):
    assert client.get("/v2/").get_json() == client.get("/v2").get_json()


def test_unload_is_refused_with_the_reason(iris):
    config = ServeConfig(models_dir=None, poll_interval=0, token="t")
    app = create_app(config, models={"iris": iris})
    client = app.test_client()
    assert_error(client.post("/v2/repository/models/iris/unload"), 401)
    auth = {"Authorization": "Bearer t"}
    refused = client.post("/v2/repository/models/iris/unload", headers=auth)
    assert_error(refused, 400, "unloading is not supported", "models are fixed")  # in memory
    assert_error(client.post("/v2/repository/models/ghost/unload", headers=auth), 404)
    assert client.post("/v2/models/iris/infer", json=tensor(IRIS_ROWS)).status_code == 200


def test_tf_serving_versions_are_int64_numbers_with_version_routes(client, iris):
    status = client.get("/v1/models/iris").get_json()["model_version_status"][0]
    v2_version = client.get("/v2/models/iris").get_json()["versions"][0]
    number = status["version"]
    assert number.isdigit() and int(number) < 2**63 and number == str(int(v2_version[:15], 16))
    spec = client.get("/v1/models/iris/metadata").get_json()["model_spec"]
    assert spec["version"] == number
    for spelling in (number, v2_version):
        base = f"/v1/models/iris/versions/{spelling}"
        assert client.get(base).get_json()["model_version_status"][0]["version"] == number
        assert client.get(f"{base}/metadata").get_json()["model_spec"]["version"] == number
        answer = client.post(f"{base}:predict", json={"instances": IRIS_ROWS}).get_json()
        assert [p["label"] for p in answer["predictions"]] == list(predict(iris, IRIS_ROWS))
    assert_error(client.get("/v1/models/iris/versions/7"), 404, "no version '7'", number)
    body = {"instances": IRIS_ROWS}
    assert_error(client.post("/v1/models/iris/versions/7:predict", json=body), 404)
    assert_error(client.get("/v1/models/iris/labels/stable"), 404, "no version labels")
    assert_error(client.post("/v1/models/iris/labels/stable:predict", json=body), 404, "labels")
    assert_error(client.get("/v1/models/ghost/labels/stable"), 404, "unknown model")


def test_options_answers_204_with_the_allowed_methods(client):
    # Flask's automatic answer was an empty 200 labelled text/html
    answer = client.options("/v2/models/iris/infer")
    assert answer.status_code == 204 and answer.data == b""
    assert "POST" in answer.headers["Allow"] and "Content-Type" not in answer.headers


def test_an_input_without_a_shape_is_named_so(client):
    body = tensor(IRIS_ROWS)
    del body["inputs"][0]["shape"]
    assert_error(client.post("/v2/models/iris/infer", json=body), 400, "the input has no 'shape'")


def test_a_doubled_leading_slash_is_no_route(client):
    # werkzeug strips the first slash of //v2/models/iris and matched it (curl --path-as-is)
    doubled = client.get("/", environ_overrides={"PATH_INFO": "//v2/models/iris"})
    assert_error(doubled, 404, "no such route")
    assert client.get("/", environ_overrides={"PATH_INFO": "/v2/models/iris"}).status_code == 200


def test_error_bodies_quote_client_values_briefly(iris):
    # A 100,000-dimension shape answered a 500 KB error and a 3 MB output name a 3 MB one.
    config = ServeConfig(models_dir=None, poll_interval=0, max_body_bytes=8 * 1024 * 1024)
    client = create_app(config, models={"iris": iris}).test_client()
    long = "x" * 3_000_000
    cases = [
        (tensor(IRIS_ROWS, shape=[1] * 100_000), "wrong shape"),
        (tensor(IRIS_ROWS, shape="z" * 100_000), "input shape must be"),
        ({**tensor(IRIS_ROWS), "outputs": [{"name": long}]}, "unknown output(s) 'xxx"),
        (tensor(IRIS_ROWS, name=long), "unknown input 'xxx"),
        (tensor(IRIS_ROWS, datatype=long), "unknown datatype 'xxx"),
        (tensor(IRIS_ROWS[:1], data=[[long, 1, 2, 3]]), "non-numeric value 'xxx"),
    ]
    for body, fragment in cases:
        answer = assert_error(client.post("/v2/models/iris/infer", json=body), 400, fragment)
        assert "..." in answer["error"] and len(json.dumps(answer)) < 300, answer
    assert "got" not in assert_error(client.post("/v2/models/iris/infer", json=cases[0][0]), 400)
    kind = "application/" + "y" * 100_000
    response = client.post("/v2/models/iris/infer", data=b"{}", content_type=kind)
    assert len(assert_error(response, 415, "unsupported content type")["error"]) < 200
    assert len(client.get("/v2/models/" + "m" * 128).get_data()) < 300


@pytest.mark.parametrize("server", ["werkzeug", "gunicorn"])
def test_a_body_shorter_than_its_content_length_is_the_same_400_under_both_servers(client, server):
    # gunicorn ends the stream itself (wsgi.input_terminated) and took the short body as whole
    data = json.dumps(tensor(IRIS_ROWS)).encode()
    response = client.post(
        "/v2/models/iris/infer",
        input_stream=io.BytesIO(data),
        content_type="application/json",
        environ_overrides={
            "CONTENT_LENGTH": str(len(data) + 10),
            **({"wsgi.input_terminated": True} if server == "gunicorn" else {}),
        },
    )
    message = f"it ended after {len(data)} of the {len(data) + 10} bytes its Content-Length"
    assert_error(response, 400, f"malformed body: {message}")


def test_metrics_that_cannot_be_recorded_are_logged_once_and_cost_no_request(
    iris, monkeypatch, tmp_path, caplog
):
    app = create_app(ServeConfig(models_dir=None, poll_interval=0), models={"iris": iris})
    client = app.test_client()
    metrics = app.extensions["nnfunc"].metrics

    def removed(*labels):  # what prometheus-client raises when its folder was removed
        raise FileNotFoundError(2, "No such file or directory", str(tmp_path / "counter_1.db"))

    monkeypatch.setattr(metrics.requests, "labels", removed)
    with caplog.at_level(logging.ERROR, logger="serve"):
        for _ in range(3):
            assert client.post("/v2/models/iris/infer", json=tensor(IRIS_ROWS)).status_code == 200
    logged = [r.getMessage() for r in caplog.records if "cannot record metrics" in r.getMessage()]
    assert logged == [
        "cannot record metrics (requests are still served): No such file or directory: "
        f"{tmp_path / 'counter_1.db'}"
    ]
    monkeypatch.setattr(metrics, "multiprocess", True)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "gone"))
    assert_error(client.get("/metrics"), 503, "metrics are unavailable")


def test_a_failing_after_request_hook_or_error_handler_is_the_documented_json_500(
    iris, monkeypatch
):
    app = create_app(ServeConfig(models_dir=None, poll_interval=0), models={"iris": iris})

    @app.after_request
    def broken(response):
        raise RuntimeError("secret internal detail")

    response = app.test_client().get("/v2/health/live")
    assert response.status_code == 500
    assert response.get_json() == {"error": "internal server error"}
    # Even an error handler that fails answers JSON, not the server's HTML page.
    app = create_app(ServeConfig(models_dir=None, poll_interval=0), models={"iris": iris})

    def fails(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr("serve.errors.error_response", fails)
    response = app.test_client().get("/nope")
    assert response.status_code == 500 and response.mimetype == "application/json"
    assert response.get_json() == {"error": "internal server error"}


def test_the_body_timeout_comes_from_the_environment_and_must_be_positive():
    assert ServeConfig().body_timeout == 10.0
    assert ServeConfig.from_env({"NNFUNC_SERVE_BODY_TIMEOUT": "2.5"}).body_timeout == 2.5
    with pytest.raises(ValueError, match="NNFUNC_SERVE_BODY_TIMEOUT must be a number of seconds"):
        ServeConfig.from_env({"NNFUNC_SERVE_BODY_TIMEOUT": "soon"})
    for bad in (0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="body_timeout must be a positive number of seconds"):
            ServeConfig(body_timeout=bad)
