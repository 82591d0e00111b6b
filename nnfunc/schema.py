"""Checked decoding of plain msgpack data: each helper returns the value or raises SchemaError.

A model file's payload is untrusted; these small checks (a map with exactly these keys, an int in
a range, a printable name, a JSON-like map) are what `nnfunc.codec` and `nnfunc.run_record` build
their field-by-field validation from. Every message starts with the path of the bad field.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any

from nnfunc.msgpack_safe import MsgpackError, check_plain, without_gc

MAX_LAYERS = 256
MAX_UNITS = 1 << 24
MAX_NAME_LEN = 1024
MAX_JSON_DEPTH = 16

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


def exact_map(value: Any, path: str, keys: Sequence[str]) -> dict[str, Any]:
    """A map with exactly `keys`: missing and unknown keys are both errors."""
    if not isinstance(value, dict):
        raise SchemaError(f"{path}: expected a map, got {kind(value)}")
    missing = [k for k in keys if k not in value]
    if missing:
        raise SchemaError(f"{path}: missing key(s) {shown(missing)}")
    known = set(keys)
    unknown = sorted(k for k in value if k not in known)
    if unknown:
        raise SchemaError(f"{path}: unknown key(s) {shown(unknown)}")
    return value


def shown(keys: Sequence[str]) -> str:
    """The first few of `keys`, quoted and shortened, for a message."""
    more = f" and {len(keys) - 5} more" if len(keys) > 5 else ""
    return ", ".join(repr(k[:40]) for k in keys[:5]) + more


def kind(value: Any) -> str:
    names = {dict: "a map", list: "an array", str: "a string", bytes: "binary data"}
    names.update({type(None): "nil", bool: "a boolean", int: "an integer", float: "a float"})
    return names.get(type(value), type(value).__name__)


def string(value: Any, path: str, max_len: int = MAX_NAME_LEN) -> str:
    """A printable string of at most `max_len` characters (see `UNPRINTABLE`)."""
    if not isinstance(value, str):
        raise SchemaError(f"{path}: expected a string, got {kind(value)}")
    if len(value) > max_len:
        raise SchemaError(f"{path}: string longer than {max_len} characters")
    return printable(value, path)


def padding_problem(name: str) -> str | None:
    """Why a column name or text class label could never be matched, or None: CSV cells are read
    without surrounding spaces, so neither an empty name nor a padded one can come from data."""
    if not name:
        return "is empty"
    if name != name.strip():
        return "has spaces at its start or end (CSV cells are read without them)"
    return None


def column_name(value: Any, path: str) -> str:
    """A name a CSV header or cell can match: `string`, not empty, no surrounding spaces."""
    name = string(value, path)
    problem = padding_problem(name)
    if problem is not None:
        raise SchemaError(f"{path}: {name!r} {problem}")
    return name


def printable(text: str, path: str, what: str = "") -> str:
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


def integer(value: Any, path: str, lo: int, hi: int) -> int:
    if type(value) is not int:
        raise SchemaError(f"{path}: expected an integer, got {kind(value)}")
    if not lo <= value <= hi:
        raise SchemaError(f"{path}: {value} is outside [{lo}, {hi}]")
    return value


def sequence(value: Any, path: str, max_len: int) -> list[Any]:
    if not isinstance(value, list):
        raise SchemaError(f"{path}: expected an array, got {kind(value)}")
    if len(value) > max_len:
        raise SchemaError(f"{path}: more than {max_len} entries")
    return value


def distinct_names(value: Any, path: str, expected: int | None) -> tuple[str, ...]:
    """Printable names, `expected` of them (None: any number), distinct even in Unicode NFC form,
    which is how nnfunc matches them to a file's columns."""
    items = enumerate(sequence(value, path, MAX_UNITS))
    names = tuple(column_name(v, f"{path}[{i}]") for i, v in items)
    if expected is not None and len(names) != expected:
        raise SchemaError(f"{path}: expected {expected} name(s), got {len(names)}")
    seen: set[str] = set()
    for i, name in enumerate(names):
        form = unicodedata.normalize("NFC", name)  # as `names.nfc`, which imports this module
        if form in seen:
            raise SchemaError(f"{path}[{i}]: {name[:40]!r} appears more than once")
        seen.add(form)
    return names


# Values in a model file's payload besides the weights (bin data, one value each): enough for the
# metrics of a classifier of about 800 classes (a confusion matrix per split), and a bound on the
# memory and time that decoding a small hostile file can take.
MAX_OBJECTS = 1 << 21
# Values a free-form map (a model's config, provenance) may hold: far more than any real one, and
# few enough that a hostile file cannot make checking it take long.
MAX_PLAIN_VALUES = 1 << 16


