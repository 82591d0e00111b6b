"""The public network functions refuse bad input with a message that says what is wrong."""

import warnings
from pathlib import Path

import numpy as np
import pytest

import nnfunc as nf
from nnfunc.network import as_inputs, as_targets
from nnfunc.params import Dense, Params

IRIS = Path(__file__).parent.parent / "models" / "iris.msgpack"
X4 = np.ones((4, 2))
CLASSIFIER = nf.mlp_spec([2, 4, 3])
BINARY = nf.mlp_spec([2, 1], loss="binary_cross_entropy")
REGRESSOR = nf.mlp_spec([2, 4, 1])
TWO_OUTPUTS = nf.mlp_spec([2, 4, 2], loss="mse", output_activation="linear")


def _with_targets(spec, X, y):
    """Every public function that takes targets, called on (X, y)."""
    params = nf.init_params(spec, 0)
    return [
        lambda: nf.loss(spec, params, X, y),
        lambda: nf.grads(spec, params, X, y),
        lambda: nf.value_and_grads(spec, params, X, y),
    ]


def _every_public(spec, params, X):
    """Every public network function, called with `params` on X (and fitting targets)."""
    y = np.zeros(len(X), np.int64)
    return [
        lambda: nf.logits(spec, params, X),
        lambda: nf.forward(spec, params, X),
        lambda: nf.predict(spec, params, X),
        lambda: nf.loss(spec, params, X, y),
        lambda: nf.grads(spec, params, X, y),
        lambda: nf.value_and_grads(spec, params, X, y),
    ]


@pytest.mark.parametrize("y", [[1], [0, 1], [0, 1, 2, 0, 1]])
def test_labels_must_number_the_rows_of_X(y):
    for call in _with_targets(CLASSIFIER, X4, y):
        with pytest.raises(ValueError, match=rf"X has 4 rows but y has {len(y)}"):
            call()


def test_regression_targets_must_fit_rows_and_outputs():
    for call in _with_targets(REGRESSOR, X4, np.ones((2, 2))):
        with pytest.raises(ValueError, match=r"shape \(2, 2\) do not fit 1 output"):
            call()
    for call in _with_targets(TWO_OUTPUTS, X4, np.ones(8)):  # 1-D only for a single output
        with pytest.raises(ValueError, match=r"shape \(8,\) do not fit 2 output"):
            call()
    for call in _with_targets(BINARY, X4, np.ones(2)):
        with pytest.raises(ValueError, match="X has 4 rows but y has 2"):
            call()
    params = nf.init_params(REGRESSOR, 0)
    y = np.arange(4.0)
    assert nf.loss(REGRESSOR, params, X4, y) == nf.loss(REGRESSOR, params, X4, y[:, None])


@pytest.mark.parametrize("spec", [CLASSIFIER, BINARY, REGRESSOR], ids=lambda s: s.loss)
def test_an_empty_batch_has_no_loss(spec):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for call in _with_targets(spec, np.ones((0, 2)), np.zeros(0)):
            with pytest.raises(ValueError, match="no rows"):
                call()
        params = nf.init_params(spec, 0)
        assert nf.forward(spec, params, np.ones((0, 2))).shape == (0, spec.n_outputs)


@pytest.mark.parametrize("y", [[0, 1, 2, -1], [0, 1, np.nan, 1], [0, 1, np.inf, 0]])
def test_binary_targets_must_lie_in_0_1(y):
    with pytest.raises(ValueError, match=r"lie in \[0, 1\]|NaN or infinity"):
        as_targets(BINARY, y)  # what the training code calls, once per fit
    for call in _with_targets(BINARY, X4, y):
        with pytest.raises(ValueError, match=r"lie in \[0, 1\]|NaN or infinity"):
            call()


def test_soft_binary_targets_are_accepted():
    params = nf.init_params(BINARY, 0)
    assert np.isfinite(nf.loss(BINARY, params, X4, [0.0, 0.25, 1.0, 0.5]))


def test_params_must_have_the_spec_layers():
    spec = nf.mlp_spec([2, 5, 3])
    fewer = nf.init_params(nf.mlp_spec([2, 3]), 0)
    narrower = nf.init_params(nf.mlp_spec([2, 4, 3]), 0)
    for call in _every_public(spec, fewer, X4):
        with pytest.raises(ValueError, match=r"params have 1 layer\(s\) but the spec"):
            call()
    for call in _every_public(spec, narrower, X4):
        with pytest.raises(ValueError, match=r"layer 0: .* shape \(2, 5\), got \(2, 4\)"):
            call()
    with pytest.raises(TypeError, match="Params record"):
        nf.forward(spec, narrower.leaves(), X4)


