"""Activation functions: one table of (function, derivative) pairs that users can extend.

Every entry works on the pre-activation `z` and may use the already computed output `a` for its
derivative (cheaper for sigmoid and tanh). All of them are numerically stable: finite results and no
floating-point warnings at |z| = 1000. The parametrised ones (`leaky_relu`, `prelu`, `elu`) take
one parameter after a colon, for instance `"leaky_relu:0.1"` or `"elu:0.5"`; without one the
entry's default is used. A parameter on any other activation is refused (a likely typo).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import attrs
import numpy as np

from nnfunc.arrays import ones, row_max

ActivationFn = Callable[[np.ndarray, float], np.ndarray]
DerivativeFn = Callable[[np.ndarray, np.ndarray, float], np.ndarray]

_SQRT_2_OVER_PI = float(np.sqrt(2.0 / np.pi))
_GELU_C = 0.044715


@attrs.frozen
class Activation:
    """An activation: `fn(z, alpha)` and its derivative `grad(z, a, alpha)` = da/dz."""

    name: str
    fn: ActivationFn
    grad: DerivativeFn
    default_alpha: float = 0.0
    relu_like: bool = False  # chooses He rather than Glorot initialisation by default
    parametric: bool = False  # takes a parameter: `"name:alpha"` is accepted
    zero_gradient: bool = False  # its derivative is 0 everywhere: no gradient passes through it


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic function, two-branch: exp only sees -|z|, so it never overflows, and for z < 0
    the result e / (1 + e) keeps its full relative precision (no 1 - x cancellation).
    """
    e = np.exp(-np.abs(z))
    s = np.where(z >= 0, 1.0, e)
    s /= 1.0 + e
    return s


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax with the row maximum subtracted first, so exp never overflows."""
    e = np.exp(z - row_max(z))
    e /= (e @ ones(z.shape[1], e.dtype))[:, None]
    return e


def softplus(z: np.ndarray) -> np.ndarray:
    """log(1 + e^z) through logaddexp: exact for large |z|, no overflow."""
    return np.logaddexp(0.0, z).astype(z.dtype, copy=False)


# Beyond |z| = 100 the tanh in GELU is exactly +-1 in float64, so its polynomial sees z clipped
# there: z**3 would overflow for huge z (float32 from 7e12) and change nothing.
_GELU_CLIP = 100.0


def _gelu_inner(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The tanh argument of GELU's approximation and its derivative, from z clipped as above."""
    zc = np.clip(z, -_GELU_CLIP, _GELU_CLIP)
    inner = _SQRT_2_OVER_PI * (zc + _GELU_C * zc**3)
    dinner = _SQRT_2_OVER_PI * (1.0 + 3.0 * _GELU_C * zc**2)
    return inner, dinner


def _gelu(z: np.ndarray, alpha: float) -> np.ndarray:
    return 0.5 * z * (1.0 + np.tanh(_gelu_inner(z)[0]))


def _gelu_grad(z: np.ndarray, a: np.ndarray, alpha: float) -> np.ndarray:
    inner, dinner = _gelu_inner(z)
    t = np.tanh(inner)
    return 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * dinner


def _arctan_grad(z: np.ndarray, a: np.ndarray, alpha: float) -> np.ndarray:
    """1 / (1 + z^2), as (1 / hypot(1, z))^2: z*z would overflow for |z| > 1e154 (float32: 2e19)."""
    r = np.reciprocal(np.hypot(1.0, z, dtype=z.dtype))
    return r * r


def _silu_grad(z: np.ndarray, a: np.ndarray, alpha: float) -> np.ndarray:
    s = sigmoid(z)
    return s * (1.0 + z * (1.0 - s))


def _elu(z: np.ndarray, alpha: float) -> np.ndarray:
    # expm1 only sees non-positive inputs, so it cannot overflow for large z.
    return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0)))


