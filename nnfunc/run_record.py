"""The checks for a model file's description of its training run: `config`, `metrics`, `provenance`.

These JSON-like maps may hold keys nnfunc does not know (later versions may add some), but the keys
nnfunc writes must have the types and ranges it writes, and the metrics must fit the model: one
complete report of the task's kind per split, one entry per class or target, counts that agree.
See docs/model-format.md for what is checked.
"""

from __future__ import annotations

import datetime
import math
import re
from typing import Any

from nnfunc.schema import (
    MAX_COUNT,
    MAX_LAYERS,
    MAX_OBJECTS,
    MAX_UNITS,
    SchemaError,
    boolean,
    count,
    exact_map,
    integer,
    number,
    optional,
    plain_map,
    record,
    sequence,
    shown,
    string,
)
from nnfunc.training import History

MAX_FLOAT = 1.7976931348623157e308  # the largest finite float64


def _checked_later(value: Any, path: str) -> None:
    """Required, and checked by the caller once the rest of the map is known."""


FRACTION = number(0.0, 1.0, "a fraction in [0, 1]")
POSITIVE = number(math.ulp(0.0), MAX_FLOAT, "a positive finite number")
NON_NEGATIVE = number(0.0, MAX_FLOAT, "a non-negative finite number")
SHARE = number(0.0, math.nextafter(1.0, 0.0), "a fraction in [0, 1)")
ERROR = number(0.0, math.inf, "a possible error (at least 0)")
R2 = number(-math.inf, 1.0, "a possible R2 (at most 1)")
SCORES = {"f1": FRACTION, "precision": FRACTION, "recall": FRACTION}
# A mean weighted by class support can round up to 1.0000000000000002.
WEIGHTED = dict.fromkeys(SCORES, number(0.0, 1.0 + 1e-9, "a fraction in [0, 1]"))
ERRORS = {"mae": ERROR, "mse": ERROR, "r2": R2, "rmse": ERROR}


def _hidden(value: Any, path: str) -> None:
    for i, size in enumerate(sequence(value, path, MAX_LAYERS)):
        integer(size, f"{path}[{i}]", 1, MAX_UNITS)


def _schedule(value: Any, path: str) -> None:
    record(value, path, {"lr": POSITIVE, "name": string}, complete=False)


def _optimizer(value: Any, path: str) -> None:
    schema = {"clip_norm": optional(POSITIVE), "name": string, "schedule": _schedule}
    record(value, path, schema, complete=False)


CONFIG = {
    "activation": string,
    "batch_size": optional(count(1)),
    "best_epoch": count(0),
    "clip_norm": optional(POSITIVE),
    "dtype": string,
    "early_stopping": boolean,
    "epochs": count(1),
    "epochs_run": count(0),
    "hidden": _hidden,
    "init": optional(string),
    "l2": NON_NEGATIVE,
    "loss": optional(string),
    "lr": optional(POSITIVE),
    "optimizer": string,
    "optimizer_config": _optimizer,
    "output_activation": optional(string),
    "patience": optional(count(1)),
    "scale_features": boolean,
    "scale_targets": boolean,
    "schedule": string,
    "seed": count(0, 2**64 - 1),
    "stopped_early": boolean,
    "test_split": SHARE,
    "val_split": SHARE,
}


def decode_config(value: Any, history: History | None) -> dict[str, Any]:
    """The training configuration: known keys typed, and the epoch counts consistent."""
    config = record(plain_map(value, "config"), "config", CONFIG, complete=False)
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
    text = string(value, path, 64)
    try:
        valid = bool(_CREATED.fullmatch(text)) and bool(
            datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
        )
    except ValueError:
        valid = False
    if not valid:
        raise SchemaError(f"{path}: {text!r} is not a UTC time written YYYY-MM-DDTHH:MM:SSZ")


def _digest(value: Any, path: str) -> None:
    if not _DIGEST.fullmatch(string(value, path, 64)):
        raise SchemaError(f"{path}: {value!r} is not a SHA-256 digest (64 lowercase hex digits)")


PROVENANCE = {
    "created": _created,
    "dataset": string,
    "dataset_sha256": _digest,
    "nnfunc_version": string,
    "numpy_version": string,
}


# The keys that tell the two kinds of report apart: a report may hold keys nnfunc does not know,
# but none of the other kind's (a reader may tell them apart by the presence of `accuracy`).
CLASSIFICATION_KEYS = ("accuracy", "confusion_matrix", "macro", "per_class", "weighted")
REGRESSION_KEYS = ("mae", "mse", "per_target", "r2", "rmse")


def decode_metrics(
    value: Any, task: str, classes: tuple[Any, ...], target_names: tuple[str, ...]
) -> dict[str, Any]:
    """One complete report of the task's kind per split (any split name)."""
    metrics = plain_map(value, "metrics", max_values=MAX_OBJECTS)  # confusion matrices
    which, foreign = (
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
            raise SchemaError(f"{path}: a {which}'s report has no key(s) {shown(wrong)}")
    return metrics


def _classification_report(value: Any, path: str, classes: tuple[Any, ...]) -> None:
    """`metrics.classification_report`: figures in range, one entry per class, counts that agree."""
    schema = {
        "accuracy": FRACTION,
        "confusion_matrix": _checked_later,
        "macro": lambda v, p: record(v, p, SCORES, complete=True),
        "n_samples": count(1),
        "per_class": _checked_later,
        "weighted": lambda v, p: record(v, p, WEIGHTED, complete=True),
    }
    report = record(value, path, schema, complete=True)
    keys = [str(c) for c in classes]
    per_class = exact_map(report["per_class"], f"{path}.per_class", keys)
    entry = {**SCORES, "support": count(0)}
    support = [
        record(per_class[k], f"{path}.per_class.{k[:40]}", entry, complete=True)["support"]
        for k in keys
    ]
    where = f"{path}.confusion_matrix"
    rows = sequence(report["confusion_matrix"], where, MAX_UNITS)
    if len(rows) != len(keys):
        raise SchemaError(f"{where}: expected {len(keys)} rows (one per class), got {len(rows)}")
    for i, row in enumerate(rows):
        cells = sequence(row, f"{where}[{i}]", MAX_UNITS)
        if len(cells) != len(keys):
            raise SchemaError(
                f"{where}[{i}]: expected {len(keys)} counts (one per class), got {len(cells)}"
            )
        if not all(type(n) is int and 0 <= n <= MAX_COUNT for n in cells):
            for j, n in enumerate(cells):
                integer(n, f"{where}[{i}][{j}]", 0, MAX_COUNT)
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
    schema = {**ERRORS, "n_samples": count(1), "per_target": _checked_later}
    report = record(value, path, schema, complete=True)
    per_target = exact_map(report["per_target"], f"{path}.per_target", target_names)
    for name in target_names:
        record(per_target[name], f"{path}.per_target.{name[:40]}", ERRORS, complete=True)


def decode_provenance(value: Any) -> dict[str, Any]:
    """Where the model came from: the known keys typed, others kept."""
    return record(plain_map(value, "provenance"), "provenance", PROVENANCE, complete=False)