@pytest.mark.parametrize("dtype", [np.complex128, np.int64, np.bool_, np.dtype("<U3")])
def test_params_that_are_not_floats_are_refused(dtype):
    # complex weights would be truncated, int ones would take int updates and never train
    with pytest.raises(TypeError, match=f"floating-point numbers, got {np.dtype(dtype)}"):
        Dense(np.ones((2, 3)).astype(dtype), np.zeros(3))
    with pytest.raises(TypeError, match="b must hold floating-point numbers"):
        Params.from_leaves([np.ones((2, 3)), np.zeros(3, dtype)])


def test_public_functions_compute_in_the_spec_dtype():
    spec32 = nf.mlp_spec([2, 4, 3], dtype="float32")
    params64 = nf.init_params(nf.mlp_spec([2, 4, 3]), 0)
    params32 = Params.from_leaves([a.astype(np.float32) for a in params64.leaves()])
    y = [0, 1, 2, 0]
    out = nf.forward(spec32, params64, X4)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, nf.forward(spec32, params32, X4))
    grads = nf.grads(spec32, params64, X4, y)
    assert all(g.dtype == np.float32 for g in grads.leaves())
    assert grads == nf.grads(spec32, params32, X4, y)
    assert nf.loss(spec32, params64, X4, y) == nf.loss(spec32, params32, X4, y)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, None])
def test_non_finite_inputs_are_refused(bad):
    params = nf.init_params(CLASSIFIER, 0)
    for call in _every_public(CLASSIFIER, params, np.array([[bad, 0.0]])):
        with pytest.raises(ValueError, match="inputs contain NaN or infinity"):
            call()
    with pytest.raises(ValueError, match="inputs contain NaN or infinity"):
        as_inputs(CLASSIFIER, [[1.0, 2.0], [bad, 0.0]])  # what the training code calls


def test_complex_and_text_inputs_are_refused():
    params = nf.init_params(CLASSIFIER, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning: the value is refused, not truncated
        with pytest.raises(ValueError, match="inputs must be real numbers, got complex"):
            nf.forward(CLASSIFIER, params, X4 + 1j)
    with pytest.raises(ValueError, match="inputs must be real numbers"):
        nf.forward(CLASSIFIER, params, [["a", "b"]])
    with pytest.raises(ValueError, match="rectangular"):
        nf.forward(CLASSIFIER, params, [[1.0, 2.0], [3.0]])


@pytest.mark.parametrize("labels", [["a", "b", "c", "a"], np.array([0, 1, None, 2], dtype=object)])
def test_labels_must_be_integers(labels):
    for call in _with_targets(CLASSIFIER, X4, labels):
        with pytest.raises(ValueError, match=r"integer class labels 0\.\.2"):
            call()


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([[1.5, -0.5, 0.0], [0.2, 0.3, 0.5]], "must not be negative"),
        ([[np.nan, 0.5, 0.5], [0.2, 0.3, 0.5]], "NaN or infinity"),
        ([[0.5, 0.5, 0.5], [0.2, 0.3, 0.5]], "row 0 sums to 1.5"),
        ([[0.2, 0.2, 0.2], [0.2, 0.3, 0.5]], "must sum to 1"),
    ],
)
def test_probability_rows_must_be_distributions(rows, message):
    for call in _with_targets(CLASSIFIER, X4[:2], rows):
        with pytest.raises(ValueError, match=message):
            call()


def test_rounded_float32_probability_rows_are_accepted():
    spec = nf.mlp_spec([2, 4, 3], dtype="float32")
    rows = np.full((4, 3), 1 / 3, np.float32)  # each row sums to 1 only within float32 rounding
    assert np.isfinite(nf.loss(spec, nf.init_params(spec, 0), X4, rows))