def _elu_grad(z: np.ndarray, a: np.ndarray, alpha: float) -> np.ndarray:
    grad = np.where(z > 0, 1.0, a + alpha).astype(z.dtype, copy=False)
    # a + alpha (= alpha * expm1(z) + alpha) loses digits as e^z vanishes (0 below z = -37):
    # there, alpha * e^z itself, computed only where needed (rare, so the common case is as fast)
    far = z < -5  # e^z < 0.007: float32 keeps 1e-5 of relative precision above that
    if far.any():
        grad[far] = alpha * np.exp(z[far])
    return grad


def _leaky_relu(z: np.ndarray, alpha: float) -> np.ndarray:
    return np.where(z > 0, z, alpha * z)


def _leaky_relu_grad(z: np.ndarray, a: np.ndarray, alpha: float) -> np.ndarray:
    return np.where(z > 0, 1.0, alpha).astype(z.dtype, copy=False)


def _relu_grad(z: np.ndarray, a: np.ndarray, alpha: float) -> np.ndarray:
    return (z > 0).astype(z.dtype)


def _ones_like(z: np.ndarray, a: np.ndarray, alpha: float) -> np.ndarray:
    return np.ones_like(z)


def _zeros_like(z: np.ndarray, a: np.ndarray, alpha: float) -> np.ndarray:
    return np.zeros_like(z)


def _softmax_grad(z: np.ndarray, a: np.ndarray, alpha: float) -> np.ndarray:
    raise ValueError(
        "softmax has no element-wise derivative: use it only as the output activation with "
        "the softmax_cross_entropy loss"
    )


_BUILTIN = (
    Activation("linear", lambda z, alpha: z, _ones_like),
    Activation(
        "binary_step", lambda z, alpha: (z >= 0).astype(z.dtype), _zeros_like, zero_gradient=True
    ),
    Activation("sigmoid", lambda z, alpha: sigmoid(z), lambda z, a, alpha: a * (1.0 - a)),
    Activation("tanh", lambda z, alpha: np.tanh(z), lambda z, a, alpha: 1.0 - a * a),
    Activation("arctan", lambda z, alpha: np.arctan(z), _arctan_grad),
    Activation("relu", lambda z, alpha: np.maximum(z, 0), _relu_grad, relu_like=True),
    Activation("leaky_relu", _leaky_relu, _leaky_relu_grad, 0.01, relu_like=True, parametric=True),
    Activation("prelu", _leaky_relu, _leaky_relu_grad, 0.25, relu_like=True, parametric=True),
    Activation("elu", _elu, _elu_grad, 1.0, relu_like=True, parametric=True),
    Activation("softplus", lambda z, alpha: softplus(z), lambda z, a, alpha: sigmoid(z)),
    Activation("gelu", _gelu, _gelu_grad, relu_like=True),
    Activation("silu", lambda z, alpha: z * sigmoid(z), _silu_grad, relu_like=True),
    Activation("softmax", lambda z, alpha: softmax(z), _softmax_grad),
)

_TABLE: dict[str, Activation] = {act.name: act for act in _BUILTIN}
# Read-only: activations are added through `register_activation`, which checks the name and keeps
# the function's results in z's dtype, and removed through `unregister_activation`.
ACTIVATIONS: Mapping[str, Activation] = MappingProxyType(_TABLE)
ALIASES = {"identity": "linear", "swish": "silu", "logistic": "sigmoid", "step": "binary_step"}

# The largest parameter a parametrised activation takes (in size). Slopes and offsets in use are
# near 1; a model file's "leaky_relu:1e308" would only turn every negative output into -inf.
MAX_ALPHA = 1000.0

# Activations that only make sense on the output layer.
OUTPUT_ONLY = frozenset({"softmax"})


