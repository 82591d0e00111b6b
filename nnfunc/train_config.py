"""The training configuration: `TrainConfig`, checked field by field, and the tested recipes.

A TrainConfig is everything that decides a training run besides the data, and it is stored in
the model file. Its validators refuse, when the record is made, every value the model-file reader
would refuse (a bool seed, a negative one, a float patience, an infinite clip norm), so a bad
setting costs no training run. A wrong type raises TypeError, a value out of range ValueError.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import attrs
import numpy as np

from nnfunc.checks import is_integer, is_real, one_of
from nnfunc.optim import OPTIMIZERS
from nnfunc.schedules import SCHEDULES
from nnfunc.spec import dtype_name

# A model file stores the seed as an unsigned 64-bit integer.
MAX_SEED = 2**64 - 1

Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


def _integer(lo: int, hi: int | None = None, *, optional: bool = False) -> Validator:
    """A validator for an int (numpy's too, never a bool) in [lo, hi], or None if `optional`."""
    wanted = f"an integer >= {lo}" if hi is None else f"an integer in [{lo}, {hi}]"
    wanted += " or None" if optional else ""

    def check(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
        if value is None and optional:
            return
        if not is_integer(value):
            raise TypeError(
                f"{attribute.name} must be {wanted}, got {type(value).__name__} {value!r}"
            )
        if value < lo or (hi is not None and value > hi):
            raise ValueError(f"{attribute.name} must be {wanted}, got {value}")

    return check


def _positive(*, optional: bool) -> Validator:
    """A validator for a positive finite number (not a bool), or None if `optional`."""
    wanted = "positive and finite" + (", or None" if optional else "")

    def check(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
        if value is None and optional:
            return
        if not is_real(value):
            raise TypeError(
                f"{attribute.name} must be {wanted}; got {type(value).__name__} {value!r}"
            )
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{attribute.name} must be {wanted}; got {value}")

    return check


def _non_negative(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not is_real(value):
        raise TypeError(f"{attribute.name} must be a number, got {type(value).__name__} {value!r}")
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{attribute.name} must be finite and >= 0, got {value}")


def _fraction(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not is_real(value):
        raise TypeError(f"{attribute.name} must be a number, got {type(value).__name__} {value!r}")
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{attribute.name} must lie in [0, 1), got {value}")


def _boolean(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{attribute.name} must be True or False, got {value!r}")


def _hidden(value: Any) -> tuple[Any, ...]:
    """Hidden layer sizes as a tuple; one int is one layer (scikit-learn's
    hidden_layer_sizes=32), and a string is refused rather than read as its characters."""
    if is_integer(value):
        return (value,)
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise TypeError(f"hidden must be a sequence of layer sizes such as (16, 16), got {value!r}")
    return tuple(value)


def _layer_sizes(instance: Any, attribute: attrs.Attribute, value: tuple[Any, ...]) -> None:
    for size in value:
        if not is_integer(size):
            raise TypeError(f"hidden layer sizes must be integers, got {value!r}")


@attrs.frozen(kw_only=True)
class TrainConfig:
    """Everything that decides a training run besides the data (stored in the model file)."""

    hidden: tuple[int, ...] = attrs.field(default=(16,), converter=_hidden, validator=_layer_sizes)
    activation: str = "relu"
    output_activation: str | None = None
    loss: str | None = None
    init: str | None = None
    optimizer: str = attrs.field(default="adam", validator=one_of(OPTIMIZERS))
    lr: float | None = attrs.field(default=None, validator=_positive(optional=True))
    schedule: str = attrs.field(default="constant", validator=one_of(tuple(SCHEDULES)))
    batch_size: int | None = attrs.field(default=None, validator=_integer(1, optional=True))
    epochs: int = attrs.field(default=200, validator=_integer(1))
    l2: float = attrs.field(default=0.0, validator=_non_negative)
    clip_norm: float | None = attrs.field(default=None, validator=_positive(optional=True))
    seed: int = attrs.field(default=0, validator=_integer(0, MAX_SEED))
    val_split: float = attrs.field(default=0.0, validator=_fraction)
    test_split: float = attrs.field(default=0.2, validator=_fraction)
    early_stopping: bool = attrs.field(default=False, validator=_boolean)
    patience: int = attrs.field(default=20, validator=_integer(1))
    dtype: str = attrs.field(default="float64", converter=dtype_name)
    scale_features: bool = attrs.field(default=True, validator=_boolean)
    scale_targets: bool = attrs.field(default=True, validator=_boolean)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/msgpack-ready data."""
        data = attrs.asdict(self)
        data["hidden"] = list(self.hidden)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Inverse of `to_dict`; unknown keys raise TypeError."""
        return cls(**data)


# Tested settings for each bundled dataset: what `nnfunc train --dataset NAME` uses by default.
RECIPES: dict[str, TrainConfig] = {
    "iris": TrainConfig(hidden=(6,), optimizer="adam", lr=0.01, epochs=300, batch_size=16),
    "moons": TrainConfig(hidden=(64,), optimizer="sgd", lr=0.1, epochs=10, batch_size=10),
    "xor": TrainConfig(
        hidden=(8,),  # 4 units stall at accuracy 0.5 for 10 seeds in 200; 8 for none
        activation="tanh",
        output_activation="sigmoid",
        loss="binary_cross_entropy",
        lr=0.05,
        epochs=500,
        test_split=0.0,
    ),
    "or": TrainConfig(
        hidden=(),
        output_activation="sigmoid",
        loss="binary_cross_entropy",
        lr=0.1,
        epochs=300,
        test_split=0.0,
    ),
    "sum": TrainConfig(hidden=(8,), lr=0.01, epochs=200, batch_size=32),
    # (4, 4) lost units to dead ReLUs for 4 seeds in 20 (R2 0.55 on a - b); (16,) for none
    "arithmetic": TrainConfig(hidden=(16,), lr=0.01, epochs=300, batch_size=32),
}

# Defaults for a user's CSV file (no recipe): small minibatches so 200 epochs are enough.
CSV_DEFAULTS = TrainConfig(hidden=(16,), lr=0.01, batch_size=32, epochs=200)


def default_config(dataset: str | None) -> TrainConfig:
    """The recipe of a bundled dataset, or the CSV defaults for a user's file (`None`)."""
    return RECIPES.get(dataset, CSV_DEFAULTS)
