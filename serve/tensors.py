"""Request data to a float64 row matrix, with a precise 400/413 for every way it can be wrong.

Two shapes of request reach the same checks: an Open Inference Protocol tensor (name, shape,
datatype, and data that is flat row-major, nested exactly as the shape, or raw little-endian bytes
in msgpack; integer datatypes must hold whole values in their range) and TF-Serving `instances` /
`inputs` (rows as lists or as objects keyed by feature name, or columns by name).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from nnfunc.model import Model
from serve.errors import ApiError, echo, fits
from serve.signature import INPUT, check_rows

# Open Inference Protocol datatypes -> numpy dtype for raw bytes (None: not numeric here).
DATATYPES: dict[str, str | None] = {
    "BOOL": None,
    "UINT8": "<u1",
    "UINT16": "<u2",
    "UINT32": "<u4",
    "UINT64": "<u8",
    "INT8": "<i1",
    "INT16": "<i2",
    "INT32": "<i4",
    "INT64": "<i8",
    "FP16": "<f2",
    "FP32": "<f4",
    "FP64": "<f8",
    "BF16": None,
    "BYTES": None,
}


def _first_non_number(data: list) -> tuple[str, Any]:
    """Index path (like `[2][3]`) and value of the first non-number in nested lists, in order."""
    for i, value in enumerate(data):
        if type(value) is list:
            inner, bad = _first_non_number(value)
            if inner:
                return f"[{i}]{inner}", bad
        elif type(value) is not float and type(value) is not int:
            return f"[{i}]", value
    return "", None


def request_floats(data: Any, *, what: str) -> np.ndarray:
    """float64 array from a request's nested lists of numbers (JSON or msgpack, so Python ints
    and floats only); strings, booleans, nulls, ragged lists: a 400 naming the first culprit."""
    if not isinstance(data, list):
        raise ApiError(400, f"{what} must be an array of numbers, got {type(data).__name__}")
    stack = [data]
    while stack:
        for value in stack.pop():
            kind = type(value)
            if kind is list:
                stack.append(value)
            elif kind is not float and kind is not int:
                where, bad = _first_non_number(data)
                raise ApiError(400, f"{what}: non-numeric value {echo(bad)} at {where}")
    try:
        return np.array(data, dtype=np.float64)
    except OverflowError:
        raise ApiError(400, f"{what}: a number is too large for float64") from None
    except (ValueError, RecursionError):
        raise ApiError(400, f"{what}: ragged data, rows of different lengths") from None


def _shape(tensor: dict[str, Any]) -> list[int]:
    if "shape" not in tensor:
        raise ApiError(400, "the input has no 'shape': give [rows, features]")
    shape = tensor.get("shape")
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
        raise ApiError(
            400, f"input shape must be a list of non-negative integers, got {echo(shape)}"
        )
    return shape


def optional_object(value: dict[str, Any], key: str, what: str) -> dict[str, Any]:
    """An optional object field: absent or null give {}, anything but an object is a 400."""
    field = value.get(key)
    if field is None:
        return {}
    if not isinstance(field, dict):
        raise ApiError(400, f"{what} must be an object")
    return field


def attach_binary(inputs: list, tail: bytes | None) -> list:
    """The inputs with Triton's binary tensor data filled in: each input whose parameters give
    `binary_data_size` takes that many bytes of `tail` in turn, as its raw little-endian data.
    `tail` is None for a request without the Inference-Header-Content-Length header, where a
    `binary_data_size` has no bytes to name."""
    attached, offset = [], 0
    for i, tensor in enumerate(inputs):
        if not isinstance(tensor, dict):
            attached.append(tensor)
            continue
        size = optional_object(tensor, "parameters", "input parameters").get("binary_data_size")
        if size is None:
            attached.append(tensor)
            continue
        if tail is None:
            raise ApiError(
                400,
                f"inputs[{i}]: binary_data_size needs the binary extension's "
                "Inference-Header-Content-Length header (the length of the JSON part)",
            )
        if type(size) is not int or size < 0:
            raise ApiError(400, f"inputs[{i}]: binary_data_size must be a whole number of bytes")
        if tensor.get("data") is not None:
            raise ApiError(400, f"inputs[{i}]: give either data or binary_data_size, not both")
        attached.append({**tensor, "data": tail[offset : offset + size]})
        offset += size
    if tail is not None and offset != len(tail):
        raise ApiError(
            400,
            f"binary data: the inputs' binary_data_size add up to {offset} bytes, but "
            f"{len(tail)} follow the JSON part",
        )
    return attached


def tensor_rows(tensor: Any, model: Model, *, max_rows: int) -> np.ndarray:
    """Validated (n, n_features) rows from one Open Inference Protocol input tensor."""
    n_features = model.spec.n_inputs
    if not isinstance(tensor, dict):
        raise ApiError(400, "each input must be an object with name, shape, datatype and data")
    optional_object(tensor, "parameters", "input parameters")
    name = tensor.get("name")
    if name != INPUT:
        raise ApiError(400, f"unknown input {echo(name)}; this model's input is {INPUT!r}")
    datatype = tensor.get("datatype")
    if not isinstance(datatype, str) or datatype not in DATATYPES:
        raise ApiError(400, f"unknown datatype {echo(datatype)}; use FP32 or FP64")
    if DATATYPES[datatype] is None:
        raise ApiError(
            400, f"datatype {datatype} is not supported: the inputs are numbers (FP*, INT*, UINT*)"
        )
    shape = _shape(tensor)
    if len(shape) != 2 or shape[1] != n_features:
        got = {"got": shape} if fits(shape) else {}  # a shape of 100,000 dimensions is not echoed
        raise ApiError(
            400,
            f"wrong shape: expected [n, {n_features}] ({n_features} features per row), "
            f"got {echo(shape)}",
            expected=[-1, n_features],
            **got,
        )
    if shape[0] > max_rows:
        raise ApiError(413, f"too many rows: {shape[0]} > limit {max_rows}", max_rows=max_rows)
    count = math.prod(shape)
    data = tensor.get("data")
    if isinstance(data, bytes):  # msgpack or binary extension: raw little-endian `datatype`
        dtype = np.dtype(DATATYPES[datatype])
        if len(data) != count * dtype.itemsize:
            raise ApiError(
                400,
                f"raw data has {len(data)} bytes; shape {shape} of {datatype} needs "
                f"{count * dtype.itemsize}",
            )
        values = np.frombuffer(data, dtype=dtype).astype(np.float64)
    else:
        values = request_floats(data, what="input data")
        if values.ndim > 1 and list(values.shape) != shape:
            raise ApiError(
                400,
                f"wrong shape: nested input data must match the declared shape "
                f"(expected {shape}, got {list(values.shape)})",
                expected=shape,
                got=list(values.shape),
            )
        if values.size != count:
            raise ApiError(
                400,
                f"input data has {values.size} values but shape {shape} needs {count}",
                expected=count,
                got=values.size,
            )
        if datatype[0] in "IU":
            _check_integers(values, data, datatype)
        elif datatype in ("FP16", "FP32"):
            _check_float_range(values, datatype)
    return check_rows(model, values.reshape(shape), max_rows=max_rows)


def _check_integers(values: np.ndarray, data: list, datatype: str) -> None:
    """Refuse values of an integer datatype that are not whole or outside the datatype's range.

    Beyond 2**53 float64 cannot tell neighbouring integers apart (2**63 - 1 and 2**63 are one
    float), so there the range is checked on the numbers as sent (`data`), exactly.
    """
    whole = f"is not a whole number, as datatype {datatype} needs"
    _refuse_first(values != np.round(values), values, whole)
    info = np.iinfo(DATATYPES[datatype])
    exact = np.array(data, dtype=object) if (np.abs(values) >= 2.0**53).any() else values
    outside = ((exact < int(info.min)) | (exact > int(info.max))).astype(bool)
    _refuse_first(outside, exact, f"is out of range for {datatype} ({info.min} to {info.max})")


def _check_float_range(values: np.ndarray, datatype: str) -> None:
    """Refuse finite values that the declared float type cannot hold (1e39 as FP32, say); the
    model's own checks would otherwise take them, in its own dtype, as if they were valid."""
    largest = float(np.finfo(DATATYPES[datatype]).max)
    outside = (np.abs(values) > largest) & np.isfinite(values)  # NaN, inf: the rows' check
    _refuse_first(outside, values, f"is out of range for {datatype} (largest {largest:.7g})")


