"""Argument checks shared by the public constructors: what counts as an integer or a number.

Python's `int()` and `float()` take strings ("0.1"), bools (True is 1) and, for `int`, truncate
floats (2.5 is 2). A hyper-parameter given in any of those ways is almost always a mistake, so
these checks refuse them with a message that names the argument.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def is_integer(value: Any) -> bool:
    """An int or numpy integer, never a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_real(value: Any) -> bool:
    """An int, float or numpy number, never a bool (nor a string or a complex)."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def real(value: Any, what: str) -> float:
    """`value` as a Python float (NaN and infinity are left to the caller's range check), or a
    TypeError naming `what` for anything that is not a number."""
    if not is_real(value):
        raise TypeError(f"{what} must be a number, got {type(value).__name__} {value!r}")
    return float(value)


def non_negative(value: Any, what: str) -> float:
    """`value` as a finite float >= 0: TypeError for a non-number (a bool, a string), ValueError
    for a negative, NaN or infinite one."""
    number = real(value, what)
    if not (math.isfinite(number) and number >= 0):
        raise ValueError(f"{what} must be a non-negative finite number, got {value!r}")
    return number


def one_of(options: tuple[str, ...]) -> Any:
    """An attrs validator refusing values outside `options`, in one readable line (attrs' own
    `in_` puts a tuple of its internals into the message)."""

    def check(instance: Any, attribute: Any, value: Any) -> None:
        if not isinstance(value, str) or value not in options:
            raise ValueError(f"{attribute.name} must be one of {', '.join(options)}; got {value!r}")

    return check
