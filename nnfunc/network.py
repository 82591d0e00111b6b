"""The network's math: forward pass, loss, and gradients by backpropagation.

The public functions take records (`MLPSpec`, `Params`) and return new ones. The underscored
functions work on plain tuples of arrays, optionally writing into a `Workspace` of buffers that the
training loop owns and reuses; the public functions run the very same code on fresh arrays, so
there is one copy of the math. Only the public functions (and `as_inputs` / `as_targets`, which the
training code calls once per fit) check what they are given: params against the spec, inputs for
shape and finiteness, targets for shape, values and row count; a training step checks nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import attrs
import numpy as np

from nnfunc.activations import Activation, parse_activation
from nnfunc.arrays import finite_as, freeze, numeric_array, ones
from nnfunc.checks import non_negative
from nnfunc.losses import LOSSES, LossFn, check_targets, softmax_targets, softmax_xent
from nnfunc.params import Params
from nnfunc.spec import MLPSpec, require_spec


@attrs.frozen
class Plan:
    """A spec resolved once into callables (cached per spec)."""

    hidden: tuple[tuple[Activation, float], ...]
    output: tuple[Activation, float]
    loss: LossFn
    dtype: np.dtype
    label_targets: bool  # softmax cross-entropy: targets are integer labels
    widths: tuple[int, ...] = ()  # the layer sizes
    weight_shapes: tuple[tuple[int, int], ...] = ()  # each layer's (fan_in, fan_out)


def plan(spec: MLPSpec) -> Plan:
    """Resolve the activation names and loss of `spec` into functions (once per spec)."""
    return _plan(require_spec(spec))  # checked first: a list would fail as unhashable


def forget_plans() -> None:
    """Drop the resolved plans (an activation was unregistered: its name may come back)."""
    _plan.cache_clear()


@functools.lru_cache(maxsize=256)
def _plan(spec: MLPSpec) -> Plan:
    return Plan(
        hidden=tuple(parse_activation(name) for name in spec.activations),
        output=parse_activation(spec.output_activation),
        loss=LOSSES[spec.loss],
        dtype=np.dtype(spec.dtype),
        label_targets=spec.loss == "softmax_cross_entropy",
        widths=spec.sizes,
        weight_shapes=tuple(zip(spec.sizes[:-1], spec.sizes[1:])),
    )


class Buffers:
    """One batch size's arrays: each layer's outputs, deltas and ReLU masks, and loss scratch.

    The masks hold 0 and 1 in the network's dtype: multiplying by them is a same-type SIMD loop,
    faster than a maximum and than a product with booleans (which numpy casts on the fly).
    """

    def __init__(self, n: int, widths: Sequence[int], dtype: np.dtype):
        self.outs = [np.empty((n, w), dtype) for w in widths]
        self.deltas = [np.empty((n, w), dtype) for w in widths]
        self.masks = [np.empty((n, w), dtype) for w in widths[:-1]]
        self.scratch = np.empty((n, widths[-1]), dtype)


class Workspace:
    """Arrays the training loop reuses from step to step, per batch size.

    `grads` are the arrays the gradients are written into (views of the loop's own buffer).
    """

    def __init__(self, pl: Plan, grads: Sequence[np.ndarray]):
        self.plan = pl
        self.grads = list(grads)
        self._by_rows: dict[int, Buffers] = {}

    def buffers(self, n: int) -> Buffers:
        """The buffers for a batch of n rows (made on first use)."""
        if n not in self._by_rows:
            self._by_rows[n] = Buffers(n, self.plan.widths[1:], self.plan.dtype)
        return self._by_rows[n]


def as_inputs(spec: MLPSpec, X: np.ndarray) -> np.ndarray:
    """Inputs as a finite 2-D array of the spec's dtype and width (no copy when already so).

    NaN or infinity would give a confident-looking answer, so it is refused here.
    """
    X = numeric_array(X, "inputs")
    given = X.shape
    if X.ndim == 1:
        X = X.reshape(1, -1)  # one row
    if X.ndim != 2 or X.shape[1] != spec.n_inputs:
        hint = ""
        if len(given) == 1 and spec.n_inputs == 1:
            hint = " (a 1-D array is one row: give one feature's values as X.reshape(-1, 1))"
        raise ValueError(
            f"expected inputs with {spec.n_inputs} feature(s), got shape {given}{hint}"
        )
    return finite_as(X, spec.dtype, "inputs")  # a dtype name compares equal to the dtype


def as_targets(spec: MLPSpec, y: np.ndarray) -> np.ndarray:
    """Targets checked for the spec's loss: integer labels (int64) or rows of its dtype.

    See `nnfunc.losses.check_targets`: labels in range, probability rows summing to 1, binary
    targets in [0, 1], finite values, and a shape that fits the outputs.
    """
    return check_targets(spec.loss, y, spec.n_outputs, np.dtype(spec.dtype))


def loss_targets(spec: MLPSpec, y: np.ndarray) -> np.ndarray:
    """Targets as `_value_and_grads` takes them: softmax rows (labels one-hot), else as_targets."""
    y = as_targets(spec, y)
    if spec.loss == "softmax_cross_entropy":
        return softmax_targets(y, spec.n_outputs, np.dtype(spec.dtype))
    return y


def check_params(spec: MLPSpec, params: Params) -> tuple[np.ndarray, ...]:
    """The arrays of `params` in the spec's dtype, after checking their shapes against the spec.

    Mismatched params would otherwise run (a missing hidden layer is simply skipped) or fail deep
    inside numpy; casting means a float32 spec computes in float32 whatever params it is given,
    as `fit` does. Arrays already of the spec's dtype are used as they are (no copy).
    """
    return _leaves(plan(spec), params)


def _leaves(pl: Plan, params: Params) -> tuple[np.ndarray, ...]:
    """`check_params` for a resolved plan (the public functions have one already)."""
    if not isinstance(params, Params):
        raise TypeError(f"params must be a Params record, got {type(params).__name__}")
    if len(params.layers) != len(pl.weight_shapes):
        raise ValueError(
            f"params have {len(params.layers)} layer(s) but the spec {pl.widths} has "
            f"{len(pl.weight_shapes)}"
        )
    for k, (layer, shape) in enumerate(zip(params.layers, pl.weight_shapes)):
        if layer.w.shape != shape:
            raise ValueError(
                f"layer {k}: the spec {pl.widths} expects weights of shape {shape}, "
                f"got {layer.w.shape}"
            )
    leaves = params.leaves()
    if all(a.dtype == pl.dtype for a in leaves):
        return leaves
    return tuple(a.astype(pl.dtype) for a in leaves)  # records hold floats only (see `Dense`)


def _check_rows(X: np.ndarray, y: np.ndarray) -> None:
    """Refuse targets whose row count differs from the inputs', and empty batches."""
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
    if len(X) == 0:
        raise ValueError("no rows: a loss needs at least one")


def _forward(
    pl: Plan, leaves: Sequence[np.ndarray], X: np.ndarray, bufs: Buffers | None = None
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray | None]]:
    """Every layer's input (X, then the hidden activations), pre-activation (the last: logits)
    and, for ReLU layers, the 0/1 mask of positive pre-activations (None for other layers).

    ReLU layers are activated in place (z *= mask), so for them the pre-activation array holds
    the output and the mask is the activation's derivative, kept for the backward pass.
    (`np.dot` with a positional `out` gives the same bits as `@` for less call overhead.)
    """
    inputs, zs, masks = [X], [], []
    last = len(leaves) // 2 - 1
    for k in range(last + 1):
        z = (
            np.dot(inputs[k], leaves[2 * k])
            if bufs is None
            else np.dot(inputs[k], leaves[2 * k], bufs.outs[k])
        )
        z += leaves[2 * k + 1]
        zs.append(z)
        if k == last:
            return inputs, zs, masks
        act, alpha = pl.hidden[k]
        if act.name == "relu":
            mask = np.greater(z, 0) if bufs is None else np.greater(z, 0, out=bufs.masks[k])
            z *= mask
            masks.append(mask)
            inputs.append(z)
        else:
            masks.append(None)
            inputs.append(act.fn(z, alpha))
    raise AssertionError("unreachable")


