"""The Model record: consistency checks and predictions on raw, unscaled rows."""

import warnings

import attrs
import numpy as np
import pytest

from nnfunc.datasets import load_dataset
from nnfunc.model import (
    InputRangeError,
    Model,
    predict,
    predict_codes,
    predict_proba,
    predict_values,
    predict_with_proba,
)
from nnfunc.network import forward
from nnfunc.params import Dense, Params
from nnfunc.pipeline import RECIPES, train_model
from nnfunc.preprocessing import LabelEncoder, StandardScaler, scale, unscale
from nnfunc.spec import mlp_spec
from nnfunc.training import History


@pytest.fixture(scope="module")
def iris():
    return train_model(load_dataset("iris"), RECIPES["iris"])


@pytest.fixture(scope="module")
def arithmetic():
    return train_model(load_dataset("arithmetic"), attrs.evolve(RECIPES["arithmetic"], epochs=20))


def test_classifier_predicts_labels_from_raw_rows(iris):
    data = load_dataset("iris")
    labels = predict(iris, data.X)
    assert set(labels) <= {"setosa", "versicolor", "virginica"}
    assert np.mean(labels == data.y) > 0.9
    p = predict_proba(iris, data.X)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_array_equal(np.asarray(iris.classes)[p.argmax(axis=1)], labels)
    manual = forward(iris.spec, iris.params, scale(iris.feature_scaler, data.X))
    np.testing.assert_array_equal(p, manual)
    assert predict(iris, data.X[0]).shape == (1,)


def test_regressor_answers_in_original_units(arithmetic):
    X = np.array([[10.0, 20.0], [90.0, 5.0]])
    values = predict_values(arithmetic, X)
    assert values.shape == (2, 3)
    net = forward(arithmetic.spec, arithmetic.params, scale(arithmetic.feature_scaler, X))
    np.testing.assert_array_equal(values, unscale(arithmetic.target_scaler, net))
    np.testing.assert_allclose(values[:, 0], X.sum(axis=1), rtol=0.2)
    with pytest.raises(ValueError, match="needs a classifier"):
        predict_proba(arithmetic, X)


def test_wrong_width_is_a_clear_error(iris):
    with pytest.raises(ValueError, match="rows of 4 feature"):
        predict(iris, np.ones((2, 3)))
    with pytest.raises(ValueError, match="needs a regressor"):
        predict_values(iris, np.ones((1, 4)))


def test_inconsistent_models_are_refused(iris):
    with pytest.raises(ValueError, match="feature names"):
        attrs.evolve(iris, feature_names=("a", "b"))
    with pytest.raises(ValueError, match="class labels"):
        attrs.evolve(iris, labels=None)
    with pytest.raises(ValueError, match="task"):
        attrs.evolve(iris, task="cluster")


def test_the_task_must_match_the_loss_and_the_history(iris, arithmetic):
    with pytest.raises(ValueError, match="a regressor needs the mse loss"):
        attrs.evolve(iris, task="regress", labels=None, target_names=("a", "b", "c"), history=None)
    with pytest.raises(ValueError, match="history.metric_name must be 'r2' for task 'regress'"):
        attrs.evolve(arithmetic, history=History("accuracy"))
    with pytest.raises(ValueError, match="must be 'accuracy' for task 'classify', got 'zzz'"):
        attrs.evolve(iris, history=History("zzz"))


def test_a_sigmoid_classifier_needs_exactly_two_classes():
    xor = train_model(load_dataset("xor"), RECIPES["xor"])
    with pytest.raises(ValueError, match="3 class labels do not fit 1 output"):
        attrs.evolve(xor, labels=LabelEncoder((0, 1, 2)))


def test_labels_with_probabilities_in_one_pass(iris):
    X = load_dataset("iris").X
    labels, p = predict_with_proba(iris, X)
    np.testing.assert_array_equal(labels, predict(iris, X))
    np.testing.assert_array_equal(p, predict_proba(iris, X))


def test_binary_sigmoid_classifier_gives_two_probability_columns():
    model = train_model(load_dataset("xor"), RECIPES["xor"])
    p = predict_proba(model, load_dataset("xor").X)
    assert p.shape == (4, 2)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_array_equal(predict_codes(model, load_dataset("xor").X), [0, 1, 1, 0])
    assert isinstance(model, Model)


