"""Activations: values, derivatives against finite differences, stability, and extension."""

import warnings

import numpy as np
import pytest

import nnfunc as nf
from nnfunc.activations import (
    ACTIVATIONS,
    parse_activation,
    register_activation,
    sigmoid,
    softmax,
    softplus,
    unregister_activation,
)
from nnfunc.model import Model, predict_values

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


def test_the_table_changes_only_through_register_and_unregister(scratch_activations):
    with pytest.raises(TypeError):
        ACTIVATIONS["relu"] = ACTIVATIONS["linear"]  # would skip the checks register makes
    with pytest.raises(ValueError, match="built-in"):
        unregister_activation("relu")
    register_activation("twice_test_only", lambda z, alpha: 2 * z, lambda z, a, alpha: 2 + 0 * z)
    spec = nf.mlp_spec([1, 1, 1], activation="twice_test_only", loss="mse")
    params = nf.init_params(spec, 0)
    first = nf.forward(spec, params, [[1.0]])
    unregister_activation("twice_test_only")
    register_activation("twice_test_only", lambda z, alpha: 3 * z, lambda z, a, alpha: 3 + 0 * z)
    again = nf.forward(spec, params, [[1.0]])  # the new function, not a network cached with the old
    w0, w1 = params.layers[0].w[0, 0], params.layers[1].w[0, 0]
    assert (first[0, 0], again[0, 0]) == (2 * w0 * w1, 3 * w0 * w1)
    model = Model(
        spec=spec, params=params, task="regress", feature_names=("x",), target_names=("y",)
    )
    assert predict_values(model, [[1.0]])[0, 0] == 3 * w0 * w1
    unregister_activation("twice_test_only")
    register_activation("twice_test_only", lambda z, alpha: 5 * z, lambda z, a, alpha: 5 + 0 * z)
    assert predict_values(model, [[1.0]])[0, 0] == 5 * w0 * w1  # a Model made earlier too


@pytest.mark.parametrize(
    ("z", "dtype", "rtol"),
    [
        (-40.0, np.float64, 1e-15),
        (-700.0, np.float64, 1e-13),
        (-17.0, np.float32, 1e-6),
        (-20.0, np.float32, 1e-6),
        (-80.0, np.float32, 1e-6),
    ],
)
def test_sigmoid_keeps_relative_precision_for_negative_logits(z, dtype, rtol):
    expected = np.exp(z) / (1.0 + np.exp(z))  # float64 exp(z) is exact to rounding for z < 0
    got = sigmoid(np.array([z], dtype=dtype))
    assert got.dtype == dtype
    np.testing.assert_allclose(got[0], expected, rtol=rtol)


def test_sigmoid_is_exact_at_infinity_and_symmetric():
    z = np.array([-np.inf, -3.0, -0.5, 0.0, 0.5, 3.0, np.inf])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = sigmoid(z)
    np.testing.assert_array_equal(s[[0, 3, 6]], [0.0, 0.5, 1.0])
    np.testing.assert_allclose(s + s[::-1], 1.0, rtol=1e-15)


@pytest.mark.parametrize("name", ["relu:0.1", "tanh:5", "sigmoid:1", "Linear:0", "swish:2"])
def test_a_parameter_on_an_activation_that_takes_none_is_refused(name):
    with pytest.raises(ValueError, match="takes no parameter.*leaky_relu"):
        parse_activation(name)


def test_parametrised_activations_keep_their_parameter():
    for name, alpha in [("leaky_relu:0.1", 0.1), ("prelu:0.3", 0.3), ("elu:0.5", 0.5)]:
        assert parse_activation(name)[1] == alpha


def test_registered_activations_take_a_parameter_when_they_declare_one(scratch_activations):
    def shift(z, alpha):
        return z + alpha

    def one(z, a, alpha):
        return np.ones_like(z)

    register_activation("shift_default_test_only", shift, one, default_alpha=1.0)
    register_activation("shift_explicit_test_only", shift, one, parametric=True)
    register_activation("shift_none_test_only", shift, one)
    assert parse_activation("shift_default_test_only:2")[1] == 2.0
    assert parse_activation("shift_explicit_test_only:3")[1] == 3.0
    with pytest.raises(ValueError, match="takes no parameter"):
        parse_activation("shift_none_test_only:2")


