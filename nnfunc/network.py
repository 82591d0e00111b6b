"""The network's math: forward pass, loss, and gradients by backpropagation.

The public functions take records (`MLPSpec`, `Params`) and return new ones. The underscored
functions work on plain tuples of arrays so the training loop can skip record construction on its
hot path; both go through the same code, so there is one copy of the math.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import attrs
import numpy as np

from nnfunc.activations import Activation, parse_activation
from nnfunc.arrays import freeze
from nnfunc.losses import LOSSES, LossFn
from nnfunc.params import Params
from nnfunc.spec import MLPSpec


@attrs.frozen
class Plan:
    """A spec resolved once into callables (cached per spec)."""

    hidden: tuple[tuple[Activation, float], ...]
    output: tuple[Activation, float]
    loss: LossFn
    dtype: np.dtype
    label_targets: bool  # softmax cross-entropy: targets are integer labels


@functools.lru_cache(maxsize=256)
def plan(spec: MLPSpec) -> Plan:
    """Resolve the activation names and loss of `spec` into functions."""
    return Plan(
        hidden=tuple(parse_activation(name) for name in spec.activations),
        output=parse_activation(spec.output_activation),
        loss=LOSSES[spec.loss],
        dtype=np.dtype(spec.dtype),
        label_targets=spec.loss == "softmax_cross_entropy",
    )


def as_inputs(spec: MLPSpec, X: np.ndarray) -> np.ndarray:
    """Inputs as a 2-D array of the spec's dtype and width (no copy when already so)."""
    X = np.asarray(X, dtype=spec.dtype)
    if X.ndim == 1:
        X = X.reshape(1, -1)
    if X.ndim != 2 or X.shape[1] != spec.n_inputs:
        raise ValueError(f"expected inputs with {spec.n_inputs} feature(s), got shape {X.shape}")
    return X


def as_targets(spec: MLPSpec, y: np.ndarray) -> np.ndarray:
    """Targets as integer labels (softmax cross-entropy) or as the spec's dtype otherwise."""
    y = np.asarray(y)
    if spec.loss == "softmax_cross_entropy" and y.ndim == 1:
        if y.dtype.kind == "f" and not np.array_equal(y, np.round(y)):
            raise ValueError("softmax_cross_entropy needs integer class labels")
        return y.astype(np.int64, copy=False)
    y = y.astype(spec.dtype, copy=False)
    return y.reshape(-1, spec.n_outputs) if y.ndim == 1 else y


def _logits(pl: Plan, leaves: Sequence[np.ndarray], X: np.ndarray) -> np.ndarray:
    a = X
    last = len(leaves) - 2
    for i in range(0, len(leaves), 2):
        z = a @ leaves[i]
        z += leaves[i + 1]
        if i == last:
            return z
        act, alpha = pl.hidden[i // 2]
        a = act.fn(z, alpha)
    raise AssertionError("unreachable")


def _value_and_grads(
    pl: Plan, leaves: Sequence[np.ndarray], X: np.ndarray, y: np.ndarray, l2: float
) -> tuple[float, list[np.ndarray], np.ndarray]:
    """Loss, gradients (same order as `leaves`), and the output logits, from one forward pass."""
    n_layers = len(leaves) // 2
    inputs = [X]
    zs = []
    a = X
    for k in range(n_layers):
        z = a @ leaves[2 * k]
        z += leaves[2 * k + 1]
        zs.append(z)
        if k < n_layers - 1:
            act, alpha = pl.hidden[k]
            a = act.fn(z, alpha)
            inputs.append(a)
    out_act, out_alpha = pl.output
    value, delta = pl.loss(zs[-1], y, out_act, out_alpha)
    grads: list[np.ndarray] = [None] * len(leaves)  # type: ignore[list-item]
    for k in range(n_layers - 1, -1, -1):
        grads[2 * k] = inputs[k].T @ delta
        grads[2 * k + 1] = delta.sum(axis=0)
        if k > 0:
            act, alpha = pl.hidden[k - 1]
            delta = delta @ leaves[2 * k].T
            if act.name == "relu":
                delta *= zs[k - 1] > 0
            else:
                delta *= act.grad(zs[k - 1], inputs[k], alpha)
    if l2:
        penalty = 0.0
        for k in range(n_layers):
            w = leaves[2 * k]
            penalty += float(np.vdot(w, w))
            grads[2 * k] += l2 * w
        value += 0.5 * l2 * penalty
    return value, grads, zs[-1]


def _l2_penalty(params: Params, l2: float) -> float:
    return 0.5 * l2 * sum(float(np.vdot(layer.w, layer.w)) for layer in params.layers)


def logits(spec: MLPSpec, params: Params, X: np.ndarray) -> np.ndarray:
    """The output layer's pre-activations (for classifiers: the logits)."""
    return _logits(plan(spec), params.leaves(), as_inputs(spec, X))


def forward(spec: MLPSpec, params: Params, X: np.ndarray) -> np.ndarray:
    """The network's outputs: class probabilities for classifiers, predictions for regressors."""
    act, alpha = plan(spec).output
    return act.fn(logits(spec, params, X), alpha)


def loss(spec: MLPSpec, params: Params, X: np.ndarray, y: np.ndarray, *, l2: float = 0.0) -> float:
    """Mean loss over the batch plus the L2 penalty `l2 / 2 * sum(W**2)`."""
    pl = plan(spec)
    z = _logits(pl, params.leaves(), as_inputs(spec, X))
    act, alpha = pl.output
    value, _ = pl.loss(z, as_targets(spec, y), act, alpha)
    return value + (_l2_penalty(params, l2) if l2 else 0.0)


def value_and_grads(
    spec: MLPSpec, params: Params, X: np.ndarray, y: np.ndarray, *, l2: float = 0.0
) -> tuple[float, Params]:
    """The loss and its gradients (a params-shaped record) from a single forward pass."""
    value, grads, _ = _value_and_grads(
        plan(spec), params.leaves(), as_inputs(spec, X), as_targets(spec, y), l2
    )
    return value, Params.from_leaves([freeze(g) for g in grads])


def grads(
    spec: MLPSpec, params: Params, X: np.ndarray, y: np.ndarray, *, l2: float = 0.0
) -> Params:
    """Gradients of `loss` with respect to every weight and bias."""
    return value_and_grads(spec, params, X, y, l2=l2)[1]


def predict(spec: MLPSpec, params: Params, X: np.ndarray) -> np.ndarray:
    """Class indices for classifiers (argmax, or p >= 0.5 for sigmoids), values otherwise."""
    z = logits(spec, params, X)
    if spec.loss == "softmax_cross_entropy":
        return z.argmax(axis=1)
    if spec.loss == "binary_cross_entropy":
        labels = (z >= 0).astype(np.int64)
        return labels[:, 0] if labels.shape[1] == 1 else labels
    act, alpha = plan(spec).output
    return act.fn(z, alpha)