def _linear_regressor(target_scale: float, dtype: str = "float64") -> Model:
    """y = x through one linear unit, with a target scaler of scale `target_scale`."""
    one = np.ones((1, 1), dtype)
    return Model(
        spec=mlp_spec((1, 1), dtype=dtype),
        params=Params((Dense(one, np.zeros(1, dtype)),)),
        task="regress",
        feature_names=("x",),
        target_names=("y",),
        target_scaler=StandardScaler(np.zeros(1), np.full(1, target_scale)),
    )


@pytest.fixture
def no_warnings():
    """Turn any warning (numpy's overflow RuntimeWarnings included) into a test failure."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def test_inputs_that_overflow_once_scaled_are_a_clear_error(iris, no_warnings):
    row = [[1.7e308, 3.0, 4.0, 1.0]]
    for fn in (predict, predict_proba, predict_codes):
        with pytest.raises(ValueError, match=r"inputs out of range: row 0, feature 'sepal_length'"):
            fn(iris, row)
    with pytest.raises(ValueError, match=r"row 1, feature 'petal_width' = -1.5e\+308 overflows"):
        predict(iris, np.array([[5.0, 3.0, 4.0, 1.0], [5.0, 3.0, 4.0, -1.5e308]]))
    # Large values that scale finitely and stay finite through the network are no error.
    assert predict(iris, [[1e100, 3.0, 4.0, -1e100]]).shape == (1,)


@pytest.mark.parametrize(
    ("value", "why"),
    [(np.nan, "is not a number"), (np.inf, "is infinite"), (-np.inf, "is infinite")],
)
def test_nan_and_infinite_features_are_refused_not_answered(iris, no_warnings, value, why):
    """A NaN row used to get a confident label ('setosa') and NaN probabilities."""
    for fn in (predict, predict_proba, predict_codes):
        with pytest.raises(InputRangeError, match=f"row 1, feature 'petal_length' = .* {why}"):
            fn(iris, [[5.0, 3.0, 4.0, 1.0], [5.0, 3.0, value, 1.0]])


def test_rows_that_overflow_inside_the_network_are_refused(iris, no_warnings):
    """Scaling 1e308 stays finite, but the first layer's products overflow: no NaN answer."""
    with pytest.raises(InputRangeError, match="row 0, the network overflows"):
        predict(iris, [[1e308, 3.0, 4.0, 1.0]])


def test_a_float32_model_refuses_float64_rows_it_cannot_hold(no_warnings):
    model = _linear_regressor(1.0, "float32")
    with pytest.raises(ValueError, match=r"feature 'x' = 1e\+39 overflows float32"):
        predict_values(model, np.array([[1e39]]))
    assert predict_values(model, np.array([[1e30]])).dtype == np.float32


def test_outputs_that_overflow_in_the_targets_units_are_a_clear_error(no_warnings):
    model = _linear_regressor(1e300)
    assert predict_values(model, [[2.0]])[0, 0] == 2e300
    with pytest.raises(ValueError, match=r"row 0, target 'y' overflows float64"):
        predict_values(model, [[1e10]])


def test_a_network_with_huge_weights_refuses_rows_without_numpy_warnings(iris, no_warnings):
    """Weights a hostile file may hold (finite, 1e200 times too large): the network overflows on
    an ordinary row, which is a clear InputRangeError, not an 'overflow encountered' warning."""
    huge = Params(tuple(Dense(layer.w * 1e200, layer.b) for layer in iris.params.layers))
    model = attrs.evolve(iris, params=huge)
    with pytest.raises(InputRangeError, match="row 0, the network overflows"):
        predict(model, [[5.1, 3.5, 1.4, 0.2]])
    assert predict(iris, [[5.1, 3.5, 1.4, 0.2]]).shape == (1,)  # the trained one: fast path


