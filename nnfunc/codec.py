"""The model file's payload schema: `Model` to plain msgpack data and back, validating every field.

`encode_model` gives maps with sorted keys and arrays as `{"data", "dtype", "shape"}` maps, so the
packed bytes depend on the model alone. `decode_model` trusts nothing: each map must have exactly
its keys, each value its type, each array an allowed dtype and the shape the architecture implies,
each name printable text; the JSON-like `config`, `metrics` and `provenance` maps may hold keys it
does not know, but the keys nnfunc writes must have the types and ranges it writes. Errors are
`SchemaError` (a ValueError) whose message starts with the path of the bad field.
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Callable, Sequence
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


# Refused in every name and in every string of `config`, `metrics` and `provenance`, all of which
# are printed: the C0 and C1 controls and DEL (category Cc: newline, tab, the ESC that starts an
# ANSI sequence), the line and paragraph separators (Zl, Zp), and the bidi embeddings, overrides and
# isolates (U+202A-U+202E, U+2066-U+2069, category Cf), which reorder the rest of a printed line.
# The other Cf characters stay allowed: words in Persian, Indic scripts and emoji need the
# zero-width (non-)joiners, and the direction marks U+200E, U+200F, U+061C act on neighbours only.
UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028-\u202e\u2066-\u2069]")


class SchemaError(ValueError):
    """A payload field with the wrong keys, type, size or value; the message names the field."""


def unprintable(text: str) -> str | None:
    """The first character of `text` that a name must not hold (see `UNPRINTABLE`), or None."""
    found = UNPRINTABLE.search(text)
    return None if found is None else found.group()


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


def _fields(value: Any, path: str, keys: Sequence[str]) -> dict[str, Any]:
    """A map with exactly `keys`: missing and unknown keys are both errors."""
    if not isinstance(value, dict):
        raise SchemaError(f"{path}: expected a map, got {_kind(value)}")
    missing = [k for k in keys if k not in value]
    if missing:
        raise SchemaError(f"{path}: missing key(s) {_shown(missing)}")
    known = set(keys)
    unknown = sorted(k for k in value if k not in known)
    if unknown:
        raise SchemaError(f"{path}: unknown key(s) {_shown(unknown)}")
    return value


def _shown(keys: Sequence[str]) -> str:
    """The first few of `keys`, quoted and shortened, for a message."""
    more = f" and {len(keys) - 5} more" if len(keys) > 5 else ""
    return ", ".join(repr(k[:40]) for k in keys[:5]) + more


def _kind(value: Any) -> str:
    names = {dict: "a map", list: "an array", str: "a string", bytes: "binary data"}
    names.update({type(None): "nil", bool: "a boolean", int: "an integer", float: "a float"})
    return names.get(type(value), type(value).__name__)


def _str(value: Any, path: str, max_len: int = MAX_NAME_LEN) -> str:
    """A printable string of at most `max_len` characters (see `UNPRINTABLE`)."""
    if not isinstance(value, str):
        raise SchemaError(f"{path}: expected a string, got {_kind(value)}")
    if len(value) > max_len:
        raise SchemaError(f"{path}: string longer than {max_len} characters")
    return _printable(value, path)


def _printable(text: str, path: str, what: str = "") -> str:
    """`text`, unless it holds a character of `UNPRINTABLE` (the message shows it escaped)."""
    found = UNPRINTABLE.search(text)
    if found is not None:
        start = max(0, found.start() - 20)
        shown = ("..." if start else "") + repr(text[start : start + 40])
        raise SchemaError(
            f"{path}: {what}{shown} contains the control character "
            f"U+{ord(found.group()):04X}; names and text must be printable"
        )
    return text


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
    """Distinct printable names, `count` of them."""
    names = tuple(_str(v, f"{path}[{i}]") for i, v in enumerate(_list(value, path, MAX_UNITS)))
    if count is not None and len(names) != count:
        raise SchemaError(f"{path}: expected {count} name(s), got {len(names)}")
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            raise SchemaError(f"{path}[{i}]: {name[:40]!r} appears more than once")
        seen.add(name)
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
    """A JSON-like map: no bin, bounded nesting, keys that are names, printable strings only."""
    if not isinstance(value, dict):
        raise SchemaError(f"{path}: expected a map, got {_kind(value)}")
    try:
        check_plain(value, max_depth=MAX_JSON_DEPTH, what=path)
    except MsgpackError as exc:
        raise SchemaError(str(exc)) from None
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                if len(key) > MAX_NAME_LEN:
                    raise SchemaError(f"{where}: key longer than {MAX_NAME_LEN} characters")
                _printable(key, where, "key ")
                stack.append((child, f"{where}.{key[:40]}"))
        elif isinstance(item, list):
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(item) if not _is_number(v))
        elif isinstance(item, str):
            _printable(item, where)
        elif isinstance(item, bytes):
            raise SchemaError(f"{where}: binary data is not allowed here (JSON-like values only)")
    return value


# --- config, metrics, provenance ------------------------------------------------------------------
# JSON-like maps that describe the training run. Each known key is checked for the type and range
# nnfunc writes; keys nnfunc does not know are kept (see docs/model-format.md for what is checked).

Check = Callable[[Any, str], Any]
MAX_COUNT = 2**63 - 1
MAX_FLOAT = float(np.finfo(np.float64).max)


def _is_number(value: Any) -> bool:
    return type(value) is int or type(value) is float  # not bool


def _number(lo: float, hi: float, what: str) -> Check:
    """A check for an int or float in [lo, hi] (never NaN)."""

    def check(value: Any, path: str) -> None:
        if not _is_number(value):
            raise SchemaError(f"{path}: expected a number, got {_kind(value)}")
        if not lo <= value <= hi:  # NaN fails every comparison
            raise SchemaError(f"{path}: {value!r} is not {what}")

    return check


def _count(lo: int, hi: int = MAX_COUNT) -> Check:
    return lambda value, path: _int(value, path, lo, hi)


def _optional(check: Check) -> Check:
    return lambda value, path: None if value is None else check(value, path)


def _boolean(value: Any, path: str) -> None:
    if type(value) is not bool:
        raise SchemaError(f"{path}: expected a boolean, got {_kind(value)}")


def _checked_later(value: Any, path: str) -> None:
    """Required, and checked by the caller once the rest of the map is known."""


def _record(value: Any, path: str, schema: dict[str, Check], *, complete: bool) -> dict[str, Any]:
    """A map whose keys named in `schema` pass their checks (and all exist, when `complete`).

    Other keys are left alone: these maps may gain keys in later nnfunc versions.
    """
    if not isinstance(value, dict):
        raise SchemaError(f"{path}: expected a map, got {_kind(value)}")
    missing = [k for k in schema if k not in value] if complete else []
    if missing:
        raise SchemaError(f"{path}: missing key(s) {_shown(missing)}")
    for key, check in schema.items():
        if key in value:
            check(value[key], f"{path}.{key}")
    return value


FRACTION = _number(0.0, 1.0, "a fraction in [0, 1]")
POSITIVE = _number(math.ulp(0.0), MAX_FLOAT, "a positive finite number")
NON_NEGATIVE = _number(0.0, MAX_FLOAT, "a non-negative finite number")
SHARE = _number(0.0, math.nextafter(1.0, 0.0), "a fraction in [0, 1)")
ERROR = _number(0.0, math.inf, "a possible error (at least 0)")
R2 = _number(-math.inf, 1.0, "a possible R2 (at most 1)")
SCORES = {"f1": FRACTION, "precision": FRACTION, "recall": FRACTION}
# A mean weighted by class support can round up to 1.0000000000000002.
WEIGHTED = dict.fromkeys(SCORES, _number(0.0, 1.0 + 1e-9, "a fraction in [0, 1]"))
ERRORS = {"mae": ERROR, "mse": ERROR, "r2": R2, "rmse": ERROR}


def _hidden(value: Any, path: str) -> None:
    for i, size in enumerate(_list(value, path, MAX_LAYERS)):
        _int(size, f"{path}[{i}]", 1, MAX_UNITS)


def _schedule(value: Any, path: str) -> None:
    _record(value, path, {"lr": POSITIVE, "name": _str}, complete=False)


def _optimizer(value: Any, path: str) -> None:
    schema = {"clip_norm": _optional(POSITIVE), "name": _str, "schedule": _schedule}
    _record(value, path, schema, complete=False)


CONFIG = {
    "activation": _str,
    "batch_size": _optional(_count(1)),
    "best_epoch": _count(0),
    "clip_norm": _optional(POSITIVE),
    "dtype": _str,
    "early_stopping": _boolean,
    "epochs": _count(1),
    "epochs_run": _count(0),
    "hidden": _hidden,
    "init": _optional(_str),
    "l2": NON_NEGATIVE,
    "loss": _optional(_str),
    "lr": _optional(POSITIVE),
    "optimizer": _str,
    "optimizer_config": _optimizer,
    "output_activation": _optional(_str),
    "patience": _optional(_count(1)),
    "scale_features": _boolean,
    "scale_targets": _boolean,
    "schedule": _str,
    "seed": _count(0, 2**64 - 1),
    "stopped_early": _boolean,
    "test_split": SHARE,
    "val_split": SHARE,
}


def _decode_config(value: Any, history: History | None) -> dict[str, Any]:
    """The training configuration: known keys typed, and the epoch counts consistent."""
    config = _record(_plain_map(value, "config"), "config", CONFIG, complete=False)
    epochs, run, best = (config.get(k) for k in ("epochs", "epochs_run", "best_epoch"))
    if run is not None and epochs is not None and run > epochs:
        raise SchemaError(f"config.epochs_run: {run} is more than config.epochs ({epochs})")
    if best is not None and run is not None and best > run:
        raise SchemaError(f"config.best_epoch: {best} is after the last epoch run ({run})")
    if run is not None and history is not None and run != history.epochs:
        raise SchemaError(
            f"config.epochs_run: {run}, but history records {history.epochs} epoch(s)"
        )
    return config


_CREATED = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_DIGEST = re.compile(r"[0-9a-f]{64}")


def _created(value: Any, path: str) -> None:
    text = _str(value, path, 64)
    try:
        valid = bool(_CREATED.fullmatch(text)) and bool(
            datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
        )
    except ValueError:
        valid = False
    if not valid:
        raise SchemaError(f"{path}: {text!r} is not a UTC time written YYYY-MM-DDTHH:MM:SSZ")


def _digest(value: Any, path: str) -> None:
    if not _DIGEST.fullmatch(_str(value, path, 64)):
        raise SchemaError(f"{path}: {value!r} is not a SHA-256 digest (64 lowercase hex digits)")


PROVENANCE = {
    "created": _created,
    "dataset": _str,
    "dataset_sha256": _digest,
    "nnfunc_version": _str,
    "numpy_version": _str,
}


# The keys that tell the two kinds of report apart: a report may hold keys nnfunc does not know,
# but none of the other kind's (a reader may tell them apart by the presence of `accuracy`).
CLASSIFICATION_KEYS = ("accuracy", "confusion_matrix", "macro", "per_class", "weighted")
REGRESSION_KEYS = ("mae", "mse", "per_target", "r2", "rmse")


def _decode_metrics(
    value: Any, task: str, classes: tuple[Any, ...], target_names: tuple[str, ...]
) -> dict[str, Any]:
    """One complete report of the task's kind per split (any split name)."""
    metrics = _plain_map(value, "metrics")
    kind, foreign = (
        ("classifier", REGRESSION_KEYS)
        if task == "classify"
        else ("regressor", CLASSIFICATION_KEYS)
    )
    for split, report in metrics.items():
        path = f"metrics.{split[:40]}"
        if task == "classify":
            _classification_report(report, path, classes)
        else:
            _regression_report(report, path, target_names)
        wrong = [k for k in foreign if k in report]
        if wrong:
            raise SchemaError(f"{path}: a {kind}'s report has no key(s) {_shown(wrong)}")
    return metrics


