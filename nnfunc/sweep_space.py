"""Search spaces written as text: `3..40`, `16x16,32`, `1e-4..1e-1:4`, and TOML or JSON files.

This is the syntax of `nnfunc sweep`'s options and of its `--config` file, turned into what
`nnfunc.sweep.grid` and `random_search` take: lists of values, or a `Range` for random search.
Every mistake raises ValueError with a one-line message naming the parameter.
"""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from nnfunc.activations import OUTPUT_ONLY, parse_activation
from nnfunc.losses import LOSSES
from nnfunc.optim import OPTIMIZERS
from nnfunc.params import ALIASES, INITIALIZERS
from nnfunc.pipeline import TrainConfig
from nnfunc.schedules import SCHEDULES
from nnfunc.sweep import SWEEPABLE, Range

INTEGER = ("batch_size", "epochs")
FLOAT = ("lr", "l2")
NONE_WORDS = {"batch_size": ("full", "none"), "lr": ("default", "none")}
FILE_KEYS = (*SWEEPABLE, "fixed", "dataset", "trials", "seed", "random")
MAX_FILE_BYTES = 1024 * 1024
MAX_LAYER_SIZE = 100_000

# The kind of value each TrainConfig field takes in a file's [fixed] table (seed is the sweep's).
FIXED = {
    "hidden": "sizes",
    "activation": "hidden activation",
    "output_activation": "activation or none",
    "loss": "loss or none",
    "init": "initializer or none",
    "optimizer": "optimizer",
    "lr": "positive number or none",
    "schedule": "schedule",
    "batch_size": "positive integer or none",
    "epochs": "positive integer",
    "l2": "number >= 0",
    "clip_norm": "positive number or none",
    "val_split": "fraction",
    "test_split": "fraction",
    "early_stopping": "boolean",
    "patience": "positive integer",
    "dtype": "float type",
    "scale_features": "boolean",
    "scale_targets": "boolean",
}
CHOICES = {
    "loss": tuple(LOSSES),
    "init": (*INITIALIZERS, *ALIASES),
    "optimizer": OPTIMIZERS,
    "schedule": tuple(SCHEDULES),
    "dtype": ("float32", "float64"),
}


def _number(name: str, text: str, what: str | None = None) -> Any:
    """An int or float for `name` (None for the words meaning "default", like `full`); `what`
    names it in messages when it is not `name` itself (a range's point count, say).

    Only plain ASCII numbers: Python's int() and float() would also read `1_0` and non-ASCII
    digits.
    """
    what = what or name
    text = text.strip()
    if text.lower() in NONE_WORDS.get(name, ()):
        return None
    integer = name in INTEGER or name == "hidden"
    try:
        if not text.isascii() or "_" in text:
            raise ValueError(text)
        value = int(text) if integer else float(text)
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise ValueError(f"{what}: {text!r} is not {kind}") from None
    if not integer and not math.isfinite(value):
        raise ValueError(f"{what}: {text!r} is not a finite number")
    if name == "hidden" and not 1 <= value <= MAX_LAYER_SIZE:
        raise ValueError(f"hidden: layer size {value} must lie in [1, {MAX_LAYER_SIZE}]")
    return value


def _name(name: str, value: str) -> str:
    """An optimizer or hidden activation name, refused with the valid ones when unknown."""
    if name == "optimizer":
        if value not in OPTIMIZERS:
            raise ValueError(
                f"optimizer: unknown optimizer {value!r}; choose one of: {', '.join(OPTIMIZERS)}"
            )
        return value
    try:
        act, _ = parse_activation(value)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    if act.name in OUTPUT_ONLY:
        raise ValueError(f"{name}: {act.name} can only be the output activation")
    return value


def _range(name: str, text: str, random: bool) -> list[Any] | Range:
    """`lo..hi` (every integer; a log-uniform interval with --random) or `lo..hi:N` (N points)."""
    span, _, points = text.partition(":")
    bound = "epochs" if name == "hidden" else name  # an integer, checked against layers below
    lo, hi = (_number(bound, part, name) for part in span.split("..", 1))
    if lo is None or hi is None or lo > hi or (name in FLOAT and lo <= 0):
        raise ValueError(f"{name}: bad range {text!r} (need 0 < low <= high)")
    if name == "hidden" and not 1 <= lo <= hi <= MAX_LAYER_SIZE:
        raise ValueError(f"hidden: bad range {text!r} (sizes lie in [1, {MAX_LAYER_SIZE}])")
    integer = name not in FLOAT
    if points:
        n = _number("epochs", points, f"{name}'s number of points")
        if n is None or n < 1:
            raise ValueError(f"{name}: {text!r} needs at least one point")
        values = np.geomspace(lo, hi, n) if not integer else np.linspace(lo, hi, n).round()
        values = dict.fromkeys(int(v) if integer else float(v) for v in values)
        return [(v,) if name == "hidden" else v for v in values]
    if random:
        return Range(lo, hi, log=not integer, integer=integer)
    if not integer:
        raise ValueError(f"{name}: a grid needs points, e.g. {span}:4, or use --random N")
    return [(v,) if name == "hidden" else v for v in range(int(lo), int(hi) + 1)]


