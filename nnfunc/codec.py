"""The model file's payload schema: `Model` to plain msgpack data and back, validating every field.

`encode_model` gives maps with sorted keys and arrays as `{"data", "dtype", "shape"}` maps, so the
packed bytes depend on the model alone. `decode_model` trusts nothing: each map must have exactly
its keys, each value its type, each array an allowed dtype and the shape the architecture implies,
each name printable text; the JSON-like `config`, `metrics` and `provenance` maps may hold keys it
does not know, but the keys nnfunc writes must have the types and ranges it writes (checked in
`nnfunc.run_record`). Errors are `nnfunc.schema.SchemaError` (a ValueError) whose message starts
with the path of the bad field.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from nnfunc.activations import OUTPUT_ONLY, parse_activation
from nnfunc.arrays import freeze
from nnfunc.datasets import TASKS
from nnfunc.losses import LOSSES
from nnfunc.model import METRIC_NAMES, Model
from nnfunc.msgpack_safe import to_plain
from nnfunc.params import Dense, Params
from nnfunc.preprocessing import LabelEncoder, StandardScaler, check_scaler
from nnfunc.run_record import decode_config, decode_metrics, decode_provenance
from nnfunc.schema import (
    MAX_LAYERS,
    MAX_UNITS,
    SchemaError,
    column_name,
    distinct_names,
    exact_map,
    integer,
    kind,
    sequence,
    string,
)
from nnfunc.spec import DTYPES, MLPSpec
from nnfunc.training import History

ARRAY_DTYPES = {"<f4": np.dtype(np.float32), "<f8": np.dtype(np.float64)}
SPEC_DTYPE_CODES = {"float32": "<f4", "float64": "<f8"}
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


def decode_array(
    value: Any, path: str, shape: tuple[int, ...], dtype: str | None = None
) -> np.ndarray:
    """A read-only native array from an array map; dtype allow-listed, shape and length exact."""
    fields = exact_map(value, path, ("data", "dtype", "shape"))
    code = string(fields["dtype"], f"{path}.dtype", 16)
    if code not in ARRAY_DTYPES:
        raise SchemaError(
            f"{path}.dtype: {code!r} is not allowed; expected one of {', '.join(ARRAY_DTYPES)}"
        )
    if dtype is not None and code != dtype:
        raise SchemaError(f"{path}.dtype: expected {dtype!r} (the spec's dtype), got {code!r}")
    dims = sequence(fields["shape"], f"{path}.shape", 2)
    got = tuple(integer(n, f"{path}.shape[{i}]", 0, MAX_UNITS) for i, n in enumerate(dims))
    if got != shape:
        raise SchemaError(f"{path}.shape: expected {list(shape)}, got {list(got)}")
    data = fields["data"]
    if not isinstance(data, bytes):
        raise SchemaError(f"{path}.data: expected binary data, got {kind(data)}")
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
    fields = exact_map(
        value, "spec", ("activations", "dtype", "loss", "output_activation", "sizes")
    )
    raw_sizes = sequence(fields["sizes"], "spec.sizes", MAX_LAYERS + 1)
    sizes = tuple(integer(n, f"spec.sizes[{i}]", 1, MAX_UNITS) for i, n in enumerate(raw_sizes))
    if len(sizes) < 2:
        raise SchemaError("spec.sizes: needs at least an input and an output size")
    acts = sequence(fields["activations"], "spec.activations", MAX_LAYERS)
    activations = tuple(string(a, f"spec.activations[{i}]", 64) for i, a in enumerate(acts))
    if len(activations) != len(sizes) - 2:
        raise SchemaError(
            f"spec.activations: {len(sizes) - 2} hidden layer(s) need as many activations, "
            f"got {len(activations)}"
        )
    for i, name in enumerate(activations):
        _activation(name, f"spec.activations[{i}]", hidden=True)
    output = string(fields["output_activation"], "spec.output_activation", 64)
    _activation(output, "spec.output_activation", hidden=False)
    loss = string(fields["loss"], "spec.loss", 64)
    if loss not in LOSSES:
        raise SchemaError(f"spec.loss: unknown loss {loss!r}; known: {', '.join(LOSSES)}")
    dtype = string(fields["dtype"], "spec.dtype", 16)
    if dtype not in DTYPES:
        raise SchemaError(f"spec.dtype: {dtype!r} is not one of {', '.join(DTYPES)}")
    try:
        return MLPSpec(sizes, activations, output, loss, dtype)
    except ValueError as exc:
        raise SchemaError(f"spec: {exc}") from None


# An activation's parameter in a file: a plain ASCII decimal number (float() would also take
# spaces, underscores and other scripts' digits, which a reader in another language would not).
_PARAMETER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


def _activation(name: str, path: str, *, hidden: bool) -> None:
    base, colon, parameter = name.partition(":")
    if not base.isidentifier() or (colon and not _PARAMETER.fullmatch(parameter)):
        raise SchemaError(
            f"{path}: {name!r} is not NAME or NAME:NUMBER (a decimal number, no spaces)"
        )
    try:
        act, _ = parse_activation(name)
    except ValueError as exc:
        hint = ""
        if str(exc).startswith("unknown activation"):
            hint = (
                " (a model made with a custom activation loads where "
                "nnfunc.register_activation has registered it)"
            )
        raise SchemaError(f"{path}: {exc}{hint}") from None
    if hidden and act.name in OUTPUT_ONLY:
        raise SchemaError(f"{path}: {act.name} can only be the output activation")


def _decode_params(value: Any, spec: MLPSpec) -> Params:
    layers = sequence(value, "params", MAX_LAYERS)
    if len(layers) != spec.n_layers:
        raise SchemaError(f"params: spec.sizes implies {spec.n_layers} layer(s), got {len(layers)}")
    code = SPEC_DTYPE_CODES[spec.dtype]
    dense = []
    for i, (layer, n_in, n_out) in enumerate(zip(layers, spec.sizes[:-1], spec.sizes[1:])):
        fields = exact_map(layer, f"params[{i}]", ("b", "w"))
        w = decode_array(fields["w"], f"params[{i}].w", (n_in, n_out), code)
        b = decode_array(fields["b"], f"params[{i}].b", (n_out,), code)
        dense.append(Dense(w, b))
    return Params(tuple(dense))


def _decode_scaler(value: Any, path: str, spec: MLPSpec, width: int) -> StandardScaler | None:
    """A scaler of `width` columns that the network's dtype can apply (see `check_scaler`)."""
    if value is None:
        return None
    fields = exact_map(value, path, ("mean", "scale"))
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
    classes = sequence(
        exact_map(value, "labels", ("classes",))["classes"], "labels.classes", MAX_UNITS
    )
    kinds = {type(c) for c in classes}
    if len(kinds) > 1 or not kinds <= {str, int, bool}:
        raise SchemaError("labels.classes: expected all strings, all integers or all booleans")
    for i, c in enumerate(classes):
        if isinstance(c, str):
            column_name(c, f"labels.classes[{i}]")
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
    fields = exact_map(value, "history", keys)
    name = string(fields["metric_name"], "history.metric_name", 64)
    if name != METRIC_NAMES[task]:
        raise SchemaError(
            f"history.metric_name: task {task!r} records {METRIC_NAMES[task]!r}, got {name!r}"
        )
    series = {}
    for key in ("loss", "metric", "val_loss", "val_metric"):
        items = sequence(fields[key], f"history.{key}", 1 << 20)
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
    fields = exact_map(value, "payload", PAYLOAD_KEYS)
    task = string(fields["task"], "task", 16)
    if task not in TASKS:
        raise SchemaError(f"task: expected 'classify' or 'regress', got {task!r}")
    spec = _decode_spec(fields["spec"])
    params = _decode_params(fields["params"], spec)
    feature_names = distinct_names(fields["feature_names"], "feature_names", spec.n_inputs)
    labels = _decode_labels(fields["labels"])
    _check_task(task, spec, labels)
    target_count = spec.n_outputs if task == "regress" else 1
    target_names = distinct_names(fields["target_names"], "target_names", target_count)
    feature_scaler = _decode_scaler(fields["feature_scaler"], "feature_scaler", spec, spec.n_inputs)
    if task == "classify" and fields["target_scaler"] is not None:
        raise SchemaError("target_scaler: a classifier has no target scaler (expected nil)")
    target_scaler = _decode_scaler(fields["target_scaler"], "target_scaler", spec, spec.n_outputs)
    history = _decode_history(fields["history"], task)
    classes = () if labels is None else labels.classes
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
            history=history,
            config=decode_config(fields["config"], history),
            metrics=decode_metrics(fields["metrics"], task, classes, target_names),
            provenance=decode_provenance(fields["provenance"]),
        )
    except SchemaError:
        raise
    except ValueError as exc:
        raise SchemaError(f"model: {exc}") from None
