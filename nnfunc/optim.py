"""Optimizers as pure (init, update) pairs, in the Optax manner, built by chaining small transforms.

A transform's `init(leaves)` makes its state and `update(grads, state, params)` returns
`(updates, new_state)`, where leaves, grads and updates are tuples of arrays in `Params.leaves()`
order. Nothing is mutated: every update returns new arrays and a new state record. `step` applies an
optimizer to `Params` records. The training loop runs the built-in transforms as fused in-place
kernels with the same arithmetic (`nnfunc.fused`, found through `DESCRIPTIONS`), and any other
transform as it is.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import numpy as np

from nnfunc.arrays import array_tuple_field, freeze, frozen_array, rebuilt_by_constructor
from nnfunc.checks import real
from nnfunc.frozen_data import frozen_data
from nnfunc.params import Params
from nnfunc.schedules import Constant, Schedule, schedule_from_dict, schedule_to_dict

Leaves = Sequence[np.ndarray]
Updates = tuple[np.ndarray, ...]


@attrs.frozen
class GradientTransformation:
    """A pure optimizer step, as in Optax: `init(leaves) -> state` and
    `update(grads, state, leaves) -> (updates, state)`, over tuples of arrays in `Params.leaves()`
    order. For `Params` records use `init_optimizer` and `step`. `config` (read-only) names a
    built-in optimizer so that a model file can record it; a hand-made chain has none."""

    init: Callable[[Leaves], Any]
    update: Callable[[Leaves, Any, Leaves], tuple[Updates, Any]]
    config: dict[str, Any] = attrs.field(factory=dict, converter=frozen_data, eq=False, hash=False)


def _step_count(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    """A state's count of updates so far: a whole number >= 0 (a schedule and Adam's bias
    corrections divide by what it drives, so -1 or 2.5 would fail, or run wrong, later)."""
    if not isinstance(value, int | np.integer) or isinstance(value, bool | np.bool_) or value < 0:
        raise ValueError(f"an optimizer state's count must be a whole number >= 0, got {value!r}")


@attrs.frozen
class EmptyState:
    """State of a transform that keeps none."""


@attrs.frozen
class CountState:
    """Number of updates applied so far (drives learning-rate schedules)."""

    count: int = attrs.field(validator=_step_count)


@attrs.frozen
class TraceState:
    """Momentum velocity, one array per parameter."""

    __reduce__ = rebuilt_by_constructor

    velocity: tuple[np.ndarray, ...] = array_tuple_field()


@attrs.frozen
class ScaleByAdamState:
    """Adam's step count and its gradient moments, kept as exponentially weighted sums.

    `mu` is sum(b1**(t - i) * g_i) and `nu` is sum(b2**(t - i) * g_i**2): the textbook moving
    averages without their (1 - b1) and (1 - b2) factors, which the update folds into its
    scalars. The same Adam, two passes fewer over the parameters at every step.
    """

    __reduce__ = rebuilt_by_constructor

    count: int = attrs.field(validator=_step_count)
    mu: tuple[np.ndarray, ...] = array_tuple_field()
    nu: tuple[np.ndarray, ...] = array_tuple_field()


@attrs.frozen
class ScaleByRmsState:
    """RMSprop's running mean of squared gradients."""

    __reduce__ = rebuilt_by_constructor

    nu: tuple[np.ndarray, ...] = array_tuple_field()


@attrs.frozen
class ChainState:
    """The states of the transforms in a chain, in order."""

    states: tuple[Any, ...]


# What each built-in transform computes, keyed by its update function, so the training loop can run
# an equivalent fused kernel (nnfunc.fused) on its own buffers; transforms not listed here run as
# they are.
DESCRIPTIONS: weakref.WeakKeyDictionary[Callable, tuple] = weakref.WeakKeyDictionary()


def _described(transform: GradientTransformation, *description: Any) -> GradientTransformation:
    DESCRIPTIONS[transform.update] = description
    return transform


# The state record each described transform keeps, and the fields of it that hold arrays.
STATE_TYPES: dict[str, type] = {
    "clip": EmptyState,
    "trace": TraceState,
    "adam": ScaleByAdamState,
    "rms": ScaleByRmsState,
    "decay": EmptyState,
    "lr": CountState,
}
_STATE_ARRAYS = {
    TraceState: ("velocity",),
    ScaleByAdamState: ("mu", "nu"),
    ScaleByRmsState: ("nu",),
}


