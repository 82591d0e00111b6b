"""The model file's payload schema: `Model` to plain msgpack data and back, validating every field.

`encode_model` gives maps with sorted keys and arrays as `{"data", "dtype", "shape"}` maps, so the
packed bytes depend on the model alone. `decode_model` trusts nothing: each map must have exactly
its keys, each value its type, each array an allowed dtype and the shape the architecture implies.
Errors are `SchemaError` (a ValueError) whose message starts with the path of the bad field.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnfunc.activations import OUTPUT_ONLY, parse_activation
from nnfunc.arrays import freeze
from nnfunc.losses import LOSSES
from nnfunc.model import METRIC_NAMES, Model
from nnfunc.msgpack_safe import MsgpackError, check_plain, to_plain
from nnfunc.params import Dense, Params
from nnfunc.preprocessing import LabelEncoder, StandardScaler, check_scaler
from nnfunc.spec import DTYPES, MLPSpec
from nnfunc.training import History

ARRAY_DTYPES = {"<f4": np.dtype(np.float32), "<f8": np.dtype(np.float64)}
SPEC_DTYPE_CODES = {"float32": "<f4", "float64": "<f8"}
MAX_LAYERS = 256
MAX_UNITS = 1 << 24
MAX_NAME_LEN = 1024
MAX_JSON_DEPTH = 16
TASKS = ("classify", "regress")
PAYLOAD_KEYS = (
    "config",
    "feature_names",
    "feature_scaler",
    "history",
    "labels",
    "metrics",
    "params",
    "provenance",
    "spec",
    "target_names",
    "target_scaler",
    "task",
)


class SchemaError(ValueError):
    """A payload field with the wrong keys, type, size or value; the message names the field."""


# --- encoding -------------------------------------------------------------------------------------


def encode_array(array: np.ndarray, what: str) -> dict[str, Any]:
    """A float32/float64 array as `{"data": little-endian C-order bytes, "dtype", "shape"}`."""
    array = np.asarray(array)
    code = {np.dtype(np.float32): "<f4", np.dtype(np.float64): "<f8"}.get(array.dtype)
    if code is None:
        raise SchemaError(f"{what}: dtype {array.dtype} is not float32 or float64")
    data = np.ascontiguousarray(array, dtype=np.dtype(code)).tobytes()
    return {"data": data, "dtype": code, "shape": [int(n) for n in array.shape]}


def _encode_scaler(scaler: StandardScaler | None, what: str) -> dict[str, Any] | None:
    if scaler is None:
        return None
    return {
        "mean": encode_array(scaler.mean, f"{what}.mean"),
        "scale": encode_array(scaler.scale, f"{what}.scale"),
    }


def _encode_history(history: History | None) -> dict[str, Any] | None:
    if history is None:
        return None
    out: dict[str, Any] = {"metric_name": history.metric_name}
    for key in ("loss", "metric", "val_loss", "val_metric"):
        out[key] = [float(v) for v in getattr(history, key)]
    return dict(sorted(out.items()))


def encode_model(model: Model) -> dict[str, Any]:
    """Plain, deterministically ordered data for every field of `model` (see the format doc)."""
    spec = model.spec
    return {
        "config": to_plain(model.config, what="config"),
        "feature_names": list(model.feature_names),
        "feature_scaler": _encode_scaler(model.feature_scaler, "feature_scaler"),
        "history": _encode_history(model.history),
        "labels": None
        if model.labels is None
        else {"classes": to_plain(model.classes, what="labels")},
        "metrics": to_plain(model.metrics, what="metrics"),
        "params": [
            {"b": encode_array(d.b, f"params[{i}].b"), "w": encode_array(d.w, f"params[{i}].w")}
            for i, d in enumerate(model.params.layers)
        ],
        "provenance": to_plain(model.provenance, what="provenance"),
        "spec": {
            "activations": list(spec.activations),
            "dtype": spec.dtype,
            "loss": spec.loss,
            "output_activation": spec.output_activation,
            "sizes": list(spec.sizes),
        },
        "target_names": list(model.target_names),
        "target_scaler": _encode_scaler(model.target_scaler, "target_scaler"),
        "task": model.task,
    }


# --- decoding -------------------------------------------------------------------------------------


def _fields(value: Any, path: str, keys: tuple[str, ...]) -> dict[str, Any]:
    """A map with exactly `keys`: missing and unknown keys are both errors."""
    if not isinstance(value, dict):
        raise SchemaError(f"{path}: expected a map, got {_kind(value)}")
    missing = [k for k in keys if k not in value]
    if missing:
        raise SchemaError(f"{path}: missing key(s) {', '.join(map(repr, missing))}")
    unknown = sorted(k for k in value if k not in keys)
    if unknown:
        shown = ", ".join(repr(k[:40]) for k in unknown[:5])
        raise SchemaError(f"{path}: unknown key(s) {shown}")
    return value


def _kind(value: Any) -> str:
    names = {dict: "a map", list: "an array", str: "a string", bytes: "binary data"}
    names.update({type(None): "nil", bool: "a boolean", int: "an integer", float: "a float"})
    return names.get(type(value), type(value).__name__)


def _str(value: Any, path: str, max_len: int = MAX_NAME_LEN) -> str:
    if not isinstance(value, str):
        raise SchemaError(f"{path}: expected a string, got {_kind(value)}")
    if len(value) > max_len:
        raise SchemaError(f"{path}: string longer than {max_len} characters")
    return value


def _int(value: Any, path: str, lo: int, hi: int) -> int:
    if type(value) is not int:
        raise SchemaError(f"{path}: expected an integer, got {_kind(value)}")
    if not lo <= value <= hi:
        raise SchemaError(f"{path}: {value} is outside [{lo}, {hi}]")
    return value


def _list(value: Any, path: str, max_len: int) -> list[Any]:
    if not isinstance(value, list):
        raise SchemaError(f"{path}: expected an array, got {_kind(value)}")
    if len(value) > max_len:
        raise SchemaError(f"{path}: more than {max_len} entries")
    return value


def _names(value: Any, path: str, count: int | None) -> tuple[str, ...]:
    names = tuple(_str(v, f"{path}[{i}]") for i, v in enumerate(_list(value, path, MAX_UNITS)))
    if count is not None and len(names) != count:
        raise SchemaError(f"{path}: expected {count} name(s), got {len(names)}")
    return names


def decode_array(
    value: Any, path: str, shape: tuple[int, ...], dtype: str | None = None
) -> np.ndarray:
    """A read-only native array from an array map; dtype allow-listed, shape and length exact."""
    fields = _fields(value, path, ("data", "dtype", "shape"))
    code = _str(fields["dtype"], f"{path}.dtype", 16)
    if code not in ARRAY_DTYPES:
        raise SchemaError(
            f"{path}.dtype: {code!r} is not allowed; expected one of {', '.join(ARRAY_DTYPES)}"
        )
    if dtype is not None and code != dtype:
        raise SchemaError(f"{path}.dtype: expected {dtype!r} (the spec's dtype), got {code!r}")
    dims = _list(fields["shape"], f"{path}.shape", 2)
    got = tuple(_int(n, f"{path}.shape[{i}]", 0, MAX_UNITS) for i, n in enumerate(dims))
    if got != shape:
        raise SchemaError(f"{path}.shape: expected {list(shape)}, got {list(got)}")
    data = fields["data"]
    if not isinstance(data, bytes):
        raise SchemaError(f"{path}.data: expected binary data, got {_kind(data)}")
    expected = int(np.prod(shape, dtype=object)) * ARRAY_DTYPES[code].itemsize
    if len(data) != expected:
        raise SchemaError(
            f"{path}.data: {len(data)} bytes do not match shape {list(shape)} of {code} "
            f"({expected} bytes)"
        )
    array = np.frombuffer(data, dtype=np.dtype(code)).reshape(shape)
    array = array.astype(ARRAY_DTYPES[code].newbyteorder("="), copy=True)
    if not np.isfinite(array).all():
        raise SchemaError(f"{path}: contains NaN or infinite values")
    return freeze(array)


def _decode_spec(value: Any) -> MLPSpec:
    fields = _fields(value, "spec", ("activations", "dtype", "loss", "output_activation", "sizes"))
    raw_sizes = _list(fields["sizes"], "spec.sizes", MAX_LAYERS + 1)
    sizes = tuple(_int(n, f"spec.sizes[{i}]", 1, MAX_UNITS) for i, n in enumerate(raw_sizes))
    if len(sizes) < 2:
        raise SchemaError("spec.sizes: needs at least an input and an output size")
    acts = _list(fields["activations"], "spec.activations", MAX_LAYERS)
    activations = tuple(_str(a, f"spec.activations[{i}]", 64) for i, a in enumerate(acts))
    if len(activations) != len(sizes) - 2:
        raise SchemaError(
            f"spec.activations: {len(sizes) - 2} hidden layer(s) need as many activations, "
            f"got {len(activations)}"
        )
    for i, name in enumerate(activations):
        _activation(name, f"spec.activations[{i}]", hidden=True)
    output = _str(fields["output_activation"], "spec.output_activation", 64)
    _activation(output, "spec.output_activation", hidden=False)
    loss = _str(fields["loss"], "spec.loss", 64)
    if loss not in LOSSES:
        raise SchemaError(f"spec.loss: unknown loss {loss!r}; known: {', '.join(LOSSES)}")
    dtype = _str(fields["dtype"], "spec.dtype", 16)
    if dtype not in DTYPES:
        raise SchemaError(f"spec.dtype: {dtype!r} is not one of {', '.join(DTYPES)}")
    try:
        return MLPSpec(sizes, activations, output, loss, dtype)
    except ValueError as exc:
        raise SchemaError(f"spec: {exc}") from None


def _activation(name: str, path: str, *, hidden: bool) -> None:
    try:
        act, _ = parse_activation(name)
    except ValueError as exc:
        raise SchemaError(f"{path}: {exc}") from None
    if hidden and act.name in OUTPUT_ONLY:
        raise SchemaError(f"{path}: {act.name} can only be the output activation")


def _decode_params(value: Any, spec: MLPSpec) -> Params:
    layers = _list(value, "params", MAX_LAYERS)
    if len(layers) != spec.n_layers:
        raise SchemaError(f"params: spec.sizes implies {spec.n_layers} layer(s), got {len(layers)}")
    code = SPEC_DTYPE_CODES[spec.dtype]
    dense = []
    for i, (layer, n_in, n_out) in enumerate(zip(layers, spec.sizes[:-1], spec.sizes[1:])):
        fields = _fields(layer, f"params[{i}]", ("b", "w"))
        w = decode_array(fields["w"], f"params[{i}].w", (n_in, n_out), code)
        b = decode_array(fields["b"], f"params[{i}].b", (n_out,), code)
        dense.append(Dense(w, b))
    return Params(tuple(dense))


def _decode_scaler(value: Any, path: str, spec: MLPSpec, width: int) -> StandardScaler | None:
    """A scaler of `width` columns that the network's dtype can apply (see `check_scaler`)."""
    if value is None:
        return None
    fields = _fields(value, path, ("mean", "scale"))
    mean = decode_array(fields["mean"], f"{path}.mean", (width,))
    scale = decode_array(fields["scale"], f"{path}.scale", (width,))
    if not (scale > 0).all():
        raise SchemaError(f"{path}.scale: every entry must be positive")
    scaler = StandardScaler(mean, scale)
    try:
        check_scaler(scaler, spec.dtype)
    except ValueError as exc:
        raise SchemaError(f"{path}.{exc}") from None
    return scaler