def test_a_column_of_integer_labels_is_read_as_labels():
    # Keras' sparse cross-entropy takes labels shaped (n, 1); the fix is not to one-hot them
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(12, 2)), rng.integers(0, 3, 12)
    params = nf.init_params(CLASSIFIER, 0)
    assert nf.loss(CLASSIFIER, params, X, y[:, None]) == nf.loss(CLASSIFIER, params, X, y)
    assert nf.grads(CLASSIFIER, params, X, y[:, None]) == nf.grads(CLASSIFIER, params, X, y)
    options = {"optimizer": nf.adam(0.01), "epochs": 3, "rng": 0, "batch_size": 5}
    column = nf.fit(CLASSIFIER, params, X, y[:, None], **options)
    assert column.params == nf.fit(CLASSIFIER, params, X, y, **options).params
    with pytest.raises(ValueError, match=r"class labels must lie in \[0, 2\]"):
        nf.loss(CLASSIFIER, params, X, (y + 3)[:, None])


@pytest.mark.parametrize(
    ("l2", "error", "message"),
    [
        (-1, ValueError, "l2 must be a non-negative finite number, got -1"),
        (float("nan"), ValueError, "l2 must be a non-negative"),
        (True, TypeError, "l2 must be a number, got bool True"),
        ("0.1", TypeError, "l2 must be a number, got str"),
        (None, TypeError, "l2 must be a number"),
    ],
)
def test_l2_is_checked_by_every_function_that_takes_it(l2, error, message):
    # nf.loss took l2=-1 (a negative loss) and fit took l2=True
    y = np.array([0, 1, 2, 0])
    params = nf.init_params(CLASSIFIER, 0)
    calls = [
        lambda: nf.loss(CLASSIFIER, params, X4, y, l2=l2),
        lambda: nf.value_and_grads(CLASSIFIER, params, X4, y, l2=l2),
        lambda: nf.grads(CLASSIFIER, params, X4, y, l2=l2),
        lambda: nf.fit(CLASSIFIER, params, X4, y, optimizer=nf.sgd(0.1), epochs=1, rng=0, l2=l2),
        lambda: nf.fit_epochs(CLASSIFIER, params, X4, y, optimizer=nf.sgd(0.1), epochs=1, rng=0,
                              l2=l2),
    ]  # fmt: skip
    for call in calls:
        with pytest.raises(error, match=message):
            call()  # fit_epochs too: checked when called, not at the first epoch


def test_training_arguments_that_cannot_work_are_named():
    y = np.array([0, 1, 2, 0])
    params = nf.init_params(CLASSIFIER, 0)
    with pytest.raises(TypeError, match="optimizer must be a GradientTransformation"):
        nf.fit(CLASSIFIER, params, X4, y, optimizer="adam", epochs=1, rng=0)
    nan = nf.Params.from_leaves([np.full_like(a, np.nan) for a in params.leaves()])
    with pytest.raises(ValueError, match="params contain NaN or infinity"):  # not "diverged"
        nf.fit(CLASSIFIER, nan, X4, y, optimizer=nf.sgd(0.1), epochs=1, rng=0)
    with pytest.raises(ValueError, match=r"leaves come in \(w, b\) pairs, got 3 arrays"):
        nf.Params.from_leaves(params.leaves()[:3])
    one_input = nf.mlp_spec([1, 3, 1])
    with pytest.raises(ValueError, match=r"got shape \(5,\) \(a 1-D array is one row"):
        nf.forward(one_input, nf.init_params(one_input, 0), np.arange(5.0))
    with pytest.raises(TypeError, match="a number or a schedule record"):
        nf.sgd(lambda count: 0.1)  # was an empty StopIteration


def test_an_optimizers_config_is_read_only_and_a_hand_made_chain_has_none():
    from nnfunc.optim import optimizer_from_config

    adam = nf.adam(0.1)
    with pytest.raises(TypeError, match="read-only"):
        adam.config["schedule"]["lr"] = 5.0
    assert optimizer_from_config(adam.config).config == adam.config
    with pytest.raises(ValueError, match="names no built-in optimizer"):
        optimizer_from_config(nf.chain(nf.scale_by_adam()).config)


# --- misused public functions: a TypeError that names what was given, before any work ----------