def state_mismatch(expected: str, state: Any) -> TypeError:
    """The error for a state record that another optimizer made."""
    got = type(state).__name__
    if isinstance(state, ChainState):
        got = f"a ChainState of {len(state.states)} states"
    return TypeError(
        f"the optimizer state does not match the optimizer: expected {expected}, got {got} "
        "(was it made by a different optimizer?)"
    )


def check_state(optimizer: GradientTransformation, state: Any, leaves: Leaves) -> None:
    """Refuse, before any update, a state made by another optimizer or for other parameters.

    Raises TypeError for a state of the wrong kind and ValueError for arrays of the wrong shapes.
    Transforms the library does not know (a user's own) are taken on trust.
    """
    _check_state(optimizer.update, state, [p.shape for p in leaves])


def _check_state(update: Callable, state: Any, shapes: list[tuple[int, ...]]) -> None:
    """`check_state` below one transform, with the parameters' shapes worked out once."""
    description = DESCRIPTIONS.get(update)
    if description is None:
        return
    if description[0] == "chain":
        transforms = description[1]
        if not isinstance(state, ChainState) or len(state.states) != len(transforms):
            raise state_mismatch(f"a ChainState of {len(transforms)} states", state)
        for transform, child in zip(transforms, state.states):
            _check_state(transform.update, child, shapes)
        return
    expected = STATE_TYPES[description[0]]
    if not isinstance(state, expected):
        raise state_mismatch(expected.__name__, state)
    for name in _STATE_ARRAYS.get(expected, ()):
        if [a.shape for a in getattr(state, name)] != shapes:
            raise ValueError(f"the optimizer state's {name} does not match the parameters' shapes")


def _frozen(arrays: Any) -> tuple[np.ndarray, ...]:
    return tuple(freeze(a) for a in arrays)


def _zeros(leaves: Leaves) -> tuple[np.ndarray, ...]:
    return _frozen(np.zeros_like(p) for p in leaves)


def global_norm(arrays: Leaves) -> float:
    """The joint L2 norm of the arrays, as a Python float. A float32 sum of squares overflows
    once the norm passes 1.8e19 (which would make the clip scale 0); it is then redone in
    float64, in units of the largest magnitude."""
    total = sum(float(np.vdot(a, a)) for a in arrays)
    if math.isfinite(total):
        return math.sqrt(total)
    largest = max((float(np.max(np.abs(a))) for a in arrays if a.size), default=0.0)
    if not math.isfinite(largest):
        return largest  # inf (or nan) in the gradients themselves
    units = (np.asarray(a, np.float64) / largest for a in arrays)
    return largest * math.sqrt(sum(float(np.vdot(u, u)) for u in units))


def clip_by_global_norm(max_norm: float) -> GradientTransformation:
    """Scale all gradients down together when their joint L2 norm exceeds `max_norm`."""
    max_norm = real(max_norm, "clip norm")  # a Python float, as the fused kernel uses it
    if not (math.isfinite(max_norm) and max_norm > 0):
        raise ValueError(f"clip norm must be a positive finite number, got {max_norm}")

    def update(grads: Leaves, state: EmptyState, params: Leaves) -> tuple[Updates, EmptyState]:
        del params
        norm = global_norm(grads)
        if norm <= max_norm:
            return tuple(grads), state
        scale = max_norm / norm
        return _frozen(g * scale for g in grads), state

    return _described(GradientTransformation(lambda leaves: EmptyState(), update), "clip", max_norm)


def trace(decay: float, *, nesterov: bool = False) -> GradientTransformation:
    """Momentum: v = g + decay * v; the update is v (or g + decay * v for Nesterov)."""
    decay = real(decay, "momentum")  # a NumPy float64 would turn float32 updates into float64
    if not (math.isfinite(decay) and 0 <= decay < 1):
        raise ValueError(f"momentum must lie in [0, 1), got {decay}")

    def update(grads: Leaves, state: TraceState, params: Leaves) -> tuple[Updates, TraceState]:
        del params
        velocity = _frozen(g + decay * v for g, v in zip(grads, state.velocity))
        if nesterov:
            return _frozen(g + decay * v for g, v in zip(grads, velocity)), TraceState(velocity)
        return velocity, TraceState(velocity)

    transform = GradientTransformation(lambda leaves: TraceState(_zeros(leaves)), update)
    return _described(transform, "trace", decay, nesterov)