def _decode_labels(value: Any) -> LabelEncoder | None:
    if value is None:
        return None
    classes = _list(_fields(value, "labels", ("classes",))["classes"], "labels.classes", MAX_UNITS)
    kinds = {type(c) for c in classes}
    if len(kinds) > 1 or not kinds <= {str, int, bool}:
        raise SchemaError("labels.classes: expected all strings, all integers or all booleans")
    for i, c in enumerate(classes):
        if isinstance(c, str):
            _str(c, f"labels.classes[{i}]")
        elif not -(2**63) <= c < 2**63:
            raise SchemaError(f"labels.classes[{i}]: {c} does not fit in a signed 64-bit integer")
    if any(a >= b for a, b in zip(classes, classes[1:])):
        raise SchemaError("labels.classes: must be sorted and distinct")
    return LabelEncoder(tuple(classes))


def _decode_history(value: Any, task: str) -> History | None:
    """Per-epoch series of finite floats, with the metric name (and range) of the task."""
    if value is None:
        return None
    keys = ("loss", "metric", "metric_name", "val_loss", "val_metric")
    fields = _fields(value, "history", keys)
    name = _str(fields["metric_name"], "history.metric_name", 64)
    if name != METRIC_NAMES[task]:
        raise SchemaError(
            f"history.metric_name: task {task!r} records {METRIC_NAMES[task]!r}, got {name!r}"
        )
    series = {}
    for key in ("loss", "metric", "val_loss", "val_metric"):
        items = _list(fields[key], f"history.{key}", 1 << 20)
        for i, v in enumerate(items):
            if type(v) is not float or not np.isfinite(v):
                raise SchemaError(f"history.{key}[{i}]: expected a finite float, got {v!r:.40}")
        series[key] = tuple(items)
    for key in ("metric", "val_metric"):
        _check_metric_range(name, series[key], f"history.{key}")
    if len(series["metric"]) != len(series["loss"]):
        raise SchemaError("history.metric: length differs from history.loss")
    if len(series["val_metric"]) != len(series["val_loss"]) or len(series["val_loss"]) not in (
        0,
        len(series["loss"]),
    ):
        raise SchemaError("history.val_loss/val_metric: lengths must be 0 or that of history.loss")
    return History(name, **series)


