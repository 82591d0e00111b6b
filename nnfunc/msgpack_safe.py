"""Unpack untrusted msgpack with explicit limits, and pack plain data deterministically.

Model files and `application/msgpack` request bodies both come from outside; `unpackb_limited`
turns any malformed, oversized, over-nested or unexpected input into one `MsgpackError` (a
ValueError) instead of whatever msgpack, a hook or Python itself would raise.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator
from typing import Any

import msgpack
import numpy as np

PLAIN_TYPES = (type(None), bool, int, float, str, bytes, list, dict)
_SCALARS = frozenset(PLAIN_TYPES[:6])
_CONTAINERS = frozenset((list, dict))


class MsgpackError(ValueError):
    """Bytes that are not acceptable msgpack under the limits asked for."""


def _refuse_ext(code: int, data: bytes) -> Any:
    raise MsgpackError(f"msgpack extension type {code} is not accepted")


def _map_without_duplicates(pairs: list[tuple[Any, Any]]) -> dict[str, Any]:
    """A dict from key/value pairs; a repeated key (msgpack would keep the last) is refused."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if not isinstance(key, str):
            raise MsgpackError(f"map keys must be strings, got {type(key).__name__}")
        if key in out:
            raise MsgpackError(f"duplicate map key {key[:80]!r}")
        out[key] = value
    return out


def check_plain(value: Any, *, max_depth: int, what: str = "value") -> None:
    """Refuse nesting deeper than `max_depth` and anything but nil/bool/int/float/str/bin/list/map.

    Iterative, so a hostile depth cannot exhaust the Python stack. msgpack's timestamp extension
    (code -1) bypasses `ext_hook` and decodes to a `Timestamp`; it is caught here.
    """
    if type(value) not in _CONTAINERS:
        _check_scalar(value, what)
        return
    if max_depth < 1:
        raise MsgpackError(f"{what}: nested deeper than {max_depth} levels")
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        for child in item.values() if type(item) is dict else item:
            kind = type(child)
            if kind in _CONTAINERS:
                if depth >= max_depth:
                    raise MsgpackError(f"{what}: nested deeper than {max_depth} levels")
                if child:  # an empty one holds nothing to check
                    stack.append((child, depth + 1))
            elif kind not in _SCALARS:
                _check_scalar(child, what)


def _check_scalar(value: Any, what: str) -> None:
    if type(value) not in _SCALARS:
        raise MsgpackError(f"{what}: type {type(value).__name__} is not accepted")


# How a msgpack object starts, by its first byte: ("fixed", size in bytes), ("fixarray" or
# "fixmap", children), ("var", (header size, length bytes)) for str/bin/ext, ("array" or "map",
# (header size, count bytes)); None for the unused byte 0xc1.
def _lead_bytes() -> list[Any]:
    table: list[Any] = [None] * 256
    for b in (*range(0x00, 0x80), *range(0xE0, 0x100), 0xC0, 0xC2, 0xC3):
        table[b] = ("fixed", 1)
    for b in range(0x80, 0x90):
        table[b] = ("fixmap", b & 0x0F)
    for b in range(0x90, 0xA0):
        table[b] = ("fixarray", b & 0x0F)
    for b in range(0xA0, 0xC0):
        table[b] = ("fixed", 1 + (b & 0x1F))
    sizes = {0xCA: 5, 0xCB: 9, 0xCC: 2, 0xCD: 3, 0xCE: 5, 0xCF: 9, 0xD0: 2, 0xD1: 3, 0xD2: 5}
    sizes |= {0xD3: 9, 0xD4: 3, 0xD5: 4, 0xD6: 6, 0xD7: 10, 0xD8: 18}
    for b, size in sizes.items():
        table[b] = ("fixed", size)
    for b, header in {0xC4: 2, 0xC5: 3, 0xC6: 5, 0xD9: 2, 0xDA: 3, 0xDB: 5}.items():
        table[b] = ("var", (header, header - 1))  # bin8/16/32, str8/16/32
    for b, header in {0xC7: 3, 0xC8: 4, 0xC9: 6}.items():
        table[b] = ("var", (header, header - 2))  # ext8/16/32: length, then a type byte
    table[0xDC], table[0xDD] = ("array", (3, 2)), ("array", (5, 4))
    table[0xDE], table[0xDF] = ("map", (3, 2)), ("map", (5, 4))
    return table


_LEAD = _lead_bytes()


def count_objects(data: bytes | memoryview, limit: int) -> int:
    """How many msgpack objects (every value, key and container) `data` holds, read from the
    headers alone; MsgpackError as soon as there are more than `limit`.

    Decoding allocates a Python object of 30 to 60 bytes per msgpack object of 1 byte (an empty
    list, say), so a small file could cost gigabytes and minutes: this bounds that first, in
    about 0.2 us per object. Malformed data is left to the decoder to describe.
    """
    pos, pending, seen, size = 0, 1, 0, len(data)
    read = int.from_bytes
    while pending and pos < size:
        pending -= 1
        seen += 1
        if seen > limit:
            raise MsgpackError(f"more than {limit:,} values")
        lead = _LEAD[data[pos]]
        if lead is None:
            break
        kind, arg = lead
        if kind == "fixed":
            pos += arg
        elif kind == "fixarray":
            pos, pending = pos + 1, pending + arg
        elif kind == "fixmap":
            pos, pending = pos + 1, pending + 2 * arg
        else:
            header, width = arg
            length = read(data[pos + 1 : pos + 1 + width], "big")
            if kind == "var":
                pos += header + length
            else:
                pos += header
                pending += length if kind == "array" else 2 * length
    return seen