def adam_scalars(b1: float, b2: float, eps: float, count: int) -> tuple[float, float]:
    """Step `count`'s (scale, eps') with which Adam's update is scale * mu / (sqrt(nu) + eps').

    With the moment sums of `ScaleByAdamState` and the bias corrections c1 = 1 / (1 - b1**t),
    c2 = 1 / (1 - b2**t), the textbook c1 (1 - b1) mu / (sqrt(c2 (1 - b2) nu) + eps) equals
    that, for s = sqrt(c2 (1 - b2)), scale = c1 (1 - b1) / s and eps' = eps / s.
    """
    c1 = 1.0 / (1.0 - b1**count)
    c2 = 1.0 / (1.0 - b2**count)
    s = math.sqrt(c2 * (1.0 - b2))
    return c1 * (1.0 - b1) / s, eps / s


def scale_by_adam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> GradientTransformation:
    """Adam's bias-corrected m / (sqrt(v) + eps)."""
    # Python floats keep float32 updates float32
    b1, b2, eps = real(b1, "Adam's b1"), real(b2, "Adam's b2"), real(eps, "Adam's eps")
    if not (0 <= b1 < 1 and 0 <= b2 < 1 and math.isfinite(eps) and eps > 0):
        raise ValueError(
            f"Adam needs 0 <= b1, b2 < 1 and a finite eps > 0, got b1={b1}, b2={b2}, eps={eps}"
        )

    def init(leaves: Leaves) -> ScaleByAdamState:
        return ScaleByAdamState(0, _zeros(leaves), _zeros(leaves))

    def update(
        grads: Leaves, state: ScaleByAdamState, params: Leaves
    ) -> tuple[Updates, ScaleByAdamState]:
        del params
        count = state.count + 1
        mu = _frozen(b1 * m + g for g, m in zip(grads, state.mu))
        nu = _frozen(b2 * v + g * g for g, v in zip(grads, state.nu))
        scale, shifted_eps = adam_scalars(b1, b2, eps, count)
        updates = _frozen((m / (np.sqrt(v) + shifted_eps)) * scale for m, v in zip(mu, nu))
        return updates, ScaleByAdamState(count, mu, nu)

    return _described(GradientTransformation(init, update), "adam", b1, b2, eps)


def scale_by_rms(decay: float = 0.9, eps: float = 1e-8) -> GradientTransformation:
    """RMSprop's g / (sqrt(running mean of g^2) + eps)."""
    # Python floats keep float32 updates float32
    decay, eps = real(decay, "RMSprop's decay"), real(eps, "RMSprop's eps")
    if not (0 <= decay < 1 and math.isfinite(eps) and eps > 0):
        raise ValueError(
            f"RMSprop needs 0 <= decay < 1 and a finite eps > 0, got decay={decay}, eps={eps}"
        )

    def update(
        grads: Leaves, state: ScaleByRmsState, params: Leaves
    ) -> tuple[Updates, ScaleByRmsState]:
        del params
        nu = _frozen(decay * v + (1 - decay) * (g * g) for g, v in zip(grads, state.nu))
        return _frozen(g / (np.sqrt(v) + eps) for g, v in zip(grads, nu)), ScaleByRmsState(nu)

    transform = GradientTransformation(lambda leaves: ScaleByRmsState(_zeros(leaves)), update)
    return _described(transform, "rms", decay, eps)


def add_decayed_weights(weight_decay: float) -> GradientTransformation:
    """Decoupled weight decay (AdamW): add `weight_decay * w` to the weight matrices' updates."""
    weight_decay = real(weight_decay, "weight decay")  # keeps float32 updates float32
    if not (math.isfinite(weight_decay) and weight_decay >= 0):
        raise ValueError(f"weight decay must be a non-negative finite number, got {weight_decay}")

    def update(grads: Leaves, state: EmptyState, params: Leaves) -> tuple[Updates, EmptyState]:
        # the biases' updates pass through: copied if they are the caller's, never locked
        return tuple(
            freeze(g + weight_decay * p) if p.ndim == 2 else frozen_array(g)
            for g, p in zip(grads, params)
        ), state

    transform = GradientTransformation(lambda leaves: EmptyState(), update)
    return _described(transform, "decay", weight_decay)


def scale_by_learning_rate(learning_rate: float | Schedule) -> GradientTransformation:
    """Multiply by -lr (the descent direction), the rate taken from a schedule by step count."""
    schedule = learning_rate if callable(learning_rate) else Constant(learning_rate)

    def update(grads: Leaves, state: CountState, params: Leaves) -> tuple[Updates, CountState]:
        del params
        rate = -float(schedule(state.count))  # a Python float keeps float32 updates float32
        return _frozen(g * rate for g in grads), CountState(state.count + 1)

    transform = GradientTransformation(lambda leaves: CountState(0), update)
    return _described(transform, "lr", schedule)


