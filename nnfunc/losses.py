"""Losses, computed from the output layer's pre-activations (logits) for stability.

Each loss returns the mean loss over the batch and its gradient with respect to the logits in one
pass. The fused gradients `p - y` hold only for the matched pairs (softmax with
softmax_cross_entropy, sigmoid with binary_cross_entropy); MSE works with any element-wise output
activation through the chain rule. Conventions:

- `softmax_cross_entropy`: mean over samples of -log p[label]. Targets are integer labels of shape
  (n,) (no one-hot needed) or rows of class probabilities of shape (n, k), each summing to 1.
- `binary_cross_entropy`: mean over all outputs of -[y log p + (1 - y) log(1 - p)], computed as
  max(z, 0) - y z + log(1 + e^-|z|) (softplus(z) - y z) so it stays finite and precise for any
  logit.
- `mse`: half the mean over all elements of (prediction - target)^2, the 1/2 making its gradient
  `(prediction - target) / size` (the scikit-learn convention).
- The L2 penalty `l2 / 2 * sum(W**2)` over weight matrices (not biases) is added by the network;
  unlike scikit-learn's `alpha`, it is not divided by the batch size.

`check_targets` holds targets to these conventions once, before any loss sees them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from nnfunc.activations import Activation, sigmoid
from nnfunc.arrays import all_finite, finite_as, numeric_array, ones, row_max

LossAndDelta = tuple[float, np.ndarray]


def check_targets(loss: str, y: Any, n_outputs: int, dtype: np.dtype) -> np.ndarray:
    """Targets checked for `loss`, so that no loss ever sees a value it would silently misread.

    softmax_cross_entropy: integer labels (int64, shape (n,), or a column (n, 1) as Keras takes
    them) or probability rows (n, k);
    otherwise finite rows of shape (n, n_outputs) in `dtype` (a 1-D y only for a single output),
    in [0, 1] for binary_cross_entropy.
    """
    if loss == "softmax_cross_entropy":
        labels = (
            f"integer class labels 0..{n_outputs - 1} or rows of class probabilities (encode "
            "other labels first: nnfunc.preprocessing.fit_labels and encode_labels)"
        )
        y = numeric_array(y, "softmax_cross_entropy targets", labels)
        if y.ndim == 2 and y.shape[1] == 1 and n_outputs > 1:
            y = y[:, 0]  # a column of labels: it cannot be rows of k > 1 probabilities
        if y.ndim == 1:
            return class_labels(y, n_outputs)
        return probability_rows(y, n_outputs, dtype)
    rows = target_rows(numeric_array(y, "targets"), n_outputs, dtype)
    if loss == "binary_cross_entropy" and rows.size and not (rows.min() >= 0 and rows.max() <= 1):
        raise ValueError("binary_cross_entropy targets must lie in [0, 1]")
    return rows


def target_rows(y: np.ndarray, n_outputs: int, dtype: np.dtype) -> np.ndarray:
    """Finite target rows of shape (n, n_outputs) in `dtype`; 1-D targets only for one output."""
    if y.ndim == 1 and n_outputs == 1:
        y = y.reshape(-1, 1)
    if y.ndim != 2 or y.shape[1] != n_outputs:
        raise ValueError(
            f"targets of shape {y.shape} do not fit {n_outputs} output(s): "
            f"pass shape (rows, {n_outputs})" + (" or (rows,)" if n_outputs == 1 else "")
        )
    return finite_as(y, dtype, "targets")


def class_labels(y: np.ndarray, n_classes: int) -> np.ndarray:
    """1-D class labels as int64, refused unless they are whole numbers in [0, n_classes - 1]."""
    whole = y.dtype.kind != "f" or (all_finite(y) and np.array_equal(y, np.round(y)))
    if not whole:
        raise ValueError(
            f"softmax_cross_entropy needs integer class labels 0..{n_classes - 1}, "
            "got values that are not whole numbers"
        )
    y = y.astype(np.int64, copy=False)
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"class labels must lie in [0, {n_classes - 1}]")
    return y


ROW_SUM_TOLERANCE = float(np.sqrt(np.finfo(np.float32).eps))


def probability_rows(y: np.ndarray, n_classes: int, dtype: np.dtype) -> np.ndarray:
    """Rows of class probabilities: finite, non-negative, each summing to 1.

    The sum matters: the gradient `softmax(z) - y` is that of the loss only when every row sums
    to 1 (in general it is `softmax(z) * sum(y) - y`), so rows that do not are refused rather than
    trained on with a gradient that does not match the loss. The tolerance is the square root of
    float32's epsilon (3.5e-4) whatever the network's dtype: rows rounded to float32 pass (they
    may be float64 by the time a loss sees them), rows that are not probabilities do not. Rows
    off by more than the square root of the network's own epsilon are divided by their sums, so
    that the gradient is the loss's exactly.
    """
    rows = target_rows(y, n_classes, dtype)
    if rows.size and rows.min() < 0:
        raise ValueError("probability rows must not be negative")
    sums = rows.sum(axis=1, dtype=np.float64)
    bad = np.flatnonzero(np.abs(sums - 1.0) > ROW_SUM_TOLERANCE)
    if bad.size:
        raise ValueError(
            f"probability rows must sum to 1; row {bad[0]} sums to {float(sums[bad[0]])!r}"
        )
    if np.any(np.abs(sums - 1.0) > np.sqrt(np.finfo(dtype).eps)):
        rows = (rows / sums[:, None]).astype(dtype, copy=False)
    return rows


def softmax_targets(y: np.ndarray, n_classes: int, dtype: np.dtype) -> np.ndarray:
    """Target rows for `softmax_xent`: one-hot rows for integer labels, else the given rows.

    Integer labels (shape (n,)) and probability rows (shape (n, k)) are validated here, once, so
    the training loop can gather batches of rows without checking them again.
    """
    if y.ndim != 1:
        return probability_rows(y, n_classes, dtype)
    y = class_labels(y, n_classes)
    rows = np.zeros((len(y), n_classes), dtype)
    rows[np.arange(len(y)), y] = 1
    return rows


def softmax_xent(
    z: np.ndarray,
    rows: np.ndarray,
    out: np.ndarray | None = None,
    scratch: np.ndarray | None = None,
) -> LossAndDelta:
    """Mean cross-entropy of softmax(z) against target rows; gradient (softmax(z) - rows) / n.

    Each row is shifted by its maximum first, so exp never overflows and the log-probabilities
    stay exact. `out` receives the gradient and `scratch` (both shaped like z) the log-probs.
    """
    n = z.shape[0]
    if n == 0:
        return float("nan"), np.zeros_like(z)
    logp = np.subtract(z, row_max(z), out=scratch)
    p = np.exp(logp, out=out)
    norm = p @ ones(z.shape[1], z.dtype)
    logp -= np.log(norm)[:, None]
    logp *= rows
    value = float(-logp.sum()) / n
    p /= norm[:, None]
    p -= rows
    p /= n
    return value, p


def softmax_cross_entropy(
    z: np.ndarray, y: np.ndarray, act: Activation, alpha: float
) -> LossAndDelta:
    """Mean cross-entropy of softmax(z) against labels; gradient (softmax(z) - onehot(y)) / n.

    `y` holds integer labels of shape (n,) or probability rows of shape (n, k).
    """
    if y.ndim == 2 and y.shape != z.shape:
        raise ValueError(f"target shape {y.shape} does not match the output shape {z.shape}")
    return softmax_xent(z, softmax_targets(y, z.shape[1], z.dtype))


def binary_cross_entropy(
    z: np.ndarray, y: np.ndarray, act: Activation, alpha: float
) -> LossAndDelta:
    """Mean binary cross-entropy of sigmoid(z); gradient (sigmoid(z) - y) / size."""
    y = y.reshape(z.shape).astype(z.dtype, copy=False)
    # softplus(z) - y z, summed as (max(z, 0) - y z) + log(1 + e^-|z|): the large terms cancel
    # first, so a confident right answer (z = 40, y = 1) keeps its 4e-18 instead of 0.
    value = float(np.mean((np.maximum(z, 0) - y * z) + np.log1p(np.exp(-np.abs(z)))))
    delta = sigmoid(z) - y
    delta /= z.size
    return value, delta


def mean_squared_error(z: np.ndarray, y: np.ndarray, act: Activation, alpha: float) -> LossAndDelta:
    """Half the mean squared error of act(z); gradient by the chain rule through act."""
    y = y.reshape(z.shape).astype(z.dtype, copy=False)
    a = act.fn(z, alpha)
    diff = a - y
    value = float(0.5 * np.mean(diff * diff))
    if act.name != "linear":
        diff = diff * act.grad(z, a, alpha)
    diff /= z.size
    return value, diff


LossFn = Callable[[np.ndarray, np.ndarray, Activation, float], LossAndDelta]

LOSSES: dict[str, LossFn] = {
    "softmax_cross_entropy": softmax_cross_entropy,
    "binary_cross_entropy": binary_cross_entropy,
    "mse": mean_squared_error,
}

# The output activation each cross-entropy requires (its fused gradient assumes it).
REQUIRED_OUTPUT = {"softmax_cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}


def default_loss(output_activation: str) -> str:
    """The loss that naturally goes with an output activation."""
    for loss, output in REQUIRED_OUTPUT.items():
        if output == output_activation:
            return loss
    return "mse"


def check_pairing(output_activation: str, loss: str, n_outputs: int) -> None:
    """Refuse (output activation, loss) pairs whose gradient this library would get wrong."""
    required = REQUIRED_OUTPUT.get(loss)
    if required is not None and output_activation != required:
        raise ValueError(
            f"loss {loss} needs the {required} output activation, got {output_activation}"
        )
    if loss == "mse" and output_activation == "softmax":
        raise ValueError(
            "softmax output with mse is not supported (its gradient needs the full Jacobian); "
            "use softmax_cross_entropy for classes, or a linear output for regression"
        )
    if loss == "softmax_cross_entropy" and n_outputs < 2:
        raise ValueError(
            "softmax_cross_entropy needs at least 2 outputs; for two classes with one output use "
            "a sigmoid output and binary_cross_entropy"
        )
