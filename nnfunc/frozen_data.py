"""Read-only JSON-like data (a model's config, metrics and provenance) as record fields.

`attrs.frozen` is shallow, so a dict field would still take `model.metrics["test"] = ...`.
`FrozenDict` and `FrozenList` are a dict and a list (JSON, msgpack, `isinstance` and `==` treat
them as such) whose mutating methods raise; `frozen_data` converts nested data into them.
"""

from __future__ import annotations

from typing import Any, NoReturn


def _refuse(self: Any, *args: Any, **kwargs: Any) -> NoReturn:
    raise TypeError(
        f"this {type(self).__name__} is read-only: change a copy (dict(...), list(...))"
    )


class FrozenDict(dict):
    """A dict that refuses changes; `dict(d)` gives a mutable copy."""

    __slots__ = ()
    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __repr__(self) -> str:
        return f"FrozenDict({dict.__repr__(self)})"

    def __reduce__(self) -> Any:  # copy.deepcopy and pickle rebuild it through the constructor
        return (FrozenDict, (dict(self),))


class FrozenList(list):
    """A list that refuses changes; `list(x)` gives a mutable copy."""

    __slots__ = ()
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = pop = remove = clear = sort = reverse = _refuse

    def __repr__(self) -> str:
        return f"FrozenList({list.__repr__(self)})"

    def __reduce__(self) -> Any:
        return (FrozenList, (list(self),))


def frozen_data(value: Any) -> Any:
    """`value` with every dict and list (and tuple) made read-only, at any depth."""
    if isinstance(value, dict):
        return FrozenDict({key: frozen_data(item) for key, item in value.items()})
    if isinstance(value, (list, tuple)):
        return FrozenList(frozen_data(item) for item in value)
    return value