def _refuse_first(bad: np.ndarray, values: np.ndarray, problem: str) -> None:
    """A 400 naming the first value where `bad` holds, and its position as the data nests it."""
    if not bad.any():
        return
    where = tuple(int(i) for i in np.argwhere(bad)[0])
    value = values[where]
    exact = isinstance(value, int) or float(value).is_integer()
    shown = int(value) if exact and abs(value) <= 2**64 else float(value)  # no 300-digit ints
    position = "".join(f"[{i}]" for i in where)
    raise ApiError(400, f"input data value {shown} at {position} {problem}")


def _input_shorthand(value: dict[str, Any], model: Model) -> bool:
    """Whether an object is the `{"input": ...}` shorthand rather than keyed by feature name.

    Feature names come first: an object whose keys are exactly the model's feature names is read
    by name, so for a model whose only feature is called `input` the shorthand does not apply.
    """
    return set(value) == {INPUT} and set(model.feature_names) != {INPUT}


def _named_row(row: dict[str, Any], model: Model, index: int) -> Any:
    """One instance given as {feature: value} (or {"input": row}) as a list in feature order."""
    if _input_shorthand(row, model):
        return row[INPUT]
    names = model.feature_names
    missing = [n for n in names if n not in row]
    unknown = sorted(k for k in row if k not in names)
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing feature(s) {', '.join(map(repr, missing))}")
        if unknown:
            parts.append(f"unknown key(s) {', '.join(echo(k) for k in unknown[:10])}")
        raise ApiError(400, f"instance {index}: {'; '.join(parts)}", feature_names=list(names))
    return [row[n] for n in names]