PARAMS = nf.init_params(CLASSIFIER, 0)
OPTIMIZER = nf.sgd(0.1)
STATE = nf.init_optimizer(OPTIMIZER, PARAMS)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: nf.forward(PARAMS, CLASSIFIER, X4), "spec first, then params"),
        (lambda: nf.loss(PARAMS, CLASSIFIER, X4, [0] * 4), "spec first, then params"),
        (lambda: nf.check_grads(PARAMS, CLASSIFIER, X4, [0] * 4), "got Params"),
        (lambda: nf.init_params([2, 4, 3], 0), "spec must be an MLPSpec, .* got list"),
        (lambda: nf.step(OPTIMIZER, PARAMS, STATE, PARAMS.leaves()), "Params.from_leaves"),
        (lambda: nf.step(PARAMS, PARAMS, STATE, PARAMS), "GradientTransformation .* got Params"),
        (lambda: nf.init_optimizer(PARAMS, OPTIMIZER), "GradientTransformation .* got Params"),
        (lambda: nf.chain(nf.adam), "adam makes one, call it"),
        (lambda: nf.chain(nf.sgd(0.1), "adam"), "transform 1 must be a GradientTransformation"),
        (lambda: Params([np.ones((2, 3))]), "layer 0 must be a Dense"),
    ],
)
def test_misuse_is_a_type_error_that_says_what_was_given(call, message):
    with pytest.raises(TypeError, match=message):
        call()


def test_malformed_values_are_refused_where_they_are_given():
    with pytest.raises(ValueError, match="at least one layer"):
        Params.from_leaves([])
    for eps in (0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="eps must be a positive finite step"):
            nf.check_grads(CLASSIFIER, PARAMS, X4, [0] * 4, eps=eps)
    for count in (-1, 2.5, "3", True):
        with pytest.raises(ValueError, match="count must be a whole number >= 0"):
            nf.optim.ScaleByAdamState(count, (), ())
        with pytest.raises(ValueError, match="count must be a whole number >= 0"):
            nf.optim.CountState(count)
    with pytest.raises(ValueError, match="this one has no lr"):
        nf.optimizer_from_config({"name": "sgd", "schedule": {"name": "cosine"}})


def test_apply_updates_keeps_dtypes_and_refuses_mismatched_updates():
    leaves = nf.init_params(nf.mlp_spec([2, 4, 3], dtype="float32"), 0).leaves()
    updates = [np.full(a.shape, 0.5) for a in leaves]  # float64
    new = nf.apply_updates(leaves, updates)
    assert [a.dtype for a in new] == [np.float32] * 4
    np.testing.assert_array_equal(new[0], leaves[0] + np.float32(0.5))
    with pytest.raises(ValueError, match="2 updates arrays for 4 parameter arrays"):
        nf.apply_updates(leaves, updates[:2])
    with pytest.raises(ValueError, match=r"layer 0: updates for w have shape \(1, 1\)"):
        nf.apply_updates(leaves, [np.ones((1, 1))] * 4)


def test_values_beyond_float32_are_named_as_such_without_a_warning():
    spec = nf.mlp_spec([2, 1], loss="mse", dtype="float32")
    params = nf.init_params(spec, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="inputs hold values beyond what float32"):
            nf.forward(spec, params, np.full((1, 2), 1e39))
        with pytest.raises(ValueError, match="targets hold values beyond what float32"):
            nf.loss(spec, params, np.ones((1, 2)), [1e39])
        with pytest.raises(ValueError, match="inputs contain NaN or infinity"):
            nf.forward(spec, params, np.full((1, 2), np.inf))


CLASSIFIER3 = nf.mlp_spec([3, 4, 3])


def test_probability_rows_rounded_to_float32_train_a_float64_network():
    rows = np.random.default_rng(0).dirichlet(np.ones(3), 20).astype(np.float32)
    X = np.ones((20, 3))
    for dtype in ("float64", "float32"):
        spec = nf.mlp_spec([3, 4, 3], dtype=dtype)
        assert np.isfinite(nf.loss(spec, nf.init_params(spec, 0), X, rows))
        assert nf.check_grads(spec, nf.init_params(spec, 0), X, rows).ok
    off = np.random.default_rng(1).dirichlet(np.ones(3), 20)
    off[:, 0] += 3e-4  # within the tolerance, but the gradient must still be the loss's
    assert nf.check_grads(CLASSIFIER3, nf.init_params(CLASSIFIER3, 0), X, off).ok
    with pytest.raises(ValueError, match="row 0 sums to 0.8999999999999999"):
        nf.loss(CLASSIFIER3, nf.init_params(CLASSIFIER3, 0), X, np.full((20, 3), 0.3))
