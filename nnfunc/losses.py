"""Losses, computed from the output layer's pre-activations (logits) for stability.

Each loss returns the mean loss over the batch and its gradient with respect to the logits in one
pass. The fused gradients `p - y` hold only for the matched pairs (softmax with
softmax_cross_entropy, sigmoid with binary_cross_entropy); MSE works with any element-wise output
activation through the chain rule. Conventions:

- `softmax_cross_entropy`: mean over samples of -log p[label]. Targets are integer labels of shape
  (n,) (no one-hot needed) or rows of class probabilities of shape (n, k).
- `binary_cross_entropy`: mean over all outputs of -[y log p + (1 - y) log(1 - p)], computed as
  softplus(z) - y z so it stays finite for any logit.
- `mse`: half the mean over all elements of (prediction - target)^2, the 1/2 making its gradient
  `(prediction - target) / size` (the scikit-learn convention).
- The L2 penalty `l2 / 2 * sum(W**2)` over weight matrices (not biases) is added by the network.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from nnfunc.activations import Activation, sigmoid, softplus

LossAndDelta = tuple[float, np.ndarray]


def _labels_or_probs(y: np.ndarray, z: np.ndarray) -> tuple[bool, np.ndarray]:
    """Classify a target as integer labels (True) or a probability matrix (False)."""
    if y.ndim == 1:
        if y.dtype.kind not in "iub":
            if not np.all(np.equal(np.mod(y, 1), 0)):
                raise ValueError("softmax_cross_entropy needs integer class labels")
            y = y.astype(np.int64)
        if y.size and (y.min() < 0 or y.max() >= z.shape[1]):
            raise ValueError(f"class labels must lie in [0, {z.shape[1] - 1}]")
        return True, y
    if y.shape != z.shape:
        raise ValueError(f"target shape {y.shape} does not match the output shape {z.shape}")
    return False, y.astype(z.dtype, copy=False)


def softmax_cross_entropy(
    z: np.ndarray, y: np.ndarray, act: Activation, alpha: float
) -> LossAndDelta:
    """Mean cross-entropy of softmax(z) against labels; gradient (softmax(z) - onehot(y)) / n."""
    n = z.shape[0]
    is_labels, y = _labels_or_probs(y, z)
    shifted = z - z.max(axis=1, keepdims=True)
    p = np.exp(shifted)
    norm = p.sum(axis=1, keepdims=True)
    p /= norm
    if is_labels:
        rows = np.arange(n)
        value = float(np.mean(np.log(norm[:, 0]) - shifted[rows, y]))
        p[rows, y] -= 1.0
    else:
        value = float(-np.sum(y * (shifted - np.log(norm))) / n)
        p -= y
    p /= n
    return value, p


def binary_cross_entropy(
    z: np.ndarray, y: np.ndarray, act: Activation, alpha: float
) -> LossAndDelta:
    """Mean binary cross-entropy of sigmoid(z); gradient (sigmoid(z) - y) / size."""
    y = y.reshape(z.shape).astype(z.dtype, copy=False)
    value = float(np.mean(softplus(z) - y * z))
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