def instance_rows(instances: Any, model: Model, *, max_rows: int) -> np.ndarray:
    """Validated rows from TF-Serving `instances`: lists of numbers or objects keyed by feature."""
    if not isinstance(instances, list):
        raise ApiError(400, f"instances must be a list of rows, got {type(instances).__name__}")
    if not instances:
        raise ApiError(400, "empty batch: send at least one row")
    if len(instances) > max_rows:
        raise ApiError(
            413, f"too many rows: {len(instances)} > limit {max_rows}", max_rows=max_rows
        )
    dicts = [isinstance(row, dict) for row in instances]
    if any(dicts):
        if not all(dicts):
            raise ApiError(400, "instances mix objects and lists; use one form")
        instances = [_named_row(row, model, i) for i, row in enumerate(instances)]
    X = request_floats(instances, what="instances")
    return check_rows(model, X, max_rows=max_rows)


def column_rows(inputs: Any, model: Model, *, max_rows: int) -> np.ndarray:
    """Validated rows from TF-Serving columnar `inputs`: rows, {"input": rows} or named columns."""
    if isinstance(inputs, dict):
        if _input_shorthand(inputs, model):
            inputs = inputs[INPUT]
        else:
            names = model.feature_names
            missing = [n for n in names if n not in inputs]
            unknown = sorted(k for k in inputs if k not in names)
            if missing or unknown:
                raise ApiError(
                    400,
                    f"inputs must be {{{INPUT!r}: rows}} or one column per feature; missing "
                    f"{missing}, unknown {[echo(k) for k in unknown[:10]]}",
                    feature_names=list(names),
                )
            columns = [request_floats(inputs[n], what=f"column {n!r}") for n in names]
            lengths = {c.shape for c in columns}
            if len(lengths) != 1 or columns[0].ndim != 1:
                raise ApiError(400, "columns must be flat lists of numbers of equal length")
            return check_rows(model, np.stack(columns, axis=1), max_rows=max_rows)
    X = request_floats(inputs, what="inputs")
    return check_rows(model, X, max_rows=max_rows)