def register_activation(
    name: str,
    fn: ActivationFn,
    grad: DerivativeFn,
    *,
    default_alpha: float = 0.0,
    relu_like: bool = False,
    parametric: bool | None = None,
) -> Activation:
    """Add a user activation to the table; `fn(z, alpha)` and `grad(z, a, alpha)` as above.

    `parametric` says whether `"name:alpha"` is accepted; by default it is when `default_alpha`
    is given (non-zero).
    """
    if not name.isidentifier():
        raise ValueError(f"activation name must be an identifier, got {name!r}")
    taken = {*ACTIVATIONS, *ALIASES}
    if name in taken or name.lower() in {t.lower() for t in taken}:
        # names are looked up case-insensitively: "ReLU" would shadow relu in one process and
        # silently mean the built-in once a saved model is loaded in another
        raise ValueError(f"activation {name!r} already exists (names ignore case)")
    if parametric is None:
        parametric = default_alpha != 0.0
    act = Activation(
        name,
        _in_dtype_of_z(fn),
        _in_dtype_of_z(grad),
        default_alpha,
        relu_like=relu_like,
        parametric=parametric,
    )
    _TABLE[name] = act
    return act


def unregister_activation(name: str) -> None:
    """Remove an activation `register_activation` added (built-ins stay), and forget the networks
    and models resolved with it, so that a later registration under the same name is the one
    used, by a `Model` made earlier too."""
    if any(act.name == name for act in _BUILTIN):
        raise ValueError(f"{name!r} is a built-in activation; only registered ones can be removed")
    if name not in _TABLE:
        raise ValueError(f"no registered activation {name!r}")
    del _TABLE[name]
    # imported here: both modules import this one
    from nnfunc.model import forget_compiled
    from nnfunc.network import forget_plans

    forget_plans()
    forget_compiled()


def _in_dtype_of_z(f: Callable[..., Any]) -> Callable[..., np.ndarray]:
    """`f` with its result in z's dtype: a user's function that computes with a NumPy float64
    constant would otherwise turn a float32 network float64 (and break the training buffers)."""

    def cast(z: np.ndarray, *args: Any) -> np.ndarray:
        out = np.asarray(f(z, *args))
        return out if out.dtype == z.dtype else out.astype(z.dtype)

    return cast


def parse_activation(spec: str) -> tuple[Activation, float]:
    """Look up `"name"` or `"name:alpha"`; raise ValueError listing the valid names if unknown.

    Names are matched as registered, else in lower case and through the aliases ("ReLU", "step").
    """
    if not isinstance(spec, str):
        raise TypeError(f"an activation is a name such as 'relu', got {type(spec).__name__}")
    name, _, param = spec.strip().partition(":")
    name = name.strip()
    if name not in ACTIVATIONS:
        name = ALIASES.get(name.lower(), name.lower())
    if name not in ACTIVATIONS:
        valid = ", ".join(sorted(ACTIVATIONS))
        raise ValueError(f"unknown activation {spec!r}; choose one of: {valid}")
    act = ACTIVATIONS[name]
    if not param:
        return act, act.default_alpha
    if not act.parametric:
        takes = ", ".join(sorted(a.name for a in ACTIVATIONS.values() if a.parametric))
        raise ValueError(
            f"activation {act.name} takes no parameter, got {spec!r} (parametrised ones: {takes})"
        )
    try:
        alpha = float(param.strip())
    except ValueError:
        raise ValueError(f"activation parameter in {spec!r} is not a number") from None
    if not abs(alpha) <= MAX_ALPHA:  # NaN too
        raise ValueError(
            f"activation parameter in {spec!r} must lie in [-{MAX_ALPHA:g}, {MAX_ALPHA:g}]"
        )
    return act, alpha


def canonical_activation(spec: str) -> str:
    """The one spelling a spec and a model file store: the table's name ("ReLU" and "identity"
    become "relu" and "linear"), with a parameter only when one was given ("elu:0.5")."""
    act, alpha = parse_activation(spec)
    return f"{act.name}:{alpha!r}" if ":" in spec else act.name