@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_finite_and_warning_free_up_to_the_largest_float(name, dtype):
    # arctan's 1 / (1 + z*z) and gelu's z**3 overflowed (with a warning) long before this
    act, alpha = parse_activation(name)
    big = np.finfo(dtype).max
    z = np.array([[-big, -1e30, -1e15, 1e15, 1e30, big]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = act.fn(z, alpha)
        g = act.grad(z, a, alpha)
    assert np.all(np.isfinite(a)) and np.all(np.isfinite(g))


def test_arctan_and_gelu_derivatives_keep_their_formulas_on_ordinary_inputs():
    z = np.linspace(-6, 6, 121)
    arctan = ACTIVATIONS["arctan"]
    np.testing.assert_allclose(arctan.grad(z, arctan.fn(z, 0), 0), 1 / (1 + z * z), rtol=1e-15)
    gelu = ACTIVATIONS["gelu"]
    c = np.sqrt(2 / np.pi)
    t = np.tanh(c * (z + 0.044715 * z**3))
    expected = 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * c * (1 + 3 * 0.044715 * z**2)
    np.testing.assert_allclose(gelu.grad(z, gelu.fn(z, 0), 0), expected, rtol=1e-14)
    np.testing.assert_allclose(gelu.fn(z, 0), 0.5 * z * (1 + t), rtol=1e-15)


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("ReLU", "relu"),
        (" relu ", "relu"),
        ("identity", "linear"),
        ("STEP", "binary_step"),
        ("elu:0.50", "elu:0.5"),
        ("Leaky_ReLU: 0.1", "leaky_relu:0.1"),
    ],
)
def test_a_spec_stores_one_spelling_of_each_activation(given, stored):
    from nnfunc.spec import mlp_spec

    spec = mlp_spec([2, 3, 2], activation=given)
    assert spec.activations == (stored,)
    assert spec == mlp_spec([2, 3, 2], activation=stored)


@pytest.mark.parametrize("spec", ["leaky_relu:1e308", "elu:-1001", "prelu:nan", "elu:inf"])
def test_activation_parameters_are_bounded(spec):
    # a model file's leaky_relu:1e308 turned every negative output into -inf
    with pytest.raises(ValueError, match=r"must lie in \[-1000, 1000\]"):
        parse_activation(spec)
    assert parse_activation("leaky_relu:-1000")[1] == -1000.0


def test_a_user_activation_that_computes_in_float64_keeps_a_float32_network_float32(
    scratch_activations,
):
    import nnfunc as nf

    c = np.sqrt(2 / np.pi)  # a NumPy float64 scalar: c * z is float64 for float32 z
    register_activation("scaled", lambda z, a: c * z, lambda z, a, al: np.full_like(z, c))
    spec = nf.mlp_spec([2, 4, 1], activation="scaled", dtype="float32")
    params = nf.init_params(spec, 0)
    X, y = np.ones((8, 2), np.float32), np.ones(8, np.float32)
    assert nf.forward(spec, params, X).dtype == np.float32
    result = nf.fit(spec, params, X, y, optimizer=nf.sgd(0.01), epochs=1, rng=0)  # crashed
    assert result.params.layers[0].w.dtype == np.float32


@pytest.mark.parametrize("name", ["ReLU", "Swish", "IDENTITY", "Tanh"])
def test_a_name_that_differs_from_a_built_in_only_in_case_is_refused(scratch_activations, name):
    # names are looked up ignoring case: "ReLU" would mean the user's here, relu once reloaded
    with pytest.raises(ValueError, match="already exists"):
        register_activation(name, lambda z, a: z, lambda z, a, al: np.ones_like(z))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_elu_derivative_keeps_relative_precision_far_below_zero(dtype):
    # alpha * expm1(z) + alpha cancelled: 1.7e-4 relative error at -30, exactly 0 below -37
    elu = ACTIVATIONS["elu"]
    z = np.array([-80.0, -40.0, -30.0, -2.0], dtype)
    got = elu.grad(z, elu.fn(z, 0.7), 0.7)
    np.testing.assert_allclose(got, 0.7 * np.exp(z.astype(np.float64)), rtol=1e-6)
    assert got.dtype == dtype and (got > 0).all()