def _check_metric_range(name: str, values: tuple[float, ...], path: str) -> None:
    """Accuracy lies in [0, 1] and R2 is at most 1 (it has no lower bound)."""
    low = 0.0 if name == "accuracy" else -np.inf
    for i, v in enumerate(values):
        if not low <= v <= 1.0:
            raise SchemaError(f"{path}[{i}]: {v!r} is not a possible {name}")


def _plain_map(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SchemaError(f"{path}: expected a map, got {_kind(value)}")
    try:
        check_plain(value, max_depth=MAX_JSON_DEPTH, what=path)
    except MsgpackError as exc:
        raise SchemaError(str(exc)) from None
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, bytes):
            raise SchemaError(f"{path}: binary data is not allowed here (JSON-like values only)")
        if isinstance(item, (dict, list)):
            stack.extend(item.values() if isinstance(item, dict) else item)
    return value


def _check_task(task: str, spec: MLPSpec, labels: LabelEncoder | None) -> None:
    """The task, the spec's loss and the class labels must describe the same kind of model.

    A regressor has the mse loss and no labels; a classifier a cross-entropy loss and one label
    per softmax output, or exactly two labels for the single sigmoid output.
    """
    if task == "regress":
        if spec.loss != "mse":
            raise SchemaError(f"task: 'regress' needs spec.loss 'mse', got {spec.loss!r}")
        if labels is not None:
            raise SchemaError("labels: a regressor has no class labels (expected nil)")
        return
    if spec.loss == "mse":
        raise SchemaError("task: 'classify' needs a cross-entropy spec.loss, got 'mse'")
    if labels is None:
        raise SchemaError("labels: a classifier needs class labels, got nil")
    if spec.loss == "binary_cross_entropy":
        expected, rule = 2, "a sigmoid classifier has exactly 2 classes"
    else:
        expected = spec.n_outputs
        rule = f"a softmax classifier has one class per output ({expected})"
    if len(labels.classes) != expected:
        raise SchemaError(f"labels.classes: {rule}, got {len(labels.classes)}")


