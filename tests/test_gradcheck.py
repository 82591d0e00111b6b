"""Analytic gradients agree with central differences for every activation and loss pairing."""

import numpy as np
import pytest

from nnfunc.activations import ACTIVATIONS, register_activation
from nnfunc.gradcheck import check_grads
from nnfunc.params import init_params
from nnfunc.spec import mlp_spec

HIDDEN = sorted(name for name in ACTIVATIONS if name != "softmax" and not name.endswith("_only"))
# Every valid (output activation, loss) pair and a matching target maker.
PAIRS = {
    ("softmax", "softmax_cross_entropy"): lambda rng, n: rng.integers(0, 3, n),
    ("softmax", "softmax_cross_entropy_probs"): lambda rng, n: rng.dirichlet(np.ones(3), n),
    ("sigmoid", "binary_cross_entropy"): lambda rng, n: rng.integers(0, 2, n).astype(float),
    ("linear", "mse"): lambda rng, n: rng.normal(size=(n, 3)),
    ("sigmoid", "mse"): lambda rng, n: rng.uniform(size=(n, 3)),
    ("tanh", "mse"): lambda rng, n: rng.uniform(-1, 1, size=(n, 3)),
    ("softplus", "mse"): lambda rng, n: rng.uniform(0, 2, size=(n, 3)),
}


@pytest.mark.parametrize("hidden", [h for h in HIDDEN if h != "binary_step"])
@pytest.mark.parametrize("pair", list(PAIRS), ids=lambda p: "-".join(p))
@pytest.mark.parametrize("l2", [0.0, 0.05])
def test_every_activation_and_pair(hidden, pair, l2):
    output, loss = pair
    rng = np.random.default_rng(0)
    n_out = 1 if loss == "binary_cross_entropy" else 3
    spec = mlp_spec(
        [3, 5, 4, n_out],
        activation=hidden,
        output_activation=output,
        loss=loss.removesuffix("_probs"),
    )
    X = rng.normal(size=(8, 3))
    y = PAIRS[pair](rng, 8)
    result = check_grads(spec, init_params(spec, 1, init="glorot_normal"), X, y, l2=l2)
    assert result.max_rel_error < 1e-6, result


def test_binary_step_has_zero_gradient_below_its_output():
    spec = mlp_spec([2, 3, 1], activation="binary_step", loss="mse")
    rng = np.random.default_rng(2)
    result = check_grads(spec, init_params(spec, 0), rng.normal(size=(6, 2)), rng.normal(size=6))
    assert result.max_rel_error < 1e-6


def test_a_wrong_derivative_is_caught(scratch_activations):
    name = "wrong_grad_test_only"
    register_activation(name, lambda z, alpha: np.tanh(z), lambda z, a, alpha: 1.0 - a)
    spec = mlp_spec([3, 4, 2], activation=name)
    rng = np.random.default_rng(0)
    result = check_grads(spec, init_params(spec, 0), rng.normal(size=(5, 3)), rng.integers(0, 2, 5))
    assert result.max_rel_error > 1e-3
    assert result.layer == 0 and not result.ok and not result.passes(1e-3)
    assert result.passes(1.5)  # a looser bound of the caller's own


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_a_float32_network_is_checked_in_float64(activation):
    # float32 cannot resolve eps = 1e-5: checked as it was, every entry looked wrong (errors ~1)
    spec = mlp_spec([2, 5, 2], activation=activation, dtype="float32")
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(8, 2)).astype(np.float32), rng.integers(0, 2, 8)
    params = init_params(spec, 0)
    result = check_grads(spec, params, X, y)
    assert result.max_rel_error < 1e-6, result
    assert params.layers[0].w.dtype == np.float32  # the caller's record is left as it was
