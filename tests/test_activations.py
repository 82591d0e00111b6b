"""Activations: values, derivatives against finite differences, stability, and extension."""

import warnings

import numpy as np
import pytest

from nnfunc.activations import (
    ACTIVATIONS,
    parse_activation,
    register_activation,
    sigmoid,
    softmax,
    softplus,
)

ELEMENTWISE = sorted(name for name in ACTIVATIONS if name != "softmax")


@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stable_and_dtype_preserving_at_extremes(name, dtype):
    act, alpha = parse_activation(name)
    z = np.array([[-1000.0, -30.0, -1.0, 0.0, 1.0, 30.0, 1000.0]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = act.fn(z, alpha)
        g = act.grad(z, a, alpha)
    assert a.dtype == dtype and g.dtype == dtype
    assert np.all(np.isfinite(a)) and np.all(np.isfinite(g))


@pytest.mark.parametrize("name", sorted(set(ELEMENTWISE) - {"binary_step"}))
def test_derivative_matches_central_differences(name):
    act, alpha = parse_activation(name)
    z = np.linspace(-4, 4, 41) + 0.013  # keep clear of the kinks at 0
    eps = 1e-6
    numeric = (act.fn(z + eps, alpha) - act.fn(z - eps, alpha)) / (2 * eps)
    analytic = act.grad(z, act.fn(z, alpha), alpha)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


def test_known_values():
    z = np.array([-2.0, 0.0, 3.0])
    assert np.allclose(parse_activation("relu")[0].fn(z, 0), [0, 0, 3])
    assert np.allclose(parse_activation("binary_step")[0].fn(z, 0), [0, 1, 1])
    assert np.allclose(parse_activation("leaky_relu:0.1")[0].fn(z, 0.1), [-0.2, 0, 3])
    assert np.allclose(sigmoid(z), 1 / (1 + np.exp(-z)))
    assert np.allclose(softplus(z), np.log1p(np.exp(z)))
    assert np.allclose(parse_activation("arctan")[0].fn(z, 0), np.arctan(z))
    elu, alpha = parse_activation("elu")
    assert np.allclose(elu.fn(z, alpha), [np.exp(-2) - 1, 0, 3])


def test_sigmoid_softplus_exact_in_the_tails():
    assert sigmoid(np.array([-1000.0]))[0] == 0.0
    assert sigmoid(np.array([1000.0]))[0] == 1.0
    assert softplus(np.array([1000.0]))[0] == 1000.0
    assert softplus(np.array([-1000.0]))[0] == 0.0


def test_softmax_rows_sum_to_one_without_overflow():
    z = np.array([[1000.0, 0.0, -1000.0], [1.0, 2.0, 3.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = softmax(z)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert p[0, 0] == 1.0


def test_parse_parameters_aliases_and_errors():
    act, alpha = parse_activation("elu:0.5")
    assert act.name == "elu" and alpha == 0.5
    assert parse_activation("swish")[0].name == "silu"
    assert parse_activation("prelu")[1] == 0.25
    with pytest.raises(ValueError, match="unknown activation 'nope'.*relu"):
        parse_activation("nope")
    with pytest.raises(ValueError, match="not a number"):
        parse_activation("elu:x")


def test_users_can_register_their_own(scratch_activations):
    name = "cube_test_only"
    register_activation(name, lambda z, alpha: z**3, lambda z, a, alpha: 3 * z**2)
    act, _ = parse_activation(name)
    assert act.fn(np.array([2.0]), 0)[0] == 8.0
    with pytest.raises(ValueError, match="already exists"):
        register_activation("relu", lambda z, alpha: z, lambda z, a, alpha: z)
