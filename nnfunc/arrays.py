"""Read-only numpy arrays as fields of frozen attrs records.

`attrs.frozen` is shallow: a record would still let `rec.w[0, 0] = 5` through. The helpers here
copy incoming arrays once and mark them read-only, and define equality on purpose (shape, dtype
and values), so records holding arrays behave like values. Two small helpers make row-wise
reductions over a few columns fast (numpy's own are slow there); the last ones turn what a user
passes in into real numbers or say clearly why they cannot (`numeric_array`), and check that
arrays are finite (`all_finite`, `finite_as`).
"""

from __future__ import annotations

import functools
import math
import weakref
from collections.abc import Iterable
from typing import Any

import attrs
import numpy as np

# The buffers `_locked` made read-only, by id, with a weak reference that tells a live one from a
# dead one whose id was reused: an array is "ours" (safe to share without a copy) only when its
# owner is one of them. A caller's own read-only array is not: its owner can be made writable
# again, and the record would change with it. (Plain weak references: a WeakValueDictionary
# costs twice as much per array, and `freeze` runs several times in every pure optimizer step.)
_OWNERS: dict[int, weakref.ref] = {}
_PRUNE_AT = [1024]  # the registry size at which dead entries are dropped next (amortised O(1))


def _prune() -> None:
    """Drop the entries of owners that are gone; next time at twice the size left."""
    for key, ref in list(_OWNERS.items()):  # a copy: other threads may register meanwhile
        if ref() is None:
            _OWNERS.pop(key, None)
    _PRUNE_AT[0] = max(1024, 2 * len(_OWNERS))


def _locked(array: np.ndarray) -> np.ndarray:
    """A read-only view of `array`, which becomes read-only too and is held only by the view.

    numpy lets the owner of a buffer turn its `writeable` flag back on, but not a view of a
    read-only base, so records hand out views: `setflags(write=True)` on them raises.
    """
    array.flags.writeable = False
    _OWNERS[id(array)] = weakref.ref(array)
    if len(_OWNERS) >= _PRUNE_AT[0]:
        _prune()
    return array.view()


def _is_locked(value: Any) -> bool:
    """True for an array `_locked` made: read-only, over a read-only owner that it locked."""
    base = value.base
    if value.flags.writeable or not isinstance(base, np.ndarray) or base.flags.writeable:
        return False
    ref = _OWNERS.get(id(base))
    return ref is not None and ref() is base


def frozen_array(value: Any) -> np.ndarray:
    """Return a read-only array for `value`, copying unless it is already one of ours.

    An array that `freeze` or this function made is returned as it is, so `attrs.evolve` and the
    library's own hot paths (which freeze the fresh arrays they make) never pay for a copy.
    """
    if isinstance(value, np.ndarray) and _is_locked(value):
        return value
    return _locked(np.array(value, copy=True))


def freeze(array: np.ndarray) -> np.ndarray:
    """Make an array the library has just computed read-only, without copying it when it owns
    its buffer. Only for fresh arrays: one a caller holds would be locked under them (use
    `frozen_array` for anything that may be theirs)."""
    if _is_locked(array):
        return array
    return _locked(array.copy() if array.base is not None else array)


def frozen_arrays(values: Iterable[Any]) -> tuple[np.ndarray, ...]:
    """Converter for a tuple of arrays: each one read-only."""
    return tuple(frozen_array(v) for v in values)


def arrays_equal(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal shape, dtype and values (NaNs in the same places count as equal)."""
    if a is b:
        return True
    return (
        a.shape == b.shape
        and a.dtype == b.dtype
        and bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    )


def array_tuples_equal(a: tuple[np.ndarray, ...], b: tuple[np.ndarray, ...]) -> bool:
    """Element-wise `arrays_equal` over two tuples of arrays."""
    return len(a) == len(b) and all(arrays_equal(x, y) for x, y in zip(a, b))


def rebuilt_by_constructor(record: Any) -> tuple[Any, tuple[Any, ...]]:
    """`__reduce__` for records holding arrays: pickle, `copy.copy` and `copy.deepcopy` rebuild
    the record through its constructor, whose converters lock the arrays again (numpy's own
    pickling would hand back writable arrays)."""
    return type(record), attrs.astuple(record, recurse=False)


def array_field(**kwargs: Any) -> Any:
    """An attrs field holding one read-only array, compared by shape, dtype and value."""
    return attrs.field(
        converter=frozen_array, eq=attrs.cmp_using(eq=arrays_equal), hash=False, **kwargs
    )


def array_tuple_field(**kwargs: Any) -> Any:
    """An attrs field holding a tuple of read-only arrays (optimizer moments, say)."""
    return attrs.field(
        converter=frozen_arrays, eq=attrs.cmp_using(eq=array_tuples_equal), hash=False, **kwargs
    )


@functools.lru_cache(maxsize=64)
def ones(n: int, dtype: np.dtype) -> np.ndarray:
    """A cached read-only vector of ones: a row or column sum is one BLAS product with it."""
    vector = np.ones(n, dtype)
    vector.flags.writeable = False
    return vector


def row_max(z: np.ndarray) -> np.ndarray:
    """The maximum of each row, shape (n, 1); column by column where that is faster (few columns).

    numpy reduces short rows one row at a time; comparing whole columns instead wins for two
    columns always, and for three or four once there are enough rows.
    """
    n, k = z.shape
    if not (k == 2 or (k == 3 and n >= 16) or (k == 4 and n >= 64)):
        return z.max(axis=1, keepdims=True)
    m = np.maximum(z[:, 0], z[:, 1])
    for j in range(2, k):
        np.maximum(m, z[:, j], out=m)
    return m[:, None]


def numeric_array(value: Any, what: str, expected: str = "real numbers") -> np.ndarray:
    """`value` as an array of real numbers (no copy when it already is one), else a ValueError.

    Complex values are refused rather than silently losing their imaginary part; object arrays
    become float64 (a None becoming NaN, for the caller's finiteness check); strings are refused.
    `expected` completes the message "`what` must be ...".
    """
    try:
        array = np.asarray(value)
    except ValueError as exc:  # ragged nested lists
        raise ValueError(f"{what} must be a rectangular array of {expected} ({exc})") from None
    kind = array.dtype.kind
    if kind in "fiub":
        return array
    if kind == "O":
        try:
            return array.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{what} must be {expected}: {exc}") from None
    got = "complex values" if kind == "c" else f"values of type {array.dtype}"
    raise ValueError(f"{what} must be {expected}, got {got}")


def all_finite(array: np.ndarray) -> bool:
    """True when no value is NaN or infinite. The sum of squares (`np.vdot`, a BLAS call: fast,
    and it never warns) decides unless it is not finite itself, as huge finite values can make it;
    then a full check does."""
    if array.dtype.kind != "f":
        return True
    return math.isfinite(np.vdot(array, array)) or bool(np.isfinite(array).all())


def finite_as(values: np.ndarray, dtype: np.dtype, what: str) -> np.ndarray:
    """`values` cast to `dtype`, refused (ValueError naming `what`) when any is NaN or infinite,
    or beyond what `dtype` holds: a float64 1e39 would turn into float32 infinity."""
    if not all_finite(values):
        raise ValueError(f"{what} contain NaN or infinity")
    if values.dtype == dtype:
        return values
    with np.errstate(over="ignore"):
        cast = values.astype(dtype)
    if not all_finite(cast):
        name, limit = np.dtype(dtype).name, float(np.finfo(dtype).max)
        raise ValueError(
            f"{what} hold values beyond what {name}, the network's dtype, can hold "
            f"(magnitudes up to {limit:.4g})"
        )
    return cast