def plain_map(value: Any, path: str, max_values: int = MAX_PLAIN_VALUES) -> dict[str, Any]:
    """A JSON-like map: no bin, bounded nesting and size (`max_values` keys and values in all),
    keys that are names, printable strings only."""
    if not isinstance(value, dict):
        raise SchemaError(f"{path}: expected a map, got {kind(value)}")
    with without_gc():  # the walks below make a tuple per value: no cycles to collect
        return _plain_map(value, path, max_values)


def _plain_map(value: dict[str, Any], path: str, max_values: int) -> dict[str, Any]:
    _check_size(value, path, max_values)
    try:
        check_plain(value, max_depth=MAX_JSON_DEPTH, what=path)
    except MsgpackError as exc:
        raise SchemaError(str(exc)) from None
    # Paths are kept as (parent, key or index) links and spelled out only for a message: a map
    # may hold a million small values, and a string per value would cost more than the data.
    stack: list[tuple[Any, Any]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                if len(key) > MAX_NAME_LEN:
                    raise SchemaError(
                        f"{_spelled(where)}: key longer than {MAX_NAME_LEN} characters"
                    )
                if not key.isprintable():  # then the exact rule decides (some Cf are allowed)
                    printable(key, _spelled(where), "key ")
                if _worth_checking(child):
                    stack.append((child, (where, key)))
        elif isinstance(item, list):
            stack.extend((v, (where, i)) for i, v in enumerate(item) if _worth_checking(v))
        elif isinstance(item, str):
            if not item.isprintable():  # as for keys
                printable(item, _spelled(where))
        elif isinstance(item, bytes):
            raise SchemaError(
                f"{_spelled(where)}: binary data is not allowed here (JSON-like values only)"
            )
    return value


def _worth_checking(value: Any) -> bool:
    """False for numbers and empty lists or maps: nothing in them can break `plain_map`'s rules
    (an empty bin still can)."""
    kind = type(value)
    return not (kind is int or kind is float or ((kind is list or kind is dict) and not value))


def _check_size(value: Any, path: str, max_values: int) -> None:
    """Refuse `value` once its maps and lists hold more than `max_values` entries in all (the
    walk stops there, so a huge value costs no more than a legal one)."""
    stack, values = [value], 0
    while stack:
        item = stack.pop()
        values += len(item)
        if values > max_values:
            raise SchemaError(f"{path}: more than {max_values:,} values")
        children = item.values() if type(item) is dict else item
        stack.extend(child for child in children if child and type(child) in (dict, list))


def _spelled(where: Any) -> str:
    """`a.b[3]` from the links (("a", "b"), 3) that `plain_map` keeps."""
    parts = []
    while isinstance(where, tuple):
        where, token = where
        parts.append(f"[{token}]" if type(token) is int else f".{token[:40]}")
    return where + "".join(reversed(parts))


Check = Callable[[Any, str], Any]
MAX_COUNT = 2**63 - 1


def is_number(value: Any) -> bool:
    return type(value) is int or type(value) is float  # not bool


def number(lo: float, hi: float, what: str) -> Check:
    """A check for an int or float in [lo, hi] (never NaN)."""

    def check(value: Any, path: str) -> None:
        if not is_number(value):
            raise SchemaError(f"{path}: expected a number, got {kind(value)}")
        if not lo <= value <= hi:  # NaN fails every comparison
            raise SchemaError(f"{path}: {value!r} is not {what}")

    return check


def count(lo: int, hi: int = MAX_COUNT) -> Check:
    return lambda value, path: integer(value, path, lo, hi)


def optional(check: Check) -> Check:
    return lambda value, path: None if value is None else check(value, path)


def boolean(value: Any, path: str) -> None:
    if type(value) is not bool:
        raise SchemaError(f"{path}: expected a boolean, got {kind(value)}")


def record(value: Any, path: str, schema: dict[str, Check], *, complete: bool) -> dict[str, Any]:
    """A map whose keys named in `schema` pass their checks (and all exist, when `complete`).

    Other keys are left alone: these maps may gain keys in later nnfunc versions.
    """
    if not isinstance(value, dict):
        raise SchemaError(f"{path}: expected a map, got {kind(value)}")
    missing = [k for k in schema if k not in value] if complete else []
    if missing:
        raise SchemaError(f"{path}: missing key(s) {shown(missing)}")
    for key, check in schema.items():
        if key in value:
            check(value[key], f"{path}.{key}")
    return value