def test_an_output_activation_that_overflows_is_a_clear_error(no_warnings):
    # leaky_relu:1000 on the output of a network whose logits reach -1e306: it used to answer
    # -inf (a 500 from the server, whose JSON has no infinities) with an overflow warning
    one = np.ones((1, 1))
    model = Model(
        spec=mlp_spec((1, 1), output_activation="leaky_relu:1000", loss="mse"),
        params=Params((Dense(one * 1e300, np.zeros(1)),)),
        task="regress",
        feature_names=("x",),
        target_names=("y",),
    )
    assert predict_values(model, [[-1.0]])[0, 0] == -1e303
    with pytest.raises(InputRangeError, match=r"row 1, output 'y' overflows float64 in the output"):
        predict_values(model, [[1.0], [-1e6]])


def test_logits_further_apart_than_the_float_range_give_exact_probabilities(iris, no_warnings):
    last = iris.params.layers[-1]
    wide = Dense(last.w, np.array([1.5e308, -1.5e308, 0.0]))
    model = attrs.evolve(iris, params=Params((*iris.params.layers[:-1], wide)))
    np.testing.assert_array_equal(predict_proba(model, [[5.1, 3.5, 1.4, 0.2]]), [[1.0, 0.0, 0.0]])


def test_a_models_config_metrics_and_provenance_are_read_only(iris):
    # a model's metrics could be rewritten in place and saved (test accuracy 1.0, say)
    for change in (
        lambda: iris.metrics["test"].__setitem__("accuracy", 1.0),
        lambda: iris.config.update(epochs=99999),
        lambda: iris.provenance.pop("dataset"),
        lambda: iris.metrics["test"]["confusion_matrix"][0].append(1),
    ):
        with pytest.raises(TypeError, match="read-only"):
            change()
    changed = attrs.evolve(iris, config={**iris.config, "epochs": 1})  # the way to change one
    assert changed.config["epochs"] == 1 and iris.config["epochs"] == 300


def _one_unit_classifier(hidden: str, w0, b1: float, dtype: str = "float64") -> Model:
    """x -> one hidden unit `hidden` -> a sigmoid unit, with first-layer weights `w0`."""
    n = len(w0)
    return Model(
        spec=mlp_spec((n, 1, 1), activation=hidden, loss="binary_cross_entropy", dtype=dtype),
        params=Params(
            (
                Dense(np.array(w0, dtype).reshape(n, 1), np.zeros(1, dtype)),
                Dense(np.ones((1, 1), dtype), np.full(1, b1, dtype)),
            )
        ),
        task="classify",
        feature_names=tuple(f"x{i}" for i in range(n)),
        target_names=("label",),
        labels=LabelEncoder(("neg", "pos")),
    )


def test_a_bounded_activation_does_not_hide_an_overflow_inside_the_network(no_warnings):
    # 1e10 * 1e300 - 1e10 * 2e300 is negative, but the float sum overflows to inf, and the step
    # turned inf into a confident 'pos'; now the hidden layer's overflow is seen and refused
    model = _one_unit_classifier("binary_step", [1e300, -2e300], -0.5)
    assert predict(model, [[1.0, 0.0]])[0] == "pos"
    with pytest.raises(InputRangeError, match="row 0, the network overflows"):
        predict(model, [[1e10, 1e10]])


def test_a_float32_overflow_before_tanh_is_refused_without_warnings(no_warnings):
    model = _one_unit_classifier("tanh", [1e30], 0.0, dtype="float32")
    with np.errstate(all="raise"):  # the caller's own error state must not matter either
        with pytest.raises(InputRangeError, match="row 0, the network overflows"):
            predict(model, [[1e9]])
        assert predict(model, [[1e-31]]).shape == (1,)


def test_wide_networks_answer_many_rows_in_chunks(iris, monkeypatch, no_warnings):
    rows = np.tile([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]], (50, 1))
    whole = predict_proba(iris, rows)
    monkeypatch.setattr("nnfunc.model.CHUNK_VALUES", 7)  # one row at a time through 6 units
    np.testing.assert_array_equal(predict_proba(iris, rows), whole)
    rows[73, 0] = 1e308  # scales finitely, overflows in the network: named by its own row
    with pytest.raises(InputRangeError, match="row 73, the network overflows"):
        predict(iris, rows)
