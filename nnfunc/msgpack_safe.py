"""Unpack untrusted msgpack with explicit limits, and pack plain data deterministically.

Model files and `application/msgpack` request bodies both come from outside; `unpackb_limited`
turns any malformed, oversized, over-nested or unexpected input into one `MsgpackError` (a
ValueError) instead of whatever msgpack, a hook or Python itself would raise.
"""

from __future__ import annotations

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
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            raise MsgpackError(f"{what}: nested deeper than {max_depth} levels")
        for child in item.values() if type(item) is dict else item:
            kind = type(child)
            if kind in _CONTAINERS:
                stack.append((child, depth + 1))
            elif kind not in _SCALARS:
                _check_scalar(child, what)


def _check_scalar(value: Any, what: str) -> None:
    if type(value) not in _SCALARS:
        raise MsgpackError(f"{what}: type {type(value).__name__} is not accepted")


def unpackb_limited(
    data: bytes,
    *,
    max_bytes: int,
    max_depth: int = 32,
    max_str_len: int = 1 << 16,
    max_bin_len: int | None = None,
    max_array_len: int = 1 << 20,
    max_map_len: int = 1 << 16,
) -> Any:
    """Unpack one msgpack object from untrusted `data`, or raise `MsgpackError` saying why.

    Strings are UTF-8 (`raw=False`), map keys must be unique strings, extension types are refused,
    trailing bytes are refused, and every length and the nesting depth are capped. `max_bin_len`
    defaults to `max_bytes`. Maps come back as dicts, arrays as lists.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise MsgpackError(f"expected bytes, got {type(data).__name__}")
    if len(data) > max_bytes:
        raise MsgpackError(f"{len(data)} bytes exceed the limit of {max_bytes}")
    if len(data) == 0:
        raise MsgpackError("no data (0 bytes)")
    try:
        value = msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=True,
            use_list=True,
            object_pairs_hook=_map_without_duplicates,
            ext_hook=_refuse_ext,
            max_str_len=max_str_len,
            max_bin_len=max_bytes if max_bin_len is None else max_bin_len,
            max_array_len=max_array_len,
            max_map_len=max_map_len,
            max_ext_len=64,  # short ones reach _refuse_ext, which names the type code
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