def _classification_report(value: Any, path: str, classes: tuple[Any, ...]) -> None:
    """`metrics.classification_report`: figures in range, one entry per class, counts that agree."""
    schema = {
        "accuracy": FRACTION,
        "confusion_matrix": _checked_later,
        "macro": lambda v, p: _record(v, p, SCORES, complete=True),
        "n_samples": _count(1),
        "per_class": _checked_later,
        "weighted": lambda v, p: _record(v, p, WEIGHTED, complete=True),
    }
    report = _record(value, path, schema, complete=True)
    keys = [str(c) for c in classes]
    per_class = _fields(report["per_class"], f"{path}.per_class", keys)
    entry = {**SCORES, "support": _count(0)}
    support = [
        _record(per_class[k], f"{path}.per_class.{k[:40]}", entry, complete=True)["support"]
        for k in keys
    ]
    where = f"{path}.confusion_matrix"
    rows = _list(report["confusion_matrix"], where, MAX_UNITS)
    if len(rows) != len(keys):
        raise SchemaError(f"{where}: expected {len(keys)} rows (one per class), got {len(rows)}")
    for i, row in enumerate(rows):
        cells = _list(row, f"{where}[{i}]", MAX_UNITS)
        if len(cells) != len(keys):
            raise SchemaError(
                f"{where}[{i}]: expected {len(keys)} counts (one per class), got {len(cells)}"
            )
        if not all(type(n) is int and 0 <= n <= MAX_COUNT for n in cells):
            for j, n in enumerate(cells):
                _int(n, f"{where}[{i}][{j}]", 0, MAX_COUNT)
        if sum(cells) != support[i]:
            raise SchemaError(
                f"{where}[{i}]: the row adds up to {sum(cells)}, but class {keys[i][:40]!r} "
                f"has support {support[i]}"
            )
    if sum(support) != report["n_samples"]:
        raise SchemaError(
            f"{where}: the counts add up to {sum(support)}, but n_samples is {report['n_samples']}"
        )


def _regression_report(value: Any, path: str, target_names: tuple[str, ...]) -> None:
    """`metrics.regression_report`: errors at least 0, R2 at most 1, one entry per target."""
    schema = {**ERRORS, "n_samples": _count(1), "per_target": _checked_later}
    report = _record(value, path, schema, complete=True)
    per_target = _fields(report["per_target"], f"{path}.per_target", target_names)
    for name in target_names:
        _record(per_target[name], f"{path}.per_target.{name[:40]}", ERRORS, complete=True)


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
            config=_decode_config(fields["config"], history),
            metrics=_decode_metrics(fields["metrics"], task, classes, target_names),
            provenance=_record(
                _plain_map(fields["provenance"], "provenance"),
                "provenance",
                PROVENANCE,
                complete=False,
            ),
        )
    except SchemaError:
        raise
    except ValueError as exc:
        raise SchemaError(f"model: {exc}") from None
