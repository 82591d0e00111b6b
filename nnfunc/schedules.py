"""Learning-rate schedules: small frozen records mapping the step count to a learning rate.

They are records rather than closures so a model file can store them as plain data.
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np

from nnfunc.checks import is_real


def _number(value: Any, field: attrs.Attribute) -> float:
    """A schedule's rate or factor as a float: not from a string or a bool (float() takes both)."""
    if not is_real(value):
        raise TypeError(f"{field.name} must be a number, got {type(value).__name__} {value!r}")
    return float(value)


_float = attrs.Converter(_number, takes_field=True)


def _positive(instance: Any, attribute: attrs.Attribute, value: float) -> None:
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{attribute.name} must be a positive finite number, got {value}")


def _non_negative(instance: Any, attribute: attrs.Attribute, value: float) -> None:
    if not (value >= 0 and math.isfinite(value)):
        raise ValueError(f"{attribute.name} must be a non-negative finite number, got {value}")


def _whole(value: Any) -> Any:
    """A whole number (1000, 1e3) as an int; anything else is left for `_count` to refuse."""
    if isinstance(value, bool | np.bool_):
        return value
    if isinstance(value, int | np.integer) or (isinstance(value, float) and value.is_integer()):
        return int(value)
    return value


def _count(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    """Refuse a step count that is not a positive int (after `_whole`)."""
    if type(value) is not int or value < 1:  # int() would take 2.5 and True quietly
        raise ValueError(f"{attribute.name} must be a positive whole number, got {value!r}")


@attrs.frozen
class Constant:
    """The same learning rate at every step."""

    lr: float = attrs.field(converter=_float, validator=_positive)

    def __call__(self, count: int) -> float:
        return self.lr


@attrs.frozen
class StepDecay:
    """Multiply the rate by `gamma` every `step_size` steps."""

    lr: float = attrs.field(converter=_float, validator=_positive)
    step_size: int = attrs.field(default=1000, converter=_whole, validator=_count)
    gamma: float = attrs.field(default=0.5, converter=_float, validator=_positive)

    def __call__(self, count: int) -> float:
        return self.lr * self.gamma ** (count // self.step_size)


@attrs.frozen
class ExponentialDecay:
    """Smooth decay: lr * decay_rate ** (count / decay_steps)."""

    lr: float = attrs.field(converter=_float, validator=_positive)
    decay_rate: float = attrs.field(default=0.96, converter=_float, validator=_positive)
    decay_steps: int = attrs.field(default=1000, converter=_whole, validator=_count)

    def __call__(self, count: int) -> float:
        return self.lr * self.decay_rate ** (count / self.decay_steps)


@attrs.frozen
class InverseScaling:
    """lr / (count + 1) ** power_t, counted in optimizer steps. scikit-learn's 'invscaling' has
    this form but counts samples seen and changes the rate once per epoch."""

    lr: float = attrs.field(converter=_float, validator=_positive)
    power_t: float = attrs.field(default=0.5, converter=_float, validator=_non_negative)

    def __call__(self, count: int) -> float:
        return self.lr / (count + 1) ** self.power_t


@attrs.frozen
class Cosine:
    """Cosine decay from `lr` to `final_lr` over `total_steps`, then held at `final_lr`."""

    lr: float = attrs.field(converter=_float, validator=_positive)
    total_steps: int = attrs.field(default=10000, converter=_whole, validator=_count)
    final_lr: float = attrs.field(default=0.0, converter=_float, validator=_non_negative)

    def __call__(self, count: int) -> float:
        progress = min(count, self.total_steps) / self.total_steps
        return self.final_lr + 0.5 * (self.lr - self.final_lr) * (1 + math.cos(math.pi * progress))


Schedule = Constant | StepDecay | ExponentialDecay | InverseScaling | Cosine

SCHEDULES: dict[str, type] = {
    "constant": Constant,
    "step": StepDecay,
    "exponential": ExponentialDecay,
    "invscaling": InverseScaling,
    "cosine": Cosine,
}


def make_schedule(name: str, lr: float, **options: Any) -> Schedule:
    """Build a schedule by its name (constant, step, exponential, invscaling, cosine)."""
    if name not in SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; choose one of: {', '.join(SCHEDULES)}")
    return SCHEDULES[name](lr, **options)


def run_schedule(name: str, lr: float, total_steps: int) -> Schedule:
    """A schedule by its name, fitted to a run of `total_steps` optimizer steps (the command
    line's `--schedule`): cosine decays to 0 over the run (as Optax's, it reaches 0 right after
    the last step, which runs at a sliver of lr), step halves the rate every quarter of the run,
    exponential brings it down to a tenth by the end; constant and invscaling are as
    `make_schedule` builds them."""
    total = _whole(total_steps)
    if type(total) is not int or total < 1:  # as the schedules refuse their own step counts
        raise ValueError(f"total_steps must be a positive whole number, got {total_steps!r}")
    options: dict[str, dict[str, Any]] = {
        "cosine": {"total_steps": total},
        "step": {"step_size": max(math.ceil(total / 4), 1), "gamma": 0.5},
        "exponential": {"decay_steps": total, "decay_rate": 0.1},
    }
    return make_schedule(name, lr, **options.get(name, {}))


def schedule_to_dict(schedule: Schedule) -> dict[str, Any]:
    """Plain data for a schedule: its name and fields (inverse of `schedule_from_dict`)."""
    name = next(key for key, cls in SCHEDULES.items() if isinstance(schedule, cls))
    return {"name": name, **attrs.asdict(schedule)}


def schedule_from_dict(data: dict[str, Any]) -> Schedule:
    """Rebuild a schedule from `schedule_to_dict` output."""
    options = dict(data)
    missing = [key for key in ("name", "lr") if key not in options]
    if missing:
        raise ValueError(
            f"a schedule needs a name and an lr, this one has no {' or '.join(missing)}"
        )
    return make_schedule(options.pop("name"), options.pop("lr"), **options)