def _logits(pl: Plan, leaves: Sequence[np.ndarray], X: np.ndarray) -> np.ndarray:
    return _forward(pl, leaves, X)[1][-1]


def _value_and_grads(
    pl: Plan,
    leaves: Sequence[np.ndarray],
    X: np.ndarray,
    targets: np.ndarray,
    l2: float,
    ws: Workspace | None = None,
) -> tuple[float, list[np.ndarray], np.ndarray]:
    """Loss, gradients (same order as `leaves`), and the output logits, from one forward pass.

    `targets` come from `loss_targets`. With a workspace, every array is one of its buffers and
    the gradients are written into `ws.grads`; without one they are freshly allocated.
    """
    n = X.shape[0]
    bufs = None if ws is None else ws.buffers(n)
    inputs, zs, masks = _forward(pl, leaves, X, bufs)
    out_act, out_alpha = pl.output
    if pl.label_targets:
        value, delta = softmax_xent(
            zs[-1], targets, bufs and bufs.deltas[-1], bufs and bufs.scratch
        )
    else:
        value, delta = pl.loss(zs[-1], targets, out_act, out_alpha)
    grads = ws.grads if ws is not None else [None] * len(leaves)
    ones_n = ones(n, delta.dtype)
    for k in range(len(leaves) // 2 - 1, -1, -1):
        if bufs is None:
            grads[2 * k] = np.dot(inputs[k].T, delta)
            grads[2 * k + 1] = np.dot(ones_n, delta)  # column sums, as one BLAS call
            prev = np.dot(delta, leaves[2 * k].T) if k else None
        else:
            np.dot(inputs[k].T, delta, grads[2 * k])
            np.dot(ones_n, delta, grads[2 * k + 1])
            prev = np.dot(delta, leaves[2 * k].T, bufs.deltas[k - 1]) if k else None
        if prev is None:
            break
        mask = masks[k - 1]
        if mask is not None:  # ReLU: its derivative is the forward pass's mask
            prev *= mask
        else:
            act, alpha = pl.hidden[k - 1]
            prev *= act.grad(zs[k - 1], inputs[k], alpha)
        delta = prev
    if l2:
        value += _l2_penalty(leaves, l2)
        for k in range(0, len(leaves), 2):
            grads[k] += l2 * leaves[k]
    return value, grads, zs[-1]


def _l2_penalty(leaves: Sequence[np.ndarray], l2: float) -> float:
    """`l2 / 2` times the sum of the squared weights (biases are not penalised)."""
    return 0.5 * l2 * sum(float(np.vdot(w, w)) for w in leaves[::2])


def logits(spec: MLPSpec, params: Params, X: np.ndarray) -> np.ndarray:
    """The output layer's pre-activations (for classifiers: the logits)."""
    pl = plan(spec)
    return _logits(pl, _leaves(pl, params), as_inputs(spec, X))


def forward(spec: MLPSpec, params: Params, X: np.ndarray) -> np.ndarray:
    """The network's outputs: class probabilities for classifiers, predictions for regressors."""
    act, alpha = plan(spec).output
    return act.fn(logits(spec, params, X), alpha)


def loss(spec: MLPSpec, params: Params, X: np.ndarray, y: np.ndarray, *, l2: float = 0.0) -> float:
    """Mean loss over the batch plus the L2 penalty `l2 / 2 * sum(W**2)`."""
    l2 = non_negative(l2, "l2")
    pl = plan(spec)
    leaves = _leaves(pl, params)
    X, y = as_inputs(spec, X), as_targets(spec, y)
    _check_rows(X, y)
    act, alpha = pl.output
    value, _ = pl.loss(_logits(pl, leaves, X), y, act, alpha)
    return value + (_l2_penalty(leaves, l2) if l2 else 0.0)


def value_and_grads(
    spec: MLPSpec, params: Params, X: np.ndarray, y: np.ndarray, *, l2: float = 0.0
) -> tuple[float, Params]:
    """The loss and its gradients (a params-shaped record) from a single forward pass."""
    l2 = non_negative(l2, "l2")
    pl = plan(spec)
    leaves = _leaves(pl, params)
    X, targets = as_inputs(spec, X), loss_targets(spec, y)
    _check_rows(X, targets)
    value, grads, _ = _value_and_grads(pl, leaves, X, targets, l2)
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