def _item(name: str, item: Any, random: bool) -> list[Any] | Range:
    """One comma-separated item (or one file value) as a list of values, or a Range."""
    if isinstance(item, dict):
        unknown = set(item) - {"min", "max", "points"}
        if unknown or not {"min", "max"} <= set(item):
            raise ValueError(f"{name}: a range table has keys min, max and optional points")
        text = f"{item['min']}..{item['max']}" + (f":{item['points']}" if "points" in item else "")
        return _range(name, text, random)
    if name == "hidden" and isinstance(item, list):
        return [tuple(_number(name, str(v)) for v in item)]
    if not isinstance(item, str):
        numeric = isinstance(item, (int, float)) and not isinstance(item, bool)
        if not numeric or name in ("activation", "optimizer"):
            raise ValueError(f"{name}: {item!r} is not a valid value")
        if name in INTEGER + ("hidden",) and not isinstance(item, int):
            raise ValueError(f"{name}: {item!r} is not an integer")
        value = _number(name, str(item))
        return [(value,) if name == "hidden" else value]
    item = item.strip()
    if name in ("activation", "optimizer"):
        return [_name(name, item)]
    if ".." in item:
        return _range(name, item, random)
    if name == "hidden":
        if item.lower() == "none":
            return [()]
        return [tuple(_number(name, part) for part in item.lower().split("x"))]
    return [_number(name, item)]


def parse_values(name: str, raw: Any, *, random: bool = False) -> list[Any] | Range:
    """Values of one swept parameter from an option string ("3..40", "8,16x16") or a file value."""
    items = [p for p in raw.split(",") if p.strip()] if isinstance(raw, str) else raw
    if not isinstance(items, list):
        items = [items]
    parsed = [_item(name, item, random) for item in items]
    if not parsed:
        raise ValueError(f"{name}: no values given")
    if len(parsed) == 1 and isinstance(parsed[0], Range):
        return parsed[0]
    if any(isinstance(p, Range) for p in parsed):
        raise ValueError(f"{name}: an open range cannot be mixed with other values")
    return [value for values in parsed for value in values]


def _fixed_value(key: str, value: Any) -> Any:
    """One [fixed] setting checked against its kind; a one-line ValueError when it does not fit."""
    kind = FIXED[key]
    where = f"fixed.{key}"
    if value is None:
        if kind.endswith(" or none"):
            return None
        raise ValueError(f"{where}: needs a {kind}, not null")
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "sizes":
        sizes = [value] if isinstance(value, int) and not isinstance(value, bool) else value
        if not isinstance(sizes, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_LAYER_SIZE
            for v in sizes
        ):
            raise ValueError(
                f"{where}: needs a list of layer sizes in [1, {MAX_LAYER_SIZE}], got {value!r}"
            )
        return tuple(sizes)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ValueError(f"{where}: must be true or false, got {value!r}")
        return value
    if "integer" in kind:
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{where}: must be a positive integer, got {value!r}")
        return value
    if "number" in kind or kind == "fraction":
        if not is_number or not math.isfinite(value):
            raise ValueError(f"{where}: must be a number, got {value!r}")
        if kind == "fraction" and not 0 <= value < 1:
            raise ValueError(f"{where}: must lie in [0, 1), got {value!r}")
        if kind.startswith("positive") and not value > 0:
            raise ValueError(f"{where}: must be positive, got {value!r}")
        if kind == "number >= 0" and value < 0:
            raise ValueError(f"{where}: must be >= 0, got {value!r}")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"{where}: must be a name (a string), got {value!r}")
    choice = key if key in CHOICES else None
    if choice is not None and value not in CHOICES[choice]:
        raise ValueError(
            f"{where}: unknown {choice} {value!r}; choose one of: {', '.join(CHOICES[choice])}"
        )
    if key in ("activation", "output_activation"):
        try:
            act, _ = parse_activation(value)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        if key == "activation" and act.name in OUTPUT_ONLY:
            raise ValueError(f"{where}: {act.name} can only be the output activation")
    return value


def fixed_settings(table: Any) -> dict[str, Any]:
    """A file's [fixed] table as TrainConfig settings; unknown keys and ill-typed values raise.

    `seed` is refused: the sweep derives each trial's seed from its own `seed`.
    """
    if not isinstance(table, dict):
        raise ValueError("fixed: expected a table of training settings")
    known = [f for f in attrs.fields_dict(TrainConfig) if f in FIXED]
    for key in table:
        if key == "seed":
            raise ValueError(
                "fixed.seed: trial seeds come from the sweep's seed (the top-level seed key or "
                "--seed), not from [fixed]"
            )
        if key not in FIXED:
            raise ValueError(f"fixed: unknown setting {key!r}; known ones: {', '.join(known)}")
    return {key: _fixed_value(key, value) for key, value in table.items()}


def read_space_file(path: str | Path) -> dict[str, Any]:
    """A TOML (Python 3.11+) or JSON file's table of sweep settings (at most 1 MiB)."""
    try:
        with open(path, "rb") as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise ValueError(f"{path}: not a regular file")
            text = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ValueError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(text) > MAX_FILE_BYTES:
        raise ValueError(f"{path}: larger than {MAX_FILE_BYTES // 1024} KiB; not a sweep file")
    toml = str(path).endswith(".toml")
    if toml:
        try:
            import tomllib
        except ImportError:
            raise ValueError(
                f"{path}: TOML needs Python 3.11 or later; write JSON instead"
            ) from None
    try:
        data = tomllib.loads(text.decode("utf-8")) if toml else json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot parse: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a table of settings")
    unknown = sorted(set(data) - set(FILE_KEYS))
    if unknown:
        raise ValueError(
            f"{path}: unknown key(s) {', '.join(unknown)}; known: {', '.join(FILE_KEYS)}"
        )
    return data