def chain(
    *transforms: GradientTransformation, config: dict | None = None
) -> GradientTransformation:
    """Run transforms one after another, each on the previous one's updates."""
    for k, transform in enumerate(transforms):
        require_transform(transform, f"chain's transform {k}")

    def init(leaves: Leaves) -> ChainState:
        return ChainState(tuple(t.init(leaves) for t in transforms))

    def update(grads: Leaves, state: ChainState, params: Leaves) -> tuple[Updates, ChainState]:
        new_states = []
        for t, s in zip(transforms, state.states):
            grads, s = t.update(grads, s, params)
            new_states.append(s)
        return tuple(grads), ChainState(tuple(new_states))

    return _described(GradientTransformation(init, update, config or {}), "chain", transforms)


# --- the named optimizers ------------------------------------------------------------------------

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop")
DEFAULT_LR = {"sgd": 0.01, "momentum": 0.01, "nesterov": 0.01}


def default_lr(name: str) -> float:
    """The learning rate `make_optimizer(name)` takes when given none (0.01 for the SGD family,
    1e-3 for the adaptive ones)."""
    return DEFAULT_LR.get(name, 1e-3)


def make_optimizer(
    name: str,
    learning_rate: float | Schedule | None = None,
    *,
    clip_norm: float | None = None,
    **hyper: float,
) -> GradientTransformation:
    """An optimizer by name, with an optional global-norm clip applied to the raw gradients.

    Hyper-parameters: momentum/nesterov take `beta` (0.9); adam and adamw `b1`, `b2`, `eps`;
    adamw `weight_decay` (0.01); rmsprop `decay` (0.9) and `eps`.
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of: {', '.join(OPTIMIZERS)}")
    if learning_rate is None:
        learning_rate = default_lr(name)
    if callable(learning_rate) and not isinstance(learning_rate, Schedule):
        raise TypeError(
            "learning_rate must be a number or a schedule record of nnfunc.schedules (Constant, "
            "StepDecay, ExponentialDecay, InverseScaling, Cosine), which a model file can store; "
            "for a plain function, chain scale_by_learning_rate(fn) yourself"
        )
    schedule = learning_rate if callable(learning_rate) else Constant(learning_rate)
    recorded = dict(hyper)
    core: list[GradientTransformation] = []
    if name in ("momentum", "nesterov"):
        core.append(trace(hyper.pop("beta", 0.9), nesterov=name == "nesterov"))
    elif name in ("adam", "adamw"):
        wd = hyper.pop("weight_decay", 0.01) if name == "adamw" else None
        core.append(scale_by_adam(**{k: hyper.pop(k) for k in ("b1", "b2", "eps") if k in hyper}))
        if wd is not None:
            core.append(add_decayed_weights(wd))
            recorded["weight_decay"] = wd
    elif name == "rmsprop":
        core.append(scale_by_rms(**{k: hyper.pop(k) for k in ("decay", "eps") if k in hyper}))
    leftover = set(hyper)
    if leftover:
        raise ValueError(f"{name} does not take {', '.join(sorted(leftover))}")
    clip = [clip_by_global_norm(clip_norm)] if clip_norm is not None else []
    config = {
        "name": name,
        "schedule": schedule_to_dict(schedule),
        "clip_norm": clip_norm,
        **recorded,
    }
    return chain(*clip, *core, scale_by_learning_rate(schedule), config=config)


def sgd(learning_rate: float | Schedule = 0.01, **kw: Any) -> GradientTransformation:
    """Plain stochastic gradient descent. Keyword: clip_norm (global-norm clip, default none)."""
    return make_optimizer("sgd", learning_rate, **kw)


def momentum(
    learning_rate: float | Schedule = 0.01, beta: float = 0.9, **kw: Any
) -> GradientTransformation:
    """SGD with heavy-ball momentum. Keyword: clip_norm."""
    return make_optimizer("momentum", learning_rate, beta=beta, **kw)


def nesterov(
    learning_rate: float | Schedule = 0.01, beta: float = 0.9, **kw: Any
) -> GradientTransformation:
    """SGD with Nesterov momentum. Keyword: clip_norm."""
    return make_optimizer("nesterov", learning_rate, beta=beta, **kw)


def adam(learning_rate: float | Schedule = 1e-3, **kw: Any) -> GradientTransformation:
    """Adam (Kingma and Ba). Keywords: b1=0.9, b2=0.999, eps=1e-8, clip_norm (default none)."""
    return make_optimizer("adam", learning_rate, **kw)


def adamw(learning_rate: float | Schedule = 1e-3, **kw: Any) -> GradientTransformation:
    """Adam with decoupled weight decay (Loshchilov and Hutter) on the weight matrices, not the
    biases. Keywords: weight_decay=0.01, b1=0.9, b2=0.999, eps=1e-8, clip_norm (default none)."""
    return make_optimizer("adamw", learning_rate, **kw)


def rmsprop(learning_rate: float | Schedule = 1e-3, **kw: Any) -> GradientTransformation:
    """RMSprop (Hinton). Keywords: decay=0.9, eps=1e-8, clip_norm (default none)."""
    return make_optimizer("rmsprop", learning_rate, **kw)


def optimizer_from_config(config: dict[str, Any]) -> GradientTransformation:
    """Rebuild an optimizer from its `config` (as stored in a model file)."""
    options = dict(config)
    if "name" not in options or "schedule" not in options:
        raise ValueError(
            "this config names no built-in optimizer (a chain made by hand has an empty config): "
            "nothing to rebuild"
        )
    name = options.pop("name")
    schedule = schedule_from_dict(options.pop("schedule"))
    return make_optimizer(name, schedule, **options)


def require_transform(value: Any, what: str = "optimizer") -> GradientTransformation:
    """`value` if it is a GradientTransformation, else a TypeError saying what it is instead."""
    if isinstance(value, GradientTransformation):
        return value
    hint = ""
    if callable(value) and getattr(value, "__module__", "") == __name__:
        hint = f": {value.__name__} makes one, call it (nf.{value.__name__}(0.01), say)"
    raise TypeError(
        f"{what} must be a GradientTransformation such as nf.adam(0.01), got "
        f"{type(value).__name__}{hint}"
    )


def _require_params(value: Any, what: str) -> Params:
    if isinstance(value, Params):
        return value
    hint = " (Params.from_leaves(arrays) makes one)" if isinstance(value, tuple | list) else ""
    raise TypeError(f"{what} must be a Params record, got {type(value).__name__}{hint}")


def init_optimizer(optimizer: GradientTransformation, params: Params) -> Any:
    """The optimizer's initial state for these parameters."""
    require_transform(optimizer)
    return optimizer.init(_require_params(params, "params").leaves())