def decode_model(value: Any) -> Model:
    """Validate a decoded payload field by field and build the `Model` it describes."""
    fields = _fields(value, "payload", PAYLOAD_KEYS)
    task = _str(fields["task"], "task", 16)
    if task not in TASKS:
        raise SchemaError(f"task: expected 'classify' or 'regress', got {task!r}")
    spec = _decode_spec(fields["spec"])
    params = _decode_params(fields["params"], spec)
    feature_names = _names(fields["feature_names"], "feature_names", spec.n_inputs)
    labels = _decode_labels(fields["labels"])
    _check_task(task, spec, labels)
    target_count = spec.n_outputs if task == "regress" else 1
    target_names = _names(fields["target_names"], "target_names", target_count)
    feature_scaler = _decode_scaler(fields["feature_scaler"], "feature_scaler", spec, spec.n_inputs)
    target_scaler = _decode_scaler(fields["target_scaler"], "target_scaler", spec, spec.n_outputs)
    if task == "classify" and target_scaler is not None:
        raise SchemaError("target_scaler: a classifier has no target scaler (expected nil)")
    try:
        return Model(
            spec=spec,
            params=params,
            task=task,
            feature_names=feature_names,
            target_names=target_names,
            feature_scaler=feature_scaler,
            target_scaler=target_scaler,
            labels=labels,
            history=_decode_history(fields["history"], task),
            config=_plain_map(fields["config"], "config"),
            metrics=_plain_map(fields["metrics"], "metrics"),
            provenance=_plain_map(fields["provenance"], "provenance"),
        )
    except SchemaError:
        raise
    except ValueError as exc:
        raise SchemaError(f"model: {exc}") from None