def unpackb_limited(
    data: bytes,
    *,
    max_bytes: int,
    max_depth: int = 32,
    max_str_len: int = 1 << 16,
    max_bin_len: int | None = None,
    max_array_len: int = 1 << 20,
    max_map_len: int = 1 << 16,
    max_objects: int | None = None,
) -> Any:
    """Unpack one msgpack object from untrusted `data`, or raise `MsgpackError` saying why.

    Strings are UTF-8 (`raw=False`), map keys must be unique strings, extension types are refused,
    trailing bytes are refused, and every length and the nesting depth are capped. `max_bin_len`
    defaults to `max_bytes`; `max_objects` caps the number of values (see `count_objects`).
    Maps come back as dicts, arrays as lists.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise MsgpackError(f"expected bytes, got {type(data).__name__}")
    if len(data) > max_bytes:
        raise MsgpackError(f"{len(data)} bytes exceed the limit of {max_bytes}")
    if len(data) == 0:
        raise MsgpackError("no data (0 bytes)")
    if max_objects is not None:
        count_objects(data, max_objects)
    limits = {
        "max_str_len": max_str_len,
        "max_bin_len": max_bytes if max_bin_len is None else max_bin_len,
        "max_array_len": max_array_len,
        "max_map_len": max_map_len,
    }
    # Decoded data holds no cycles, and collections while a big file's lists are made (and walked)
    # cost up to five times the decoding itself.
    with without_gc():
        return _unpack(data, max_depth, limits)


# The collector is one switch for the whole process, and a server decodes in several threads at
# once: it is switched off by the first block to enter and back on by the last to leave, and only
# if it was on before the first.
_pause_lock = threading.Lock()
_pausing = 0
_was_enabled = False


@contextlib.contextmanager
def without_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector: for building or walking big acyclic data."""
    global _pausing, _was_enabled
    with _pause_lock:
        if _pausing == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _pausing += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pausing -= 1
            if _pausing == 0 and _was_enabled:
                gc.enable()


def _unpack(data: bytes, max_depth: int, limits: dict[str, int]) -> Any:
    """`unpackb_limited`'s decoding, every failure a MsgpackError."""
    try:
        value = msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=True,
            use_list=True,
            object_pairs_hook=_map_without_duplicates,
            ext_hook=_refuse_ext,
            max_ext_len=64,  # short ones reach _refuse_ext, which names the type code
            **limits,
        )
    except MsgpackError:
        raise
    except msgpack.ExtraData:
        raise MsgpackError("trailing bytes after the msgpack object") from None
    except msgpack.StackError:
        raise MsgpackError(f"nested deeper than {max_depth} levels") from None
    except (msgpack.OutOfData, msgpack.FormatError, msgpack.UnpackException) as exc:
        raise MsgpackError(f"truncated or malformed msgpack ({_describe(exc)})") from None
    except (ValueError, TypeError, OverflowError, RecursionError, MemoryError) as exc:
        text = str(exc)
        if "incomplete input" in text:
            raise MsgpackError("truncated msgpack (the data ends too early)") from None
        if "not allowed for map key" in text:
            raise MsgpackError("map keys must be strings") from None
        if "max_ext_len" in text:
            raise MsgpackError("msgpack extension types are not accepted") from None
        raise MsgpackError(f"malformed msgpack ({_describe(exc)})") from None
    check_plain(value, max_depth=max_depth, what="msgpack data")
    return value


def _describe(exc: BaseException) -> str:
    """A short one-line description of a decoding exception."""
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def to_plain(value: Any, *, what: str, max_depth: int = 16) -> Any:
    """JSON-like data ready to pack: tuples become lists, numpy scalars python ones, keys sorted.

    Sorting map keys makes the packed bytes a function of the content alone. Anything that msgpack
    could not represent faithfully (sets, objects, non-string keys) raises ValueError.
    """
    if max_depth < 0:
        raise ValueError(f"{what}: nested too deeply")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        value = int(value)
        if not -(2**63) <= value < 2**64:
            raise ValueError(f"{what}: integer {value} does not fit in 64 bits")
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [
            to_plain(v, what=f"{what}[{i}]", max_depth=max_depth - 1) for i, v in enumerate(value)
        ]
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise ValueError(f"{what}: map keys must be strings, got {key!r}")
        return {
            key: to_plain(value[key], what=f"{what}.{key}", max_depth=max_depth - 1)
            for key in sorted(value)
        }
    raise ValueError(f"{what}: cannot store a value of type {type(value).__name__}")


def packb_plain(value: Any) -> bytes:
    """Pack plain data (as `to_plain` returns) with bin types for bytes and float64 for floats."""
    return msgpack.packb(value, use_bin_type=True, use_single_float=False, strict_types=True)