def apply_updates(leaves: Leaves, updates: Leaves) -> tuple[np.ndarray, ...]:
    """New parameters `p + u`, each a fresh read-only array in its parameter's dtype (as
    Optax's: float64 updates do not turn float32 parameters float64). The shapes must match."""
    check_updates(updates, leaves)
    return _frozen((p + u).astype(p.dtype, copy=False) for p, u in zip(leaves, updates))


def as_dtypes(arrays: Leaves, like: Leaves) -> Leaves:
    """`arrays`, each cast to the dtype of its partner in `like` (as they are when all match)."""
    if all(a.dtype == p.dtype for a, p in zip(arrays, like)):
        return arrays
    return tuple(
        freeze(a.astype(p.dtype)) if a.dtype != p.dtype else frozen_array(a)
        for a, p in zip(arrays, like)
    )


def check_updates(updates: Leaves, leaves: Leaves, what: str = "updates") -> None:
    """Refuse gradients or updates whose shapes differ from the parameters' (numpy would
    broadcast a (3, 1) gradient onto (3, 4) weights without a word)."""
    if len(updates) != len(leaves):
        raise ValueError(f"{len(updates)} {what} arrays for {len(leaves)} parameter arrays")
    for k, (u, p) in enumerate(zip(updates, leaves)):
        if np.shape(u) != p.shape:
            name = "wb"[k % 2]
            raise ValueError(
                f"layer {k // 2}: {what} for {name} have shape {np.shape(u)}, the parameters "
                f"{p.shape}"
            )


def step(
    optimizer: GradientTransformation, params: Params, opt_state: Any, grads: Params
) -> tuple[Params, Any]:
    """One optimizer update: new parameters and new state; the inputs are left untouched.

    Each parameter keeps its dtype: gradients of another dtype are cast to it first, so float32
    parameters (and the optimizer state) stay float32 even with float64 gradients. Gradients
    (and a transform's updates) must have the parameters' shapes.
    """
    require_transform(optimizer)
    leaves = _require_params(params, "params").leaves()
    check_state(optimizer, opt_state, leaves)
    check_updates(_require_params(grads, "grads").leaves(), leaves, "gradients")
    updates, new_state = optimizer.update(as_dtypes(grads.leaves(), leaves), opt_state, leaves)
    return Params.from_leaves(apply_updates(leaves, updates)), new_state
