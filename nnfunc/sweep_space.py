"""Search spaces written as text: `3..40`, `16x16,32`, `1e-4..1e-1:4`, and TOML or JSON files.

This is the syntax of `nnfunc sweep`'s options and of its `--config` file, turned into what
`nnfunc.sweep.grid` and `random_search` take: lists of values, or a `Range` for random search.
Every mistake raises ValueError with a one-line message naming the parameter.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from nnfunc.sweep import SWEEPABLE, Range

INTEGER = ("batch_size", "epochs")
FLOAT = ("lr", "l2")
NONE_WORDS = {"batch_size": ("full", "none"), "lr": ("default", "none")}
FILE_KEYS = (*SWEEPABLE, "fixed", "dataset", "trials", "seed", "random")


def _number(name: str, text: str) -> Any:
    """An int or float for `name` (None for the words meaning "default", like `full`)."""
    text = text.strip()
    if text.lower() in NONE_WORDS.get(name, ()):
        return None
    try:
        return int(text) if name in INTEGER or name == "hidden" else float(text)
    except ValueError:
        kind = "an integer" if name in INTEGER or name == "hidden" else "a number"
        raise ValueError(f"{name}: {text!r} is not {kind}") from None


def _range(name: str, text: str, random: bool) -> list[Any] | Range:
    """`lo..hi` (every integer; a log-uniform interval with --random) or `lo..hi:N` (N points)."""
    span, _, points = text.partition(":")
    lo, hi = (_number("epochs" if name == "hidden" else name, part) for part in span.split("..", 1))
    if lo is None or hi is None or lo > hi or (name in FLOAT and lo <= 0):
        raise ValueError(f"{name}: bad range {text!r} (need 0 < low <= high)")
    integer = name not in FLOAT
    if points:
        n = _number("epochs", points)
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
        value = _number(name, str(item))
        return [(value,) if name == "hidden" else value]
    item = item.strip()
    if ".." in item:
        return _range(name, item, random)
    if name in ("activation", "optimizer"):
        return [item]
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


def read_space_file(path: str | Path) -> dict[str, Any]:
    """A TOML (Python 3.11+) or JSON file's table of sweep settings."""
    text = Path(path).read_bytes()
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
