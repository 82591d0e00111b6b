"""Forward pass, losses and gradients: values, stability, dtypes and input checks."""

import warnings

import numpy as np
import pytest

import nnfunc as nf
from nnfunc.params import Dense, Params


def _one_layer(w, b, **spec_kw):
    w = np.asarray(w, dtype=float)
    spec = nf.mlp_spec([w.shape[0], w.shape[1]], **spec_kw)
    return spec, Params([Dense(w, np.asarray(b, dtype=float))])


def test_forward_gives_probabilities_and_logits():
    spec = nf.mlp_spec([4, 6, 3])
    params = nf.init_params(spec, 0)
    X = np.random.default_rng(0).normal(size=(10, 4))
    p = nf.forward(spec, params, X)
    z = nf.logits(spec, params, X)
    assert p.shape == (10, 3)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_allclose(p, np.exp(z) / np.exp(z).sum(axis=1, keepdims=True))
    np.testing.assert_array_equal(nf.predict(spec, params, X), z.argmax(axis=1))


def test_softmax_cross_entropy_value_matches_the_definition():
    spec, params = _one_layer(np.eye(3), np.zeros(3))
    X = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 5.0]])
    y = np.array([2, 0])
    logp = X - np.log(np.exp(X).sum(axis=1, keepdims=True))
    assert nf.loss(spec, params, X, y) == pytest.approx(-(logp[0, 2] + logp[1, 0]) / 2)
    one_hot = np.eye(3)[y]
    assert nf.loss(spec, params, X, one_hot) == pytest.approx(nf.loss(spec, params, X, y))


def test_binary_cross_entropy_and_mse_values():
    spec, params = _one_layer([[1.0]], [0.0], loss="binary_cross_entropy")
    X = np.array([[0.5], [-2.0]])
    y = np.array([1.0, 0.0])
    p = 1 / (1 + np.exp(-X[:, 0]))
    expected = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert nf.loss(spec, params, X, y) == pytest.approx(expected)
    spec, params = _one_layer([[2.0]], [1.0], loss="mse")
    assert nf.loss(spec, params, np.array([[1.0], [0.0]]), np.array([1.0, 1.0])) == pytest.approx(
        0.5 * np.mean([(3 - 1) ** 2, 0.0])
    )


def test_l2_penalty_is_half_l2_times_squared_weights():
    spec = nf.mlp_spec([3, 4, 2])
    params = nf.init_params(spec, 0)
    X, y = np.ones((2, 3)), np.array([0, 1])
    squares = sum(float((layer.w**2).sum()) for layer in params.layers)
    assert nf.loss(spec, params, X, y, l2=0.3) == pytest.approx(
        nf.loss(spec, params, X, y) + 0.15 * squares
    )


def test_losses_stay_finite_without_warnings_at_extreme_logits():
    cases = [  # every row is confidently wrong by a logit margin of 2000 (softmax), 1000 (sigmoid)
        (_one_layer([[1000.0, -1000.0]], [0.0, 0.0]), np.array([1, 0]), 2000.0),
        (_one_layer([[1000.0]], [0.0], loss="binary_cross_entropy"), np.array([0.0, 1.0]), 1000.0),
    ]
    X = np.array([[1.0], [-1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for (spec, params), y, expected in cases:
            value, grads = nf.value_and_grads(spec, params, X, y)
            assert value == pytest.approx(expected)
            assert all(np.isfinite(g).all() for g in grads.leaves())


def test_value_and_grads_agree_with_separate_calls_and_leave_inputs_untouched():
    spec = nf.mlp_spec([3, 5, 2], activation="tanh")
    params = nf.init_params(spec, 3)
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(6, 3)), rng.integers(0, 2, 6)
    X_before, params_before = X.copy(), nf.init_params(spec, 3)
    value, grads = nf.value_and_grads(spec, params, X, y, l2=0.1)
    assert value == nf.loss(spec, params, X, y, l2=0.1)
    assert grads == nf.grads(spec, params, X, y, l2=0.1)
    assert isinstance(grads, Params)
    np.testing.assert_array_equal(X, X_before)
    assert params == params_before


def test_float32_end_to_end():
    spec = nf.mlp_spec([3, 8, 2], dtype="float32", activation="gelu")
    params = nf.init_params(spec, 0)
    X = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    assert nf.forward(spec, params, X).dtype == np.float32
    assert nf.logits(spec, params, X.astype(np.float64)).dtype == np.float32
    _, grads = nf.value_and_grads(spec, params, X, np.array([0, 1, 0, 1, 1]))
    assert all(g.dtype == np.float32 for g in grads.leaves())


def test_wrong_input_width_and_bad_labels_are_refused():
    spec = nf.mlp_spec([4, 3])
    params = nf.init_params(spec, 0)
    with pytest.raises(ValueError, match="4 feature"):
        nf.forward(spec, params, np.ones((2, 5)))
    with pytest.raises(ValueError, match=r"lie in \[0, 2\]"):
        nf.loss(spec, params, np.ones((2, 4)), np.array([0, 3]))
    with pytest.raises(ValueError, match="integer class labels"):
        nf.loss(spec, params, np.ones((2, 4)), np.array([0.5, 1.0]))


def test_regression_predictions_are_outputs():
    spec = nf.mlp_spec([2, 4, 2], loss="mse", output_activation="linear")
    params = nf.init_params(spec, 0)
    X = np.ones((3, 2))
    np.testing.assert_array_equal(nf.predict(spec, params, X), nf.forward(spec, params, X))


def test_binary_cross_entropy_keeps_the_loss_of_a_confident_right_answer():
    # softplus(40) - 40 cancelled to 0; the loss is log(1 + e^-40) = 4.2e-18
    from nnfunc.activations import ACTIVATIONS
    from nnfunc.losses import binary_cross_entropy

    z, y = np.array([[40.0], [-40.0], [3.0]]), np.array([[1.0], [0.0], [0.3]])
    value, _ = binary_cross_entropy(z, y, ACTIVATIONS["sigmoid"], 0.0)
    expected = np.mean([np.log1p(np.exp(-40.0))] * 2 + [np.log1p(np.exp(3.0)) - 0.9])
    assert value == pytest.approx(expected, rel=1e-12)
    one, _ = binary_cross_entropy(z[:1], y[:1], ACTIVATIONS["sigmoid"], 0.0)
    assert one == pytest.approx(np.exp(-40.0), rel=1e-12)
